// LPIPS (nets/lpips.h): the official lpips package's distances and piq 0.7.0's (openai-cm protocol)
// from tests/data/lpips/vectors.npz (README.md there), the metric's identities, the weights file
// checks, and scripts/convert-lpips-weights on .pth files made with python3-torch.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "core/torch_compat.h"
#include "nets/lpips.h"
#include "test_util.h"

namespace cmbench {
namespace {

const NpzMap& vectors() {
  static const NpzMap arrays = read_npz(test::source_path("tests/data/lpips/vectors.npz"));
  return arrays;
}

torch::Tensor vector(const std::string& key) { return to_tensor(vectors().at(key)); }

// The vectors' network: the synthetic backbone (seed in the file) and the lpips repository's heads.
Lpips vector_network(LpipsProtocol protocol) {
  const auto seed = vector("backbone_seed").item<int64_t>();
  auto net = load_lpips("synthetic:" + std::to_string(seed), LpipsOptions().protocol(protocol), "test");
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : net->named_weights()) {
    if (name.rfind("lin", 0) == 0) tensor.copy_(vector(name));
  }
  return net;
}

double relative_error(const torch::Tensor& got, const torch::Tensor& want) {
  return ((got - want).abs().max() / want.abs().max()).item<double>();
}

torch::Tensor random_images(int64_t n, int64_t size, uint64_t seed) {
  auto generator = compat::make_cpu_generator(seed);
  return torch::rand({n, 3, size, size}, generator, torch::kFloat32) * 2 - 1;
}

TEST(Lpips, MatchesTheLpipsPackage) {
  auto net = vector_network(LpipsProtocol::lpips);
  torch::NoGradGuard no_grad;
  for (const std::string size : {"32", "64"}) {
    const auto got = net->forward(vector("lpips_a_" + size), vector("lpips_b_" + size));
    EXPECT_LT(relative_error(got, vector("lpips_" + size)), 1e-5) << size << ": " << got;
  }
}

// openai/consistency_models' CD/CT distance: piq 0.7.0 LPIPS(replace_pooling=True) on (x + 1) / 2
// after the bilinear resize to 224.
TEST(Lpips, MatchesOpenaiConsistencyModelsProtocol) {
  auto net = vector_network(LpipsProtocol::openai_cm);
  torch::NoGradGuard no_grad;
  for (const std::string size : {"32", "64"}) {
    const auto got = net->forward(vector("openai_cm_a_" + size), vector("openai_cm_b_" + size));
    EXPECT_LT(relative_error(got, vector("openai_cm_" + size)), 1e-5) << size << ": " << got;
  }
}

TEST(Lpips, ProtocolsDifferInPoolingAndResizing) {
  Lpips lpips_net = load_lpips("synthetic:3", LpipsOptions(), "test");
  Lpips openai = load_lpips("synthetic:3", LpipsOptions().protocol(LpipsProtocol::openai_cm), "test");
  const auto x = random_images(1, 32, 1);
  EXPECT_EQ(lpips_net->prepare(x).sizes(), x.sizes());
  EXPECT_EQ(openai->prepare(x).size(3), 224);
  EXPECT_EQ(openai->prepare(random_images(1, 256, 1)).size(3), 256);  // 256 and wider: no resize
  // The two input scalings are the same map up to rounding: (x - shift) / scale with shift = 2 mean - 1.
  const auto big = random_images(1, 256, 2);
  EXPECT_LT((lpips_net->prepare(big) - openai->prepare(big)).abs().max().item<double>(), 1e-5);
  torch::NoGradGuard no_grad;
  const auto y = random_images(1, 256, 3);
  EXPECT_GT(std::abs((lpips_net->forward(big, y) - openai->forward(big, y)).item<double>()), 1e-4);
  EXPECT_EQ(parse_lpips_protocol("openai-cm", "x"), LpipsProtocol::openai_cm);
  EXPECT_EQ(lpips_protocol_name(LpipsProtocol::lpips), "lpips");
  EXPECT_NE(test::input_error_message([] { parse_lpips_protocol("piq", "method.lpips_protocol"); })
                .find("method.lpips_protocol 'piq': expected lpips or openai-cm"),
            std::string::npos);
}

TEST(Lpips, IsZeroOnEqualImagesAndSymmetric) {
  auto net = load_lpips("synthetic:1", LpipsOptions(), "test");
  torch::NoGradGuard no_grad;
  const auto a = random_images(3, 32, 4), b = random_images(3, 32, 5);
  EXPECT_TRUE(torch::equal(net->forward(a, a), torch::zeros({3})));
  const auto ab = net->forward(a, b), ba = net->forward(b, a);
  EXPECT_EQ(ab.sizes(), (std::vector<int64_t>{3}));
  EXPECT_TRUE((ab > 0).all().item<bool>());
  EXPECT_LT(relative_error(ba, ab), 1e-6);
  // Each image's distance is its own: a batch of one gives the same value.
  EXPECT_LT(relative_error(net->forward(a.narrow(0, 1, 1), b.narrow(0, 1, 1)), ab.narrow(0, 1, 1)), 1e-5);
  EXPECT_EQ(net->forward(a.to(torch::kFloat64), b.to(torch::kFloat64)).scalar_type(), torch::kFloat64);
}

TEST(Lpips, FrozenWithGradientsToTheInput) {
  auto net = load_lpips("synthetic:2", LpipsOptions().protocol(LpipsProtocol::openai_cm), "test");
  EXPECT_FALSE(net->is_training());
  for (const auto& p : net->parameters()) EXPECT_FALSE(p.requires_grad());
  auto a = random_images(1, 16, 6).requires_grad_(true);
  net->forward(a, random_images(1, 16, 7)).sum().backward();
  ASSERT_TRUE(a.grad().defined());
  EXPECT_GT(a.grad().abs().sum().item<double>(), 0);
  EXPECT_TRUE(torch::isfinite(a.grad()).all().item<bool>());
}

TEST(Lpips, SyntheticWeightsFollowTheirRule) {
  auto a = load_lpips("synthetic:7", LpipsOptions(), "test"), b = load_lpips("synthetic:7", LpipsOptions(), "test");
  auto c = load_lpips("synthetic:8", LpipsOptions(), "test");
  const auto wa = a->named_weights(), wb = b->named_weights(), wc = c->named_weights();
  ASSERT_EQ(wa.size(), 31u);
  EXPECT_EQ(wa.front().first, "features.0.weight");
  EXPECT_EQ(wa[25].first, "features.28.bias");
  EXPECT_EQ(wa.back().first, "lin4.model.1.weight");
  for (size_t i = 0; i < wa.size(); ++i) {
    EXPECT_TRUE(torch::equal(wa[i].second, wb[i].second)) << wa[i].first;
    EXPECT_FALSE(torch::equal(wa[i].second, wc[i].second)) << wa[i].first;
  }
  // Ranges of the rule: conv weights within sqrt(6 / fan_in), biases within 0.1, heads in [0, 0.2).
  EXPECT_LE(wa[0].second.abs().max().item<double>(), std::sqrt(6.0 / 27));
  EXPECT_LE(wa[1].second.abs().max().item<double>(), 0.1);
  EXPECT_GE(wa.back().second.min().item<double>(), 0.0);
  EXPECT_LT(wa.back().second.max().item<double>(), 0.2);
  EXPECT_NE(test::input_error_message([] { load_lpips("synthetic:x", LpipsOptions(), "method.lpips_weights"); })
                .find("method.lpips_weights 'synthetic:x': the seed must be an integer"),
            std::string::npos);
}

// ---- the .npz weights file ----

NpzMap weights_of(Lpips& net) {
  NpzMap arrays;
  for (auto& [name, tensor] : net->named_weights()) arrays[name] = from_tensor(tensor);
  return arrays;
}

TEST(LpipsWeights, NpzRoundTrip) {
  test::TempDir dir;
  auto net = load_lpips("synthetic:5", LpipsOptions(), "test");
  write_npz(dir.file("w.npz"), weights_of(net));
  auto loaded = load_lpips(dir.file("w.npz"), LpipsOptions(), "test");
  const auto want = net->named_weights(), got = loaded->named_weights();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(torch::equal(want[i].second, got[i].second)) << want[i].first;
  EXPECT_FALSE(loaded->is_training());
}

std::string bad_file_error(const std::function<void(NpzMap&)>& edit) {
  test::TempDir dir;
  auto net = load_lpips("synthetic:0", LpipsOptions(), "test");
  auto arrays = weights_of(net);
  edit(arrays);
  write_npz(dir.file("bad.npz"), arrays);
  const auto message = test::input_error_message([&] { load_lpips(dir.file("bad.npz"), LpipsOptions(), "test"); });
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find("bad.npz"), std::string::npos) << message;
  return message;
}

