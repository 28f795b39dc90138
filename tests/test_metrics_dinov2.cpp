// DINOv2 ViT-L/14 (metrics/dinov2.h): features against tests/data/dinov2/dinov2_synthetic_seed0.npz,
// made by the official facebookresearch/dinov2 model and EDM2's detector preprocessing on synthetic:0
// weights (depth 2 and the full 24 blocks; 1e-4 relative to the largest feature), the position
// embedding interpolation for a 16 x 16 and a 16 x 12 grid against the same file, the synthetic-weight
// rule, preprocessing, and the .npz loader's errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "metrics/dinov2.h"
#include "metrics/inception.h"
#include "test_util.h"

namespace cmbench {
namespace {

constexpr double kTolerance = 1e-4;

const NpzMap& vectors() {
  static const NpzMap arrays = read_npz(test::source_path("tests/data/dinov2/dinov2_synthetic_seed0.npz"));
  return arrays;
}

torch::Tensor vector(const std::string& name) {
  const auto& arrays = vectors();
  const auto it = arrays.find(name);
  if (it == arrays.end()) throw std::runtime_error("dinov2 vectors lack " + name);
  return to_tensor(it->second);
}

Dinov2& depth2_net() {
  static Dinov2 net = load_dinov2("synthetic:0", 2);
  return net;
}

struct Difference {
  double max_abs = 0, relative = 0;
};

// Largest absolute difference, and that divided by the largest |want| (as the Inception tests).
Difference difference(const torch::Tensor& got, const torch::Tensor& want) {
  const auto w = want.to(torch::kFloat64);
  Difference d;
  d.max_abs = (got.to(torch::kFloat64) - w).abs().max().item<double>();
  d.relative = d.max_abs / w.abs().max().item<double>();
  return d;
}

// Within kTolerance of the largest |want|; with several rows also the rows' deviations from their
// mean (the image-dependent part, smaller than the shared offset the final norm's bias adds), to the
// same tolerance relative to the largest deviation.
void expect_close(const torch::Tensor& got, const torch::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const auto d = difference(got, want);
  std::printf("  %-28s max abs %.3g, relative %.3g", what.c_str(), d.max_abs, d.relative);
  EXPECT_LE(d.relative, kTolerance) << what << " (max abs " << d.max_abs << ")";
  if (want.dim() == 2 && want.size(0) > 1) {
    const auto g = got.to(torch::kFloat64), w = want.to(torch::kFloat64);
    const auto c = difference(g - g.mean(0, true), w - w.mean(0, true));
    std::printf("; centered relative %.3g", c.relative);
    EXPECT_LE(c.relative, kTolerance) << what << " centered";
  }
  std::printf("\n");
}

// EDM2's normalization without the resize, for inputs already at the size under test.
torch::Tensor normalize_only(const torch::Tensor& images_nhwc) {
  auto x = images_nhwc.permute({0, 3, 1, 2}).contiguous().to(torch::kFloat32) / 255;
  x = x - torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
  return x / torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
}

TEST(Dinov2, StateDictNamesAndShapes) {
  Dinov2 net(Dinov2Options().depth(2));
  std::map<std::string, std::vector<int64_t>> shapes;
  for (auto& [name, value] : net->state_tensors()) shapes[name] = value.sizes().vec();
  EXPECT_EQ(shapes.size(), 3u + 2u + 2u * 14u + 2u);  // 343 at depth 24 (FeaturesMatchOfficialFullDepth)
  EXPECT_EQ(shapes.at("cls_token"), (std::vector<int64_t>{1, 1, 1024}));
  EXPECT_EQ(shapes.at("pos_embed"), (std::vector<int64_t>{1, 1370, 1024}));
  EXPECT_EQ(shapes.at("mask_token"), (std::vector<int64_t>{1, 1024}));
  EXPECT_EQ(shapes.at("patch_embed.proj.weight"), (std::vector<int64_t>{1024, 3, 14, 14}));
  EXPECT_EQ(shapes.at("blocks.1.attn.qkv.weight"), (std::vector<int64_t>{3072, 1024}));
  EXPECT_EQ(shapes.at("blocks.1.mlp.fc1.weight"), (std::vector<int64_t>{4096, 1024}));
  EXPECT_EQ(shapes.at("blocks.1.mlp.fc2.weight"), (std::vector<int64_t>{1024, 4096}));
  EXPECT_EQ(shapes.at("blocks.0.ls1.gamma"), (std::vector<int64_t>{1024}));
  EXPECT_EQ(shapes.at("norm.bias"), (std::vector<int64_t>{1024}));
  EXPECT_EQ(shapes.count("blocks.2.norm1.weight"), 0u);
}

TEST(Dinov2, SyntheticRuleAndValues) {
  EXPECT_EQ(dinov2_synthetic_rule("cls_token"), "token");
  EXPECT_EQ(dinov2_synthetic_rule("pos_embed"), "token");
  EXPECT_EQ(dinov2_synthetic_rule("mask_token"), "token");
  EXPECT_EQ(dinov2_synthetic_rule("patch_embed.proj.weight"), "weight");
  EXPECT_EQ(dinov2_synthetic_rule("blocks.3.attn.qkv.weight"), "weight");
  EXPECT_EQ(dinov2_synthetic_rule("blocks.3.norm1.weight"), "norm_weight");
  EXPECT_EQ(dinov2_synthetic_rule("blocks.3.norm2.weight"), "norm_weight");
  EXPECT_EQ(dinov2_synthetic_rule("norm.weight"), "norm_weight");
  EXPECT_EQ(dinov2_synthetic_rule("blocks.3.mlp.fc2.bias"), "bias");
  EXPECT_EQ(dinov2_synthetic_rule("blocks.3.ls2.gamma"), "gamma");
  EXPECT_THROW(dinov2_synthetic_rule("head.scale"), InputError);

  auto& net = depth2_net();
  std::map<std::string, torch::Tensor> state;
  for (auto& [name, value] : net->state_tensors()) state[name] = value.flatten();
  auto u = [](const std::string& name, uint32_t i) { return synthetic_hash(name, 0, i) / 4294967296.0; };
  EXPECT_EQ(state["cls_token"][5].item<float>(), static_cast<float>(2 * u("cls_token", 5) - 1));
  EXPECT_EQ(state["patch_embed.proj.weight"][7].item<float>(),
            static_cast<float>((2 * u("patch_embed.proj.weight", 7) - 1) * std::sqrt(3.0 / 588.0)));
  EXPECT_EQ(state["blocks.1.norm2.weight"][3].item<float>(), static_cast<float>(0.8 + 0.4 * u("blocks.1.norm2.weight", 3)));
  EXPECT_EQ(state["blocks.1.attn.qkv.bias"][9].item<float>(),
            static_cast<float>(0.1 * (2 * u("blocks.1.attn.qkv.bias", 9) - 1)));
  EXPECT_EQ(state["blocks.0.ls1.gamma"][0].item<float>(), static_cast<float>(0.05 + 0.1 * u("blocks.0.ls1.gamma", 0)));
  EXPECT_EQ(state["pos_embed"].numel(), 1370 * 1024);
  const auto qkv_bias = state["blocks.1.attn.qkv.bias"];
  int mismatches = 0;
  for (int64_t i = 0; i < qkv_bias.numel(); ++i) {
    mismatches += qkv_bias[i].item<float>() != static_cast<float>(0.1 * (2 * u("blocks.1.attn.qkv.bias", i) - 1));
  }
  EXPECT_EQ(mismatches, 0);
  // The shipped vectors carry the official table's first 16 channels.
  expect_close(net->pos_embed[0].slice(1, 0, 16), vector("pos_embed_37x37_first16"), "pos_embed 37x37");
}

TEST(Dinov2, SyntheticWeightsAreDeterministic) {
  auto a = load_dinov2("synthetic:5", 1);
  auto b = load_dinov2("synthetic:5", 1);
  auto c = load_dinov2("synthetic:6", 1);
  auto sa = a->state_tensors(), sb = b->state_tensors(), sc = c->state_tensors();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
    EXPECT_FALSE(torch::equal(sa[i].second, sc[i].second)) << sa[i].first;
  }
  // A tensor's values depend on its name and the seed only, not on the depth.
  std::map<std::string, torch::Tensor> deep;
  for (auto& [name, value] : depth2_net()->state_tensors()) deep[name] = value;
  auto shallow = load_dinov2("synthetic:0", 1);
  for (auto& [name, value] : shallow->state_tensors()) EXPECT_TRUE(torch::equal(value, deep.at(name))) << name;
  EXPECT_THROW(load_dinov2("synthetic:x", 1), InputError);
  EXPECT_THROW(load_dinov2("synthetic:4294967296", 1), InputError);
  EXPECT_THROW(load_dinov2("synthetic:", 1), InputError);
}

TEST(Dinov2, PositionEmbeddingInterpolation) {
  auto& net = depth2_net();
  torch::NoGradGuard no_grad;
  // Native 518 x 518: the stored table itself.
  const auto native = net->interpolate_pos_encoding(518, 518);
  EXPECT_TRUE(torch::equal(native, net->pos_embed));
  // EDM2's 224 x 224: a 16 x 16 grid, bicubic from 37 x 37 with the +0.1 scale offset.
  const auto p224 = net->interpolate_pos_encoding(224, 224);
  ASSERT_EQ(p224.sizes().vec(), (std::vector<int64_t>{1, 257, 1024}));
  EXPECT_TRUE(torch::equal(p224[0][0], net->pos_embed[0][0]));  // the class entry is kept
  expect_close(p224[0].slice(1, 0, 16), vector("pos_embed_16x16_first16"), "pos_embed 16x16");
  const auto p168 = net->interpolate_pos_encoding(224, 168);
  ASSERT_EQ(p168.sizes().vec(), (std::vector<int64_t>{1, 193, 1024}));
  expect_close(p168[0].slice(1, 0, 16), vector("pos_embed_16x12_first16"), "pos_embed 16x12");
  // Interpolating by size alone (no offset) gives different values: the offset matters.
  const auto patches = net->pos_embed.slice(1, 1).reshape({1, 37, 37, 1024}).permute({0, 3, 1, 2});
  const auto by_size = torch::nn::functional::interpolate(
      patches, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{16, 16}).mode(torch::kBicubic).align_corners(false));
  const auto by_size_tokens = by_size.permute({0, 2, 3, 1}).reshape({1, 256, 1024});
  EXPECT_GT((by_size_tokens - p224.slice(1, 1)).abs().max().item<double>(), 1e-3);
}

