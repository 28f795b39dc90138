// The metric registry: every value has one owner and a policy, and the features computed once per
// image set feed the metrics exactly as the standalone functions compute them.
#include <gtest/gtest.h>

#include <limits>
#include <set>

#include <torch/torch.h>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "data/image_source.h"
#include "metrics/features.h"
#include "metrics/image_set_features.h"
#include "metrics/inception_score.h"
#include "metrics/registry.h"
#include "metrics/statistics.h"
#include "metrics/swd.h"
#include "test_util.h"

namespace cmbench {
namespace {

const MetricOutput& output_of(const std::vector<MetricOutput>& outputs, const std::string& name) {
  for (const auto& o : outputs) {
    if (o.name == name) return o;
  }
  throw std::logic_error("no output " + name);
}

TEST(MetricRegistry, EveryValueHasOneMetricAndAPolicy) {
  EXPECT_EQ(metric_registry().names(),
            (std::vector<std::string>{"consistency_error", "fd_dinov2", "fid", "gt_fd", "gt_loglik", "is", "kid", "pr",
                                      "pr50k3", "sfid", "swd", "target_stats"}));
  const auto values = metric_output_names();
  EXPECT_EQ(std::set<std::string>(values.begin(), values.end()).size(), values.size());
  EXPECT_EQ(metric_of_output("is_std"), "is");
  EXPECT_EQ(metric_of_output("is_mean"), "is");
  EXPECT_EQ(metric_of_output("fid"), "fid");
  EXPECT_EQ(metric_of_output("is"), "");  // the metric, not a value
  EXPECT_THROW(metric_registry().create("lpips"), InputError);
  EXPECT_EQ(metric_of_output("kid_std"), "kid");
  EXPECT_EQ(metric_of_output("recall"), "pr");

  const auto is = metric_registry().create("is")->outputs();
  EXPECT_TRUE(output_of(is, "is_mean").higher_is_better);
  EXPECT_FALSE(output_of(is, "is_std").higher_is_better);
  EXPECT_EQ(output_of(is, "is_std").rtol, kDefaultMetricRtol);
  // EDM's protocol reports the minimum FID over its seed sets (METRICS.md §3).
  EXPECT_EQ(output_of(metric_registry().create("fid")->outputs(), "fid").aggregate, "min");
  EXPECT_EQ(output_of(metric_registry().create("swd")->outputs(), "swd").aggregate, "mean");
  EXPECT_TRUE(metric_registry().create("swd")->equal_set_sizes());
  EXPECT_EQ(metric_registry().create("is")->image_sets(), 1);
}

torch::Tensor random_images(int64_t n, int64_t size, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randint(0, 256, {n, size, size, 3}, gen, torch::kUInt8);
}

// One Inception pass for FID and IS gives what image_statistics and extract_all_features give.
TEST(ImageSetFeatures, OnePassServesStatisticsAndLogits) {
  test::TempDir dir;
  const auto path = dir.file("a.npz");
  write_npz(path, {{"images", from_tensor(random_images(5, 32, 1))}});
  const auto source = open_image_source(path);
  const auto indices = select_indices(*source, 4, 0);
  auto detector = make_detector(DetectorOptions().weights("synthetic:0"));
  const auto features = image_set_features(
      *source, indices, {Feature::pool3_statistics, Feature::inception_logits, Feature::pixels},
      FeatureNetworks{detector.get()}, 3);
  const auto stats = image_statistics(*source, indices, *detector, ExtractionOptions().batch(3), 1);
  EXPECT_TRUE(torch::equal(features.pool3_statistics->mu, stats.mu));
  EXPECT_TRUE(torch::equal(features.pool3_statistics->sigma, stats.sigma));
  const auto all = extract_all_features(*source, indices, *detector, ExtractionOptions().batch(3).with_logits(true));
  EXPECT_TRUE(torch::equal(features.logits, all.logits_unbiased));
  EXPECT_TRUE(torch::equal(features.pixels, source->read_indices(indices)));
  EXPECT_EQ(features.count, 4);
  EXPECT_EQ(features.sources.at(Feature::pixels), path);

  const auto score = inception_score_from_logits(all.logits_unbiased, 2);
  MetricSettings settings;
  settings.is_splits = 2;
  const auto values = metric_registry().create("is")->compute(features, nullptr, settings);
  EXPECT_EQ(values.values.at("is_mean"), score.mean);
  EXPECT_EQ(values.values.at("is_std"), score.std);
}

TEST(ImageSetFeatures, SwdOfTheFeaturesAndStatisticsFilesRefuseImages) {
  test::TempDir dir;
  const auto a = random_images(6, 16, 2), b = random_images(6, 16, 3);
  const auto swd = metric_registry().create("swd");
  ImageSetFeatures fa, fb;
  fa.pixels = a, fa.count = 6, fb.pixels = b, fb.count = 6;
  MetricSettings settings;
  settings.seed = 5;
  const auto values = swd->compute(fa, &fb, settings);
  const auto direct = sliced_wasserstein(a, b, SwdOptions().seed(5));
  EXPECT_EQ(values.values.at("swd"), direct.average);
  EXPECT_EQ(values.details.at("swd_levels").get<std::vector<double>>(), direct.levels);
  fb.count = 5;
  EXPECT_THROW(swd->compute(fa, &fb, settings), InputError);

  const auto stats_path = dir.file("stats.npz");
  FeatureStatistics stats;
  stats.mu = torch::zeros({4}, torch::kFloat64);
  stats.sigma = torch::eye(4, torch::kFloat64);
  stats.n = 10;
  write_statistics(stats_path, stats);
  EXPECT_EQ(statistics_file_features(stats_path, {Feature::pool3_statistics}).count, 10);
  try {
    statistics_file_features(stats_path, {Feature::pixels});
    ADD_FAILURE() << "a statistics file served pixels";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(stats_path), std::string::npos) << e.what();
  }
}

// A features .npz (`cmbench features`) serves pool3 features and their statistics; anything else,
// another layer, a malformed array or a non-finite value is one line naming the file.
TEST(MetricRegistry, FeaturesFilesServePool3FeaturesOnly) {
  test::TempDir dir;
  const auto write = [&](const std::string& name, const torch::Tensor& features, const std::string& meta = "") {
    NpzMap arrays{{"features", from_tensor(features)}};
    if (!meta.empty())
      arrays["meta"] = NpyArray::from<uint8_t>({static_cast<int64_t>(meta.size())}, reinterpret_cast<const uint8_t*>(meta.data()));
    write_npz(dir.file(name), arrays);
    return dir.file(name);
  };
  const auto x = torch::randn({6, 4}, torch::kFloat32);
  const auto good = write("good.npz", x, R"({"layer": "pool3"})");
  ASSERT_TRUE(is_features_file(good));
  EXPECT_FALSE(is_statistics_file(good));
  const auto set = file_features(good, {Feature::pool3_features, Feature::pool3_statistics});
  EXPECT_EQ(set.count, 6);
  EXPECT_TRUE(torch::equal(set.pool3, x));
  EXPECT_TRUE(torch::allclose(set.pool3_statistics->mu, x.to(torch::kFloat64).mean(0)));
  const auto error = [&](const std::string& path, std::set<Feature> features) {
    return test::input_error_message([&] { file_features(path, features); });
  };
  EXPECT_NE(error(good, {Feature::pixels}).find(good), std::string::npos);
  const auto logits = write("logits.npz", x, R"({"layer": "logits_unbiased"})");
  EXPECT_NE(error(logits, {Feature::pool3_features}).find("needs pool3"), std::string::npos);
  const auto flat = write("flat.npz", torch::zeros({6}));
  EXPECT_NE(error(flat, {Feature::pool3_features}).find("(N, D) float array"), std::string::npos);
  const auto integers = write("int.npz", torch::zeros({6, 4}, torch::kInt64));
  EXPECT_NE(error(integers, {Feature::pool3_features}).find("(N, D) float array"), std::string::npos);
  auto bad = x.clone();
  bad[2][1] = std::numeric_limits<float>::quiet_NaN();
  const auto nan = write("nan.npz", bad);
  EXPECT_NE(error(nan, {Feature::pool3_features}).find("NaN or Inf"), std::string::npos);
}

}  // namespace
}  // namespace cmbench