TEST(LpipsWeights, BadFilesGetOneLineNamingTheKey) {
  EXPECT_NE(bad_file_error([](NpzMap& a) { a.erase("features.12.bias"); }).find("lack 'features.12.bias'"),
            std::string::npos);
  EXPECT_NE(bad_file_error([](NpzMap& a) { a.erase("lin3.model.1.weight"); }).find("lack 'lin3.model.1.weight'"),
            std::string::npos);
  EXPECT_NE(bad_file_error([](NpzMap& a) {
              a["lin0.model.1.weight"] = from_tensor(torch::zeros({1, 32, 1, 1}));
            }).find("'lin0.model.1.weight' has shape (1, 32, 1, 1), expected (1, 64, 1, 1)"),
            std::string::npos);
  EXPECT_NE(bad_file_error([](NpzMap& a) {
              a["features.2.weight"] = from_tensor(torch::zeros({64, 64, 3, 3}, torch::kFloat64));
            }).find("'features.2.weight' has dtype float64, expected float32"),
            std::string::npos);
  EXPECT_NE(bad_file_error([](NpzMap& a) {
              auto t = to_tensor(a.at("features.5.weight"));
              t[3][2][1][0] = std::nanf("");
              a["features.5.weight"] = from_tensor(t);
            }).find("'features.5.weight' holds values that are not finite"),
            std::string::npos);
  EXPECT_NE(bad_file_error([](NpzMap& a) { a["classifier.0.weight"] = from_tensor(torch::zeros({2})); })
                .find("unexpected key 'classifier.0.weight'"),
            std::string::npos);
}

