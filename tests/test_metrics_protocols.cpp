// sFID's spatial features, FD_DINOv2 and the provenance checks (issue 14): the spatial layer is
// Mixed_6d.branch1x1's first 7 channels in (H, W, C) order, reference batches serve statistics or
// images as each metric needs, and features of different protocols are refused unless allowed.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <map>

#include <nlohmann/json.hpp>

#include "core/npy.h"
#include "core/npy_torch.h"
#include "metrics/dinov2.h"
#include "metrics/frechet.h"
#include "metrics/inception.h"
#include "metrics/preprocess.h"
#include "metrics/protocol.h"
#include "metrics/registry.h"
#include "metrics/statistics.h"
#include "test_util.h"

namespace cmbench {
namespace {

const std::vector<std::string> kNoWeightsEnv = {"CMBENCH_INCEPTION=", "CMBENCH_DINOV2="};

torch::Tensor random_images(int64_t n, int64_t size, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randint(0, 256, {n, size, size, 3}, gen, torch::kUInt8);
}

std::string write_images(const test::TempDir& dir, const std::string& name, const torch::Tensor& images) {
  const auto path = dir.file(name);
  write_npz(path, {{"images", from_tensor(images)}});
  return path;
}

nlohmann::json parse_json(const test::CliResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j;
}

// The synthetic network with one state tensor changed by `edit`, ready for inference.
FidInception edited_inception(const std::string& name, const std::function<void(torch::Tensor&)>& edit) {
  FidInception net;
  fill_synthetic_weights(net, 0);
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& [key, value] : net->state_tensors()) {
    auto copy = value.detach().clone();
    if (key == name) edit(copy);
    state.emplace_back(key, copy);
  }
  net->load_state(state, "edited");
  net->prepare_for_inference();
  return net;
}

torch::Tensor spatial_of(FidInception& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return net->forward(x, InceptionLayers{false, true}).spatial;
}

// Which weights the spatial features depend on shows which layer they are: Mixed_6d.branch1x1
// (rows 0-6 of its convolution), not Mixed_6d's other branches, not later blocks, and every earlier block.
TEST(SpatialFeatures, AreTheFirstSevenChannelsOfMixed6dBranch1x1) {
  const auto x = preprocess_for_inception(random_images(2, 32, 5), ResizeMode::tf);
  auto base = edited_inception("", [](torch::Tensor&) {});
  const auto reference = spatial_of(base, x);
  ASSERT_EQ(reference.sizes(), (std::vector<int64_t>{2, kSpatialFeatureWidth}));
  EXPECT_GE(reference.min().item<float>(), 0.0f);  // after the branch's ReLU
  const auto pool3 = base->forward(x, InceptionLayers{}).pool3;
  EXPECT_TRUE(torch::equal(base->forward(x, InceptionLayers{false, true}).pool3, pool3));  // the same pass

  const auto scale = [](torch::Tensor& t) { t.mul_(1.5); };
  const auto changed = [&](const std::string& name, const std::function<void(torch::Tensor&)>& edit) {
    auto net = edited_inception(name, edit);
    return !torch::equal(spatial_of(net, x), reference);
  };
  EXPECT_TRUE(changed("Mixed_6d.branch1x1.conv.weight", scale));
  EXPECT_TRUE(changed("Mixed_6d.branch1x1.bn.bias", [](torch::Tensor& t) { t.add_(0.5); }));
  EXPECT_TRUE(changed("Mixed_6c.branch1x1.conv.weight", scale));
  EXPECT_TRUE(changed("Conv2d_1a_3x3.conv.weight", scale));
  EXPECT_FALSE(changed("Mixed_6d.branch7x7_1.conv.weight", scale));
  EXPECT_FALSE(changed("Mixed_6d.branch_pool.conv.weight", scale));
  EXPECT_FALSE(changed("Mixed_6e.branch1x1.conv.weight", scale));
  EXPECT_FALSE(changed("Mixed_7c.branch1x1.conv.weight", scale));
  // Only the first 7 output channels of the 192 count.
  EXPECT_FALSE(changed("Mixed_6d.branch1x1.conv.weight", [](torch::Tensor& t) { t.narrow(0, 7, 185).mul_(1.5); }));
  EXPECT_TRUE(changed("Mixed_6d.branch1x1.conv.weight", [](torch::Tensor& t) { t.narrow(0, 6, 1).mul_(1.5); }));

  // (H, W, C) order: with channel 3 alone changed, only every 7th value from index 3 moves.
  auto net = edited_inception("Mixed_6d.branch1x1.bn.bias", [](torch::Tensor& t) { t.narrow(0, 3, 1).add_(0.5); });
  const auto moved = (spatial_of(net, x) != reference).any(0);
  const auto channel = torch::arange(kSpatialFeatureWidth) % 7;
  EXPECT_TRUE(moved.index({channel != 3}).logical_not().all().item<bool>());
  EXPECT_GT(moved.index({channel == 3}).sum().item<int64_t>(), 17 * 17 / 2);
}

// A guided-diffusion reference batch (arr_0 images, mu/sigma, mu_s/sigma_s, no meta): FID and sFID
// read its statistics, precision/recall its images, and each equals the value from the images.
TEST(SpatialFeatures, ReferenceBatchServesStatisticsAndImages) {
  test::TempDir dir;
  const auto ref_images = random_images(6, 32, 11);
  const auto ref = write_images(dir, "ref_images.npz", ref_images);
  const auto gen = write_images(dir, "gen.npz", random_images(5, 32, 12));
  const auto stats = dir.file("ref_stats.npz");
  auto r = test::run_cli({"stats", "--input", ref, "--out", stats, "--weights", "synthetic:0", "--with-spatial"},
                         kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto s = read_statistics(stats), s_spatial = read_statistics(stats, "mu_s", "sigma_s");
  EXPECT_EQ(s_spatial.mu.size(0), kSpatialFeatureWidth);
  const auto batch = dir.file("VIRTUAL_ref.npz");
  write_npz(batch, {{"arr_0", from_tensor(ref_images)},
                    {"mu", from_tensor(s.mu)},
                    {"sigma", from_tensor(s.sigma)},
                    {"mu_s", from_tensor(s_spatial.mu)},
                    {"sigma_s", from_tensor(s_spatial.sigma)}});

  const auto value = [&](const std::string& command, const std::string& a, const std::string& b, const char* key) {
    const auto result = test::run_cli({command, a, b, "--weights", "synthetic:0", "--json"}, kNoWeightsEnv);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return parse_json(result).value(key, -1.0);
  };
  const double sfid_images = value("sfid", ref, gen, "sfid");
  EXPECT_GT(sfid_images, 0.0);
  EXPECT_NEAR(value("sfid", batch, gen, "sfid"), sfid_images, 1e-6 * sfid_images);
  EXPECT_NEAR(value("sfid", stats, gen, "sfid"), sfid_images, 1e-6 * sfid_images);
  const double fid_images = value("fid", ref, gen, "fid");
  EXPECT_NEAR(value("fid", batch, gen, "fid"), fid_images, 1e-6 * fid_images);
  EXPECT_DOUBLE_EQ(value("pr", batch, gen, "precision"), value("pr", ref, gen, "precision"));

  // A statistics file without mu_s says so; the TorchScript detector has no spatial layer.
  const auto plain = dir.file("plain.npz");
  ASSERT_EQ(test::run_cli({"stats", "--input", ref, "--out", plain, "--weights", "synthetic:0"}, kNoWeightsEnv).exit_code, 0);
  r = test::run_cli({"sfid", plain, gen, "--weights", "synthetic:0"}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("mu_s"), std::string::npos) << r.err;
}

TEST(Provenance, DifferentProtocolsAreRefusedUnlessAllowed) {
  test::TempDir dir;
  const auto a = write_images(dir, "a.npz", random_images(5, 32, 21));
  const auto b = write_images(dir, "b.npz", random_images(5, 32, 22));
  const auto stats = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args{"stats", "--input", a, "--out", dir.file(name), "--weights", "synthetic:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = test::run_cli(args, kNoWeightsEnv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dir.file(name);
  };
  const auto tf = stats("tf.npz", {});
  const auto pytorch = stats("pytorch.npz", {"--mode", "pytorch"});
  const auto ddof0 = stats("ddof0.npz", {"--ddof", "0"});
  const auto other_weights = dir.file("other.npz");
  ASSERT_EQ(test::run_cli({"stats", "--input", a, "--out", other_weights, "--weights", "synthetic:1"}, kNoWeightsEnv).exit_code, 0);
  EXPECT_EQ(read_statistics(tf).meta.at("layer"), "pool3");

  auto r = test::run_cli({"fid", tf, pytorch}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("mode: tf vs pytorch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-protocol-mismatch"), std::string::npos) << r.err;
  r = test::run_cli({"frechet", tf, ddof0}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("ddof: 1 vs 0"), std::string::npos) << r.err;
  r = test::run_cli({"fid", tf, other_weights}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("weights_sha256: synthetic:0 vs synthetic:1"), std::string::npos) << r.err;
  // Images against a file of another mode: the images' features are computed under tf.
  r = test::run_cli({"fid", b, pytorch, "--weights", "synthetic:0"}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("mode: tf vs pytorch"), std::string::npos) << r.err;

  r = test::run_cli({"fid", tf, pytorch, "--allow-protocol-mismatch", "--json"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = parse_json(r);
  ASSERT_TRUE(j.contains("protocol_mismatch")) << r.out;
  EXPECT_EQ(j["protocol_mismatch"][0], "pool3 mode: tf vs pytorch");
  r = test::run_cli({"frechet", tf, ddof0, "--allow-protocol-mismatch", "--json"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(parse_json(r).contains("protocol_mismatch"));

  // Same protocol: allowed, with the hashes reported. A file without meta (pytorch-fid's, EDM's) is unknown: allowed.
  r = test::run_cli({"fid", tf, b, "--weights", "synthetic:0", "--json"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto same = parse_json(r);
  EXPECT_FALSE(same.contains("protocol_mismatch"));
  EXPECT_EQ(same.at("detector_sha256"), "synthetic:0");
  EXPECT_EQ(same.at("reference_sha256").get<std::string>().size(), 64u);
  const auto s = read_statistics(pytorch);
  const auto bare = dir.file("bare.npz");
  write_npz(bare, {{"mu", from_tensor(s.mu)}, {"sigma", from_tensor(s.sigma)}});
  EXPECT_EQ(test::run_cli({"fid", tf, bare}, kNoWeightsEnv).exit_code, 0);
}

TEST(Provenance, ProtocolDifferencesAndHashes) {
  const nlohmann::json a{{"detector", "native"}, {"mode", "tf"}, {"weights_sha256", "x"}, {"layer", "pool3"}, {"ddof", 1}};
  auto b = a;
  EXPECT_TRUE(protocol_differences(a, b).empty());
  b["mode"] = "pytorch";
  b["source"] = "elsewhere";  // not a protocol key
  EXPECT_EQ(protocol_differences(a, b), std::vector<std::string>{"mode: tf vs pytorch"});
  b.erase("mode");  // unknown on one side: not a difference
  EXPECT_TRUE(protocol_differences(a, b).empty());
  // A DINOv2 pair of a statistics file without its own entry has no known protocol (the top level is Inception's).
  EXPECT_FALSE(protocol_from_meta(a, Feature::dinov2_statistics, "mu_dinov2").contains("detector"));
  EXPECT_EQ(protocol_from_meta(a, Feature::spatial_statistics, "mu_s").at("layer"), "mixed_6/conv[:7]");
  const auto t = torch::arange(6, torch::kFloat64);
  EXPECT_EQ(tensor_sha256(t), tensor_sha256(t.clone()));
  EXPECT_NE(tensor_sha256(t), tensor_sha256(t.view({2, 3})));
  EXPECT_NE(tensor_sha256(t), tensor_sha256(t.to(torch::kFloat32)));
}

// FD_DINOv2 through the CLI equals the Fréchet distance of the class-token statistics computed here;
// a statistics file with mu_dinov2 serves it; missing weights say where to get them.
TEST(FdDinov2, CommandMatchesTheNetworkAndStatisticsFiles) {
  test::TempDir dir;
  const auto images_a = random_images(3, 16, 31), images_b = random_images(3, 16, 32);
  const auto a = write_images(dir, "a.npz", images_a), b = write_images(dir, "b.npz", images_b);
  auto net = load_dinov2("synthetic:0");
  const auto want = frechet_distance(compute_statistics(dinov2_features(net, images_a)), "a",
                                     compute_statistics(dinov2_features(net, images_b)), "b");
  auto r = test::run_cli({"fd-dinov2", a, b, "--dinov2-weights", "synthetic:0", "--batch", "3", "--json"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = parse_json(r);
  EXPECT_NEAR(j.at("fd_dinov2").get<double>(), want, 1e-6 * std::abs(want));
  EXPECT_EQ(j.at("dinov2_detector").at("detector"), "dinov2-vitl14");

  const auto stats = dir.file("a_stats.npz");
  r = test::run_cli({"stats", "--input", a, "--out", stats, "--weights", "synthetic:0", "--with-dinov2",
                     "--dinov2-weights", "synthetic:0"},
                    kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_statistics(stats, "mu_dinov2", "sigma_dinov2").mu.size(0), 1024);
  r = test::run_cli({"fd-dinov2", stats, b, "--json"}, {"CMBENCH_INCEPTION=", "CMBENCH_DINOV2=synthetic:0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NEAR(parse_json(r).at("fd_dinov2").get<double>(), want, 1e-6 * std::abs(want));
  // The file's DINOv2 pair names its own protocol: other weights are refused.
  r = test::run_cli({"fd-dinov2", stats, b, "--dinov2-weights", "synthetic:1"}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("weights_sha256: synthetic:0 vs synthetic:1"), std::string::npos) << r.err;

  r = test::run_cli({"fd-dinov2", a, b}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("dinov2_vitl14_pretrain.pth"), std::string::npos) << r.err;
}

TEST(MetricRegistry, NewMetricsAreRegistered) {
  EXPECT_EQ(metric_of_output("sfid"), "sfid");
  EXPECT_EQ(metric_of_output("fd_dinov2"), "fd_dinov2");
  EXPECT_EQ(metric_of_output("pr50k3_recall"), "pr50k3");
  const auto pr50k3 = metric_registry().create("pr50k3");
  EXPECT_TRUE(pr50k3->outputs()[0].higher_is_better);
  EXPECT_EQ(pr50k3->features(), std::set<Feature>{Feature::vgg16_features});
}

}  // namespace
}  // namespace cmbench