TEST(Dinov2, FeaturesMatchOfficialDepth2) {
  auto& net = depth2_net();
  int checked = 0;
  for (const std::string size : {"32", "64", "17x23", "256"}) {
    const auto images = vector("images_" + size);
    const auto got = dinov2_features(net, images);
    ASSERT_EQ(got.sizes().vec(), (std::vector<int64_t>{images.size(0), 1024}));
    expect_close(got, vector("features_d2_" + size), "depth 2, " + size);
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

// The vectors tell EDM2's antialiased bicubic resize from the plain one (A = -0.75, no antialias).
TEST(Dinov2, VectorsDetectAResizeWithoutAntialias) {
  auto& net = depth2_net();
  torch::NoGradGuard no_grad;
  const auto images = vector("images_32");
  auto x = images.permute({0, 3, 1, 2}).to(torch::kFloat32).contiguous();
  x = torch::nn::functional::interpolate(x, torch::nn::functional::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{224, 224})
                                                .mode(torch::kBicubic)
                                                .align_corners(false));
  x = x / 255;
  x = (x - torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1})) / torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
  const auto d = difference(net->forward(x), vector("features_d2_32"));
  std::printf("  plain bicubic resize: relative %.3g\n", d.relative);
  EXPECT_GT(d.relative, 10 * kTolerance);
}