TEST(LpipsWeights, NotAnNpzMissingOrAbsentSaysWhatToDo) {
  test::TempDir dir;
  test::write_text(dir.file("junk.npz"), "not a zip archive");
  auto message = test::input_error_message([&] { load_lpips(dir.file("junk.npz"), LpipsOptions(), "test"); });
  EXPECT_NE(message.find("junk.npz"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;

  message = test::input_error_message([&] { load_lpips(dir.file("none.npz"), LpipsOptions(), "method.lpips_weights"); });
  EXPECT_NE(message.find("method.lpips_weights '" + dir.file("none.npz") + "': no such file"), std::string::npos);
  for (const auto& where : {"vgg16-397923af.pth", "weights/v0.1/vgg.pth", "scripts/convert-lpips-weights"})
    EXPECT_NE(message.find(where), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;

  message = test::input_error_message([] { load_lpips("", LpipsOptions(), "method.lpips_weights"); });
  EXPECT_NE(message.find("method.lpips_weights: not given; LPIPS needs VGG16 weights"), std::string::npos) << message;

  test::write_text(dir.file("vgg.pth"), "x");
  message = test::input_error_message([&] { load_lpips(dir.file("vgg.pth"), LpipsOptions(), "test"); });
  EXPECT_NE(message.find("a PyTorch checkpoint; convert it with scripts/convert-lpips-weights"), std::string::npos);
}

TEST(Lpips, RefusesImagesItCannotMeasure) {
  auto net = load_lpips("synthetic:0", LpipsOptions(), "test");
  EXPECT_NE(test::input_error_message([&] { net->forward(torch::zeros({1, 2, 32, 32}), torch::zeros({1, 2, 32, 32})); })
                .find("LPIPS: images must be two batches (N, 3, H, W)"),
            std::string::npos);
  EXPECT_NE(test::input_error_message([&] { net->forward(torch::zeros({1, 3, 8, 8}), torch::zeros({1, 3, 8, 8})); })
                .find("8x8 are too small"),
            std::string::npos);
}

// ---- scripts/convert-lpips-weights ----

// The first python3 that imports torch and numpy; empty when none does.
const std::string& python_with_torch() {
  static const std::string found = test::python_importing("torch, numpy");
  return found;
}

// Fake inputs of the two layouts with values that name their place: features.N.weight is N / 1000,
// features.N.bias -N / 1000, linK's weights (K + 1) / 10, stored as float64 to be converted; torchvision's
// classifier is present to be dropped.
const char* const kMakePthFiles = R"(
import sys, torch
convs = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256), (14, 256, 256),
         (17, 256, 512), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512), (28, 512, 512)]
