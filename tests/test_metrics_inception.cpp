// FID Inception: synthetic weights against inception_fid_tensors.json, TF1 resize against
// tf_resize.json, features against inception_synthetic_seed0.npz (1e-4, both modes), weight loaders.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "metrics/detector.h"
#include "metrics/inception.h"
#include "metrics/named_weights.h"
#include "metrics/preprocess.h"
#include "metrics/selftest_inception.h"
#include "test_util.h"

namespace cmbench {
namespace {

FidInception& synthetic_net() {
  static FidInception net = load_native_inception("synthetic:0");
  return net;
}

double relative_error(const torch::Tensor& got, const torch::Tensor& want) {
  const auto w = want.to(torch::kFloat64);
  return (got.to(torch::kFloat64) - w).abs().max().item<double>() / w.abs().max().item<double>();
}

TEST(Inception, SyntheticWeightsMatchTensorList) {
  const auto doc = nlohmann::json::parse(test::read_text(test::vector_path("inception_fid_tensors.json")));
  const auto& tensors = doc.at("tensors");
  ASSERT_EQ(tensors.size(), 472u);
  std::map<std::string, torch::Tensor> state;
  for (auto& [name, value] : synthetic_net()->state_tensors()) state[name] = value;
  ASSERT_EQ(state.size(), 472u);
  for (const auto& t : tensors) {
    const std::string name = t.at("name");
    ASSERT_TRUE(state.count(name)) << name;
    const auto& value = state.at(name);
    EXPECT_EQ(value.sizes().vec(), t.at("shape").get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(synthetic_rule(name), t.at("rule").get<std::string>()) << name;
    const auto flat = value.flatten();
    const auto first3 = t.at("seed0_first3").get<std::vector<double>>();
    for (size_t i = 0; i < first3.size(); ++i) {
      EXPECT_EQ(flat[static_cast<int64_t>(i)].item<float>(), static_cast<float>(first3[i])) << name << "[" << i << "]";
    }
    const double sum = flat.to(torch::kFloat64).sum().item<double>();
    const double want = t.at("seed0_sum").get<double>();
    EXPECT_NEAR(sum, want, 1e-6 * std::max(1.0, std::abs(want))) << name;
  }
}

TEST(Inception, SyntheticSeedChangesWeights) {
  EXPECT_NE(synthetic_hash("fc.bias", 0, 0), synthetic_hash("fc.bias", 1, 0));
  EXPECT_NE(synthetic_hash("fc.bias", 0, 0), synthetic_hash("fc.bias", 0, 1));
  EXPECT_THROW(load_native_inception("synthetic:x"), InputError);
  EXPECT_THROW(load_native_inception("synthetic:4294967296"), InputError);
}

TEST(Preprocess, TfLegacyResizeMatchesVectors) {
  const auto doc = nlohmann::json::parse(test::read_text(test::vector_path("tf_resize.json")));
  const auto small = doc.at("small_input").get<std::vector<std::vector<double>>>();
  auto input = torch::empty({1, 1, 3, 4}, torch::kFloat32);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) input[0][0][y][x] = static_cast<float>(small[y][x]);
  const auto out = tf_legacy_resize(input, 7, 7);
  const auto want = doc.at("small_3x4_to_7x7_tf").get<std::vector<std::vector<double>>>();
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 7; ++x) EXPECT_NEAR(out[0][0][y][x].item<float>(), want[y][x], 3e-5) << y << "," << x;