TEST(Dinov2, DirectForwardMatchesOfficialDepth2) {
  auto& net = depth2_net();
  torch::NoGradGuard no_grad;
  for (const std::string size : {"518", "224x168"}) {
    const auto got = net->forward(normalize_only(vector("images_" + size)));
    expect_close(got, vector("features_d2_direct_" + size), "depth 2 direct, " + size);
  }
}

TEST(Dinov2, FeaturesMatchOfficialFullDepth) {
  auto net = load_dinov2("synthetic:0");  // 24 blocks, about 1.2 GB
  EXPECT_EQ(net->blocks->size(), 24u);
  EXPECT_EQ(net->state_tensors().size(), 343u);  // the official dinov2_vitl14 state dict
  expect_close(dinov2_features(net, vector("images_d24")), vector("features_d24_32"), "depth 24, 32");
  expect_close(dinov2_features(net, vector("images_64").slice(0, 0, 1)), vector("features_d24_64"), "depth 24, 64");
}

TEST(Dinov2, PreprocessingShapesAndErrors) {
  const auto images = torch::randint(0, 256, {2, 40, 30, 3}, torch::kUInt8);
  const auto x = preprocess_for_dinov2(images);
  EXPECT_EQ(x.sizes().vec(), (std::vector<int64_t>{2, 3, 224, 224}));
  EXPECT_EQ(x.scalar_type(), torch::kFloat32);
  // At 224 x 224 the antialiased bicubic resize is the identity.
  const auto native = torch::randint(0, 256, {1, 224, 224, 3}, torch::kUInt8);
  EXPECT_LE((preprocess_for_dinov2(native) - normalize_only(native)).abs().max().item<double>(), 1e-5);
  // One channel is repeated.
  const auto gray = preprocess_for_dinov2(torch::randint(0, 256, {1, 20, 20, 1}, torch::kUInt8));
  EXPECT_LE(((gray.select(1, 0) * 0.229f + 0.485f) - (gray.select(1, 2) * 0.225f + 0.406f)).abs().max().item<double>(),
            1e-5);
  EXPECT_THROW(preprocess_for_dinov2(torch::zeros({1, 8, 8, 2}, torch::kUInt8)), InputError);
  EXPECT_THROW(preprocess_for_dinov2(torch::zeros({1, 8, 8, 3}, torch::kFloat32)), InputError);
  EXPECT_THROW(preprocess_for_dinov2(torch::zeros({8, 8, 3}, torch::kUInt8)), InputError);
  auto& net = depth2_net();
  torch::NoGradGuard no_grad;
  EXPECT_THROW(net->forward(torch::zeros({1, 3, 225, 224})), InputError);
  EXPECT_THROW(net->forward(torch::zeros({1, 1, 224, 224})), InputError);
}