vgg = {"classifier.6.bias": torch.zeros(1000)}
for n, i, o in convs:
    vgg[f"features.{n}.weight"] = torch.full((o, i, 3, 3), n / 1000)
    vgg[f"features.{n}.bias"] = torch.full((o,), -n / 1000)
torch.save(vgg, sys.argv[1] + "/vgg16.pth")
heads = [torch.full((1, c, 1, 1), (k + 1) / 10, dtype=torch.float64) for k, c in enumerate([64, 128, 256, 512, 512])]
torch.save({f"lin{k}.model.1.weight": h for k, h in enumerate(heads)}, sys.argv[1] + "/vgg.pth")
torch.save(heads, sys.argv[1] + "/lpips_weights.pt")
torch.save({"lin0.model.1.weight": heads[0]}, sys.argv[1] + "/short.pth")
)";

TEST(ConvertLpipsWeights, ConvertsTorchvisionAndLpipsOrPiqFiles) {
  const auto& python = python_with_torch();
  if (python.empty()) GTEST_SKIP() << "no python3 with torch and numpy (Debian: apt-get install python3-torch)";
  test::TempDir dir;
  test::write_text(dir.file("make.py"), kMakePthFiles);
  const auto made = test::run_shell(test::shell_quoted(python) + " " + test::shell_quoted(dir.file("make.py")) + " " + test::shell_quoted(dir.path()));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const auto script = test::shell_quoted(python) + " " + test::shell_quoted(test::source_path("scripts/convert-lpips-weights"));

  for (const std::string lin : {"vgg.pth", "lpips_weights.pt"}) {
    const auto converted = test::run_shell(script + " --vgg " + test::shell_quoted(dir.file("vgg16.pth")) + " --lin " +
                                     test::shell_quoted(dir.file(lin)) + " --out " + test::shell_quoted(dir.file("lpips.npz")));
    ASSERT_EQ(converted.exit_code, 0) << converted.output;
    auto net = load_lpips(dir.file("lpips.npz"), LpipsOptions(), "test");
    for (auto& [name, tensor] : net->named_weights()) {
      double want;
      if (name.rfind("lin", 0) == 0) want = (name[3] - '0' + 1) / 10.0;
      else {
        const auto index = std::stoi(name.substr(9));
        want = (name.find(".bias") != std::string::npos ? -index : index) / 1000.0;
      }
      EXPECT_TRUE(torch::equal(tensor, torch::full_like(tensor, want))) << lin << " " << name;
    }
  }

  const auto help = test::run_shell(script + " --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("vgg16-397923af.pth"), std::string::npos) << help.output;

  const auto short_heads = test::run_shell(script + " --vgg " + test::shell_quoted(dir.file("vgg16.pth")) + " --lin " +
                                     test::shell_quoted(dir.file("short.pth")) + " --out " + test::shell_quoted(dir.file("x.npz")));
  EXPECT_EQ(short_heads.exit_code, 2);
  EXPECT_NE(short_heads.output.find("short.pth: lacks 'lin1.model.1.weight'"), std::string::npos) << short_heads.output;
  const auto swapped = test::run_shell(script + " --vgg " + test::shell_quoted(dir.file("vgg.pth")) + " --lin " +
                                 test::shell_quoted(dir.file("vgg.pth")) + " --out " + test::shell_quoted(dir.file("x.npz")));
  EXPECT_EQ(swapped.exit_code, 2);
  EXPECT_NE(swapped.output.find("lacks 'features.0.weight'"), std::string::npos) << swapped.output;
  const auto missing = test::run_shell(script + " --vgg " + test::shell_quoted(dir.file("none.pth")) + " --lin " +
                                 test::shell_quoted(dir.file("vgg.pth")) + " --out " + test::shell_quoted(dir.file("x.npz")));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("none.pth: no such file"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace cmbench