  const auto ramp = doc.at("ramp32_input_row").get<std::vector<double>>();
  auto ramp_input = torch::tensor(ramp, torch::kFloat64).to(torch::kFloat32).view({1, 1, 1, 32}).expand({1, 1, 32, 32}).contiguous();
  const auto ramp_out = tf_legacy_resize(ramp_input, 299, 299);
  const auto ramp_want = doc.at("ramp32_to_299_tf_row0").get<std::vector<double>>();
  ASSERT_EQ(ramp_want.size(), 299u);
  for (int x = 0; x < 299; ++x) EXPECT_NEAR(ramp_out[0][0][0][x].item<float>(), ramp_want[x], 3e-5) << x;
}

TEST(Preprocess, ModesAndQuantization) {
  // A 299x299 input is not resized: tf mode is (x - 128) / 128, pytorch mode 2 x / 255 - 1.
  auto img = torch::full({1, 299, 299, 3}, 255, torch::kUInt8);
  EXPECT_FLOAT_EQ(preprocess_for_inception(img, ResizeMode::tf).max().item<float>(), 127.0f / 128.0f);
  EXPECT_FLOAT_EQ(preprocess_for_inception(img, ResizeMode::pytorch).max().item<float>(), 1.0f);
  // Grayscale repeats to three channels.
  auto gray = torch::randint(0, 256, {2, 17, 23, 1}, torch::kUInt8);
  const auto g = preprocess_for_inception(gray, ResizeMode::tf);
  EXPECT_EQ(g.sizes().vec(), (std::vector<int64_t>{2, 3, 299, 299}));
  EXPECT_TRUE(torch::equal(g.select(1, 0), g.select(1, 2)));
  EXPECT_THROW(preprocess_for_inception(torch::zeros({1, 8, 8, 2}, torch::kUInt8), ResizeMode::tf), InputError);
  EXPECT_THROW(preprocess_for_inception(torch::zeros({1, 8, 8, 3}, torch::kFloat32), ResizeMode::tf), InputError);
}

// Every array of the shipped file: 32x32 (8 images), 64x64 (2), 17x23 (1), tf and pytorch modes.
TEST(Inception, FeaturesMatchSyntheticSeed0Vectors) {
  const auto arrays = read_npz(test::vector_path("inception_synthetic_seed0.npz"));
  auto& net = synthetic_net();
  torch::NoGradGuard no_grad;
  int checked = 0;
  for (const std::string size : {"32", "64", "17x23"}) {
    const auto images = to_tensor(arrays.at("images_" + size));
    for (const std::string mode : {"tf", "pytorch"}) {
      const auto out = net->forward(preprocess_for_inception(images, parse_resize_mode(mode)), true);
      const auto pool = to_tensor(arrays.at("pool3_" + mode + "_" + size));
      const auto logits = to_tensor(arrays.at("logits_unbiased_" + mode + "_" + size));
      EXPECT_LE(relative_error(out.pool3, pool), 1e-4) << mode << " " << size;
      EXPECT_LE(relative_error(out.logits_unbiased, logits), 1e-4) << mode << " " << size;
      checked += 2;
    }
  }
  EXPECT_EQ(checked, 12);
}

TEST(Inception, SelftestOnShippedVectors) {
  const auto entries = run_inception_selftest(test::vector_path("inception_synthetic_seed0.npz"));
  EXPECT_EQ(entries.size(), 12u);
  for (const auto& e : entries) EXPECT_LE(e.error, kInceptionSelftestTolerance) << e.name;
}

TEST(Inception, BatchCompositionDoesNotChangeFeatures) {
  const auto images = torch::randint(0, 256, {3, 32, 32, 3}, torch::kUInt8);
  auto& net = synthetic_net();
  torch::NoGradGuard no_grad;
  const auto all = net->forward(preprocess_for_inception(images, ResizeMode::tf), false).pool3;
  const auto one = net->forward(preprocess_for_inception(images.slice(0, 1, 2), ResizeMode::tf), false).pool3;
  EXPECT_LE(relative_error(one, all.slice(0, 1, 2)), 1e-5);
  EXPECT_FALSE(net->forward(preprocess_for_inception(images, ResizeMode::tf), false).logits_unbiased.defined());
}

// Writes synthetic:3 as an npz under pytorch-fid's names (plus the num_batches_tracked and AuxLogits
// entries a real state dict carries, which the loader ignores).
std::string write_weights_npz(const test::TempDir& dir, const std::string& name,
                              const std::function<void(NpzMap&)>& edit = nullptr) {
  auto net = load_native_inception("synthetic:3");
  NpzMap arrays;
  for (auto& [key, value] : net->state_tensors()) arrays[key] = from_tensor(value.contiguous());
  const int64_t tracked = 0;
  arrays["Conv2d_1a_3x3.bn.num_batches_tracked"] = NpyArray::from<int64_t>({}, &tracked);
  if (edit) edit(arrays);
  const auto path = dir.file(name);
  write_npz(path, arrays);
  return path;
}

TEST(InceptionWeights, NpzRoundTripGivesIdenticalFeatures) {
  test::TempDir dir;
  const auto path = write_weights_npz(dir, "fid_inception.npz");
  auto from_file = make_detector(DetectorOptions().weights(path));
  auto synthetic = make_detector(DetectorOptions().weights("synthetic:3"));
  const auto images = torch::randint(0, 256, {2, 32, 32, 3}, torch::kUInt8);
  const auto a = from_file->run(images, true);
  const auto b = synthetic->run(images, true);
  EXPECT_TRUE(torch::equal(a.pool3, b.pool3));
  EXPECT_TRUE(torch::equal(a.logits_unbiased, b.logits_unbiased));
  EXPECT_EQ(from_file->describe().at("detector"), "native");
  EXPECT_EQ(from_file->describe().at("weights_sha256").get<std::string>().size(), 64u);
}

TEST(InceptionWeights, BadFilesGiveClearErrors) {
  test::TempDir dir;
  const auto missing = write_weights_npz(dir, "missing.npz", [](NpzMap& a) { a.erase("Mixed_6b.branch7x7_2.conv.weight"); });
  try {
    load_native_inception(missing);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("Mixed_6b.branch7x7_2.conv.weight"), std::string::npos) << e.what();
  }
  const auto wrong_shape = write_weights_npz(dir, "shape.npz", [](NpzMap& a) {
    a["fc.weight"] = NpyArray(DType::f32, {1000, 2048});
  });
  try {
    load_native_inception(wrong_shape);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fc.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1008, 2048"), std::string::npos) << e.what();
  }
  const auto extra = write_weights_npz(dir, "extra.npz", [](NpzMap& a) { a["head.weight"] = NpyArray(DType::f32, {2}); });
  EXPECT_THROW(load_native_inception(extra), InputError);
  EXPECT_THROW(load_native_inception(dir.file("absent.npz")), InputError);
  EXPECT_THROW(make_detector(DetectorOptions().weights(dir.file("absent.pt"))), InputError);
}