TEST(Dinov2, BatchCompositionDoesNotChangeFeatures) {
  auto& net = depth2_net();
  const auto images = vector("images_32");
  const auto all = dinov2_features(net, images);
  const auto one = dinov2_features(net, images.slice(0, 2, 3));
  EXPECT_LE(difference(one, all.slice(0, 2, 3)).relative, 1e-5);
}

// synthetic:3 at depth 1 written as an .npz under the official names.
std::string write_weights_npz(const test::TempDir& dir, const std::string& name,
                              const std::function<void(NpzMap&)>& edit = nullptr) {
  auto net = load_dinov2("synthetic:3", 1);
  NpzMap arrays;
  for (auto& [key, value] : net->state_tensors()) arrays[key] = from_tensor(value.contiguous());
  if (edit) edit(arrays);
  const auto path = dir.file(name);
  write_npz(path, arrays);
  return path;
}

TEST(Dinov2Weights, NpzRoundTripGivesIdenticalFeatures) {
  test::TempDir dir;
  const auto path = write_weights_npz(dir, "dinov2.npz");
  auto from_file = load_dinov2(path, 1);
  auto synthetic = load_dinov2("synthetic:3", 1);
  const auto images = vector("images_32").slice(0, 0, 2);
  EXPECT_TRUE(torch::equal(dinov2_features(from_file, images), dinov2_features(synthetic, images)));
}

