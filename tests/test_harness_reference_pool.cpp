// The reference pool a method asks for (SCT's, reference_pool_size) is drawn as the loader draws a
// batch: with data.flip, each pool image is mirrored left-right with probability 1/2 (issue 15: the
// pool was never flipped, so SCT's posterior saw a different distribution than its batch).
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "core/config.h"
#include "core/npy.h"
#include "harness/train_plan.h"
#include "harness/trainer.h"
#include "methods/consistency.h"
#include "methods/options.h"
#include "methods/registry.h"
#include "test_util.h"

using namespace cmbench;

namespace {

std::atomic<int64_t> g_pool_images{0}, g_pool_mirrored{0}, g_batch_mirrored{0}, g_batch_images{0};

// Counts the images whose bright half is on the left (every stored image has it on the right).
int64_t count_mirrored(const torch::Tensor& images) {
  const int64_t w = images.size(3);
  const auto left = images.narrow(3, 0, w / 2).mean({1, 2, 3});
  const auto right = images.narrow(3, w / 2, w / 2).mean({1, 2, 3});
  return (left > right).sum().item<int64_t>();
}

// A denoising loss that looks at the pool it was given.
class PoolProbeMethod : public Method {
 public:
  explicit PoolProbeMethod(const Config& table) {
    OptionReader o(table);
    resolved_ = o.finish();
  }
  std::string name() const override { return "pool_probe"; }
  std::string default_sampler() const override { return "cm"; }
  int64_t reference_pool_size(int64_t /*batch*/) const override { return 64; }
  TensorMap draw(const TrainingBatch& batch, const StepContext& ctx) const override {
    return draw_level_and_noise(batch.images, batch.labels, "t", -1.1, 2.0, 0.0, ctx.generator);
  }
  LossResult loss(const TrainingBatch& batch, const TensorMap& draws, const StepContext& /*ctx*/,
                  const Networks& nets) const override {
    g_pool_images += batch.reference_images.size(0);
    g_pool_mirrored += count_mirrored(batch.reference_images);
    g_batch_images += batch.images.size(0);
    g_batch_mirrored += count_mirrored(batch.images);
    const auto& t = draws.at("t");
    const auto x_t = batch.images + per_image(t, batch.images) * draws.at("eps");
    LossResult result;
    result.per_sample = mean_squared_distance(nets.student->forward(x_t, t, batch.labels), batch.images);
    return result;
  }
};

void register_once() {
  static const bool registered = [] {
    register_method("pool_probe", [](const Config& t) { return std::make_unique<PoolProbeMethod>(t); },
                    "counts mirrored pool images (defined in a test)");
    return true;
  }();
  (void)registered;
}

// 32 images 16x16: dark left half, bright right half.
std::string write_half_bright_images(test::TempDir& dir) {
  const int64_t n = 32, h = 16, w = 16, c = 3;
  std::vector<uint8_t> pixels(static_cast<size_t>(n * h * w * c));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t k = 0; k < c; ++k)
          pixels[static_cast<size_t>(((i * h + y) * w + x) * c + k)] = x < w / 2 ? 10 : static_cast<uint8_t>(200 + i);
  const auto path = dir.file("half.npz");
  write_npz(path, {{"images", NpyArray::from<uint8_t>({n, h, w, c}, pixels.data())}});
  return path;
}

void train_probe(const std::string& images, bool flip, const std::string& out) {
  register_once();
  g_pool_images = g_pool_mirrored = g_batch_images = g_batch_mirrored = 0;
  const auto text = "seed = 3\ndevice = \"cpu\"\n[method]\nname = \"pool_probe\"\n[data]\nsource = \"" + images +
                    "\"\nflip = " + (flip ? "true" : "false") +
                    "\n[net]\npreset = \"cifar10-ddpmpp-tiny\"\nimg_resolution = 16\n"
                    "[train]\nsteps = 4\nbatch = 8\nlr = 1e-4\ncheckpoint_every = 4\n";
  TrainRequest request;
  request.plan = read_train_plan(Config::from_string(text, "<test>"));
  request.out = out;
  request.progress = false;
  train(std::move(request));
}

}  // namespace

TEST(ReferencePool, FlipsAsTheBatchDoes) {
  test::TempDir dir;
  const auto images = write_half_bright_images(dir);
  train_probe(images, true, dir.file("flip"));
  ASSERT_EQ(g_pool_images.load(), 4 * 64);
  // Each of 256 pool images mirrored with probability 1/2: far from 0 and from all of them.
  EXPECT_GT(g_pool_mirrored.load(), 64) << "pool images are never mirrored";
  EXPECT_LT(g_pool_mirrored.load(), 192);
  EXPECT_GT(g_batch_mirrored.load(), 0);  // the batch itself flips, as it always did

  train_probe(images, false, dir.file("plain"));
  EXPECT_EQ(g_pool_mirrored.load(), 0);
  EXPECT_EQ(g_batch_mirrored.load(), 0);
}