TEST(InceptionWeights, MissingWeightsSayWhereToGetThem) {
  const char* saved = std::getenv("CMBENCH_INCEPTION");
  const std::string saved_value = saved ? saved : "";
  ::unsetenv("CMBENCH_INCEPTION");
  try {
    make_detector(DetectorOptions());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("inception-2015-12-05.pt"), std::string::npos) << e.what();
  }
  if (saved) ::setenv("CMBENCH_INCEPTION", saved_value.c_str(), 1);
}

// A TorchScript module with the detector's calling convention (forward(img, return_features=...),
// an `output` layer of 1008 x 2048): features are the per-channel means of the uint8 input tiled
// to 2048, so the expected values are known exactly.
std::string write_fake_torchscript_detector(const test::TempDir& dir) {
  torch::jit::Module output("output");
  output.register_parameter("weight", torch::linspace(-1, 1, 1008 * 2048, torch::kFloat32).view({1008, 2048}), false);
  torch::jit::Module detector("FakeInceptionDetector");
  detector.register_module("output", output);
  detector.define(R"(
    def forward(self, img, return_features: bool = False, use_fp16: bool = False, no_output_bias: bool = False):
        x = img.float().mean(dim=[2, 3])
        features = x.repeat([1, 683])[:, :2048]
        if return_features:
            return features
        return torch.softmax(torch.matmul(features, self.output.weight.t()), dim=1)
  )");
  const auto path = dir.file("inception-fake.pt");
  detector.save(path);
  return path;
}

TEST(InceptionWeights, TorchScriptDetector) {
  test::TempDir dir;
  const auto path = write_fake_torchscript_detector(dir);
  auto detector = make_detector(DetectorOptions().weights(path));  // .pt picks torchscript
  EXPECT_EQ(detector->describe().at("detector"), "torchscript");
  auto images = torch::randint(0, 256, {2, 9, 7, 3}, torch::kUInt8);
  const auto out = detector->run(images, true);
  const auto means = images.to(torch::kFloat32).mean({1, 2});
  const auto want = means.repeat({1, 683}).slice(1, 0, 2048);
  EXPECT_TRUE(torch::allclose(out.pool3, want));
  const auto weight = torch::linspace(-1, 1, 1008 * 2048, torch::kFloat32).view({1008, 2048});
  EXPECT_TRUE(torch::allclose(out.logits_unbiased, torch::matmul(want, weight.t()), 1e-5, 1e-3));
  EXPECT_THROW(make_detector(DetectorOptions().weights(path).mode("tf")), InputError);
  EXPECT_THROW(make_detector(DetectorOptions().weights(path).detector("native")), InputError);
}

// The synthetic:SEED spec of the Inception and DINOv2 weights: a seed in [0, 2^32 - 1], else one line
// starting with the caller's label.
TEST(InceptionWeights, SyntheticSeedSpecIsChecked) {
  uint32_t seed = 0;
  EXPECT_TRUE(parse_synthetic_seed("synthetic:4294967295", "w", seed));
  EXPECT_EQ(seed, 4294967295u);
  EXPECT_FALSE(parse_synthetic_seed("weights.npz", "w", seed));
  for (const char* bad : {"synthetic:", "synthetic:-1", "synthetic:1x", "synthetic:12345678901"}) {
    const auto message = test::input_error_message([&] { parse_synthetic_seed(bad, "--weights here", seed); });
    EXPECT_EQ(message.rfind("--weights here: the seed must be an integer", 0), 0u) << bad << ": " << message;
  }
  EXPECT_EQ(test::input_error_message([&] { parse_synthetic_seed("synthetic:4294967296", "w", seed); }),
            "w: the seed must be below 2^32");
}

}  // namespace
}  // namespace cmbench