TEST(Dinov2Weights, BadFilesGiveClearErrors) {
  test::TempDir dir;
  auto contains = [](const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos;
  };
  const auto missing = write_weights_npz(dir, "missing.npz", [](NpzMap& a) { a.erase("blocks.0.ls2.gamma"); });
  auto message = test::input_error_message([&] { load_dinov2(missing, 1); });
  EXPECT_TRUE(contains(message, "blocks.0.ls2.gamma") && contains(message, missing)) << message;

  const auto shape = write_weights_npz(dir, "shape.npz", [](NpzMap& a) { a["pos_embed"] = NpyArray(DType::f32, {1, 257, 1024}); });
  message = test::input_error_message([&] { load_dinov2(shape, 1); });
  EXPECT_TRUE(contains(message, "pos_embed") && contains(message, "1, 257, 1024") && contains(message, "1, 1370, 1024"))
      << message;

  const auto extra = write_weights_npz(dir, "extra.npz", [](NpzMap& a) { a["blocks.1.norm1.weight"] = NpyArray(DType::f32, {1024}); });
  message = test::input_error_message([&] { load_dinov2(extra, 1); });
  EXPECT_TRUE(contains(message, "blocks.1.norm1.weight")) << message;

  const auto ints = write_weights_npz(dir, "ints.npz", [](NpzMap& a) { a["norm.bias"] = NpyArray(DType::i64, {1024}); });
  message = test::input_error_message([&] { load_dinov2(ints, 1); });
  EXPECT_TRUE(contains(message, "norm.bias") && contains(message, "int64")) << message;

  // Not a file: the message says where to get the weights and how to convert them.
  for (const auto& absent : {dir.file("absent.npz"), dir.path()}) {
    message = test::input_error_message([&] { load_dinov2(absent, 1); });
    EXPECT_TRUE(contains(message, absent) && contains(message, "dinov2_vitl14_pretrain.pth") &&
                contains(message, "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth") &&
                contains(message, "scripts/convert-dinov2-weights"))
        << message;
  }
  message = test::input_error_message([&] { load_dinov2("", 1); });
  EXPECT_TRUE(contains(message, "dinov2_vitl14_pretrain.pth")) << message;

  const auto pth = dir.file("dinov2_vitl14_pretrain.pth");
  test::write_text(pth, "not really a checkpoint");
  message = test::input_error_message([&] { load_dinov2(pth, 1); });
  EXPECT_TRUE(contains(message, pth) && contains(message, "scripts/convert-dinov2-weights")) << message;

  const auto garbage = dir.file("garbage.npz");
  test::write_text(garbage, "not a zip archive");
  message = test::input_error_message([&] { load_dinov2(garbage, 1); });
  EXPECT_TRUE(contains(message, garbage)) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

// Optional check of converted weights against features the official code produced for them:
// CMBENCH_DINOV2_CHECK=DIR with DIR/weights.npz (scripts/convert-dinov2-weights output) and
// DIR/expected.npz (arrays images uint8 NHWC, features float32, depth int64 scalar).
TEST(Dinov2Weights, ConvertedCheckpointMatchesExpected) {
  const char* dir = std::getenv("CMBENCH_DINOV2_CHECK");
  if (!dir || !*dir) GTEST_SKIP() << "set CMBENCH_DINOV2_CHECK=DIR (weights.npz, expected.npz) to run";
  const std::string base = dir;
  const auto expected = read_npz(base + "/expected.npz");
  const int64_t depth = to_tensor(expected.at("depth")).item<int64_t>();
  auto net = load_dinov2(base + "/weights.npz", depth);
  expect_close(dinov2_features(net, to_tensor(expected.at("images"))), to_tensor(expected.at("features")),
               "converted checkpoint");
}

}  // namespace
}  // namespace cmbench
