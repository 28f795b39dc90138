// A network's answers at the ground truth's probes (harness/network_answers.h) and the consistency
// error they give: zero for a network whose output is f*, nonzero for the exact denoiser (the
// posterior mean is not the consistency function) except as t -> 0. And the suite runner's rows of
// the ground-truth metrics: network metrics once per weights profile (seed set "probes"), image
// metrics per NFE, each equal to the standalone command on the same weights or samples.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "core/gaussian_mixture.h"
#include "core/rng.h"
#include "harness/network_answers.h"
#include "metrics/ground_truth_features.h"
#include "metrics/protocol.h"
#include "metrics/registry.h"
#include "nets/analytic.h"
#include "results/store.h"
#include "test_util.h"

namespace cmbench {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// Two isotropic components on 3x4x4 images.
std::shared_ptr<const GaussianMixture> two_blobs() {
  GaussianMixtureParts p;
  p.shape = {3, 4, 4};
  p.weights = torch::tensor({0.6, 0.4}, kF64);
  p.means = torch::cat({torch::full({1, 48}, -0.3, kF64), torch::full({1, 48}, 0.4, kF64)});
  p.noise_variances = torch::tensor({0.01, 0.02}, kF64);
  return std::make_shared<const GaussianMixture>(p);
}

// A test double whose output at the probes IS f*: it answers the calls in order with the next rows of
// f_star, after checking that it is asked at exactly those probes (float32 x_t and t).
class ExactConsistencyNetwork final : public Denoiser {
 public:
  explicit ExactConsistencyNetwork(const TruthProbes& probes)
      : Denoiser({{"arch", "exact-consistency"}, {"img_resolution", probes.x_t.size(2)}, {"in_channels", probes.x_t.size(1)}},
                 PrecondConfig{}),
        probes_(probes) {}

  torch::Tensor denoise(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor&, const torch::Tensor&,
                        const PrecondMode&) override {
    const int64_t n = x.size(0);
    EXPECT_EQ(x.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(x.to(torch::kCPU), probes_.x_t.slice(0, served_, served_ + n).to(torch::kFloat32)));
    EXPECT_TRUE(torch::equal(sigma.to(torch::kCPU).reshape({-1}), probes_.t.slice(0, served_, served_ + n).to(torch::kFloat32)));
    const auto out = probes_.f_star.slice(0, served_, served_ + n);
    served_ += n;
    calls_ += 1;
    return out;
  }
  NamedTensors state() override { return {}; }
  int64_t calls() const { return calls_; }

 private:
  const TruthProbes& probes_;
  int64_t served_ = 0, calls_ = 0;
};

ImageSetFeatures truth_of(std::shared_ptr<const GaussianMixture> mixture, int64_t per_bucket) {
  ImageSetFeatures out;
  out.name = "two blobs";
  out.probes = std::make_shared<const TruthProbes>(make_truth_probes(*mixture, per_bucket, 0));
  out.mixture = std::move(mixture);
  out.sources[Feature::ground_truth] = out.name;
  return out;
}

MetricValues consistency_error_of(const torch::Tensor& outputs, const ImageSetFeatures& truth) {
  ImageSetFeatures generated;
  generated.name = "network";
  generated.truth.consistency_outputs = outputs;
  generated.sources[Feature::consistency_outputs] = generated.name;
  return evaluate_metric(*metric_registry().create("consistency_error"), generated, &truth, MetricSettings{});
}

TEST(TruthEvaluation, ANetworkWhoseOutputIsFStarHasZeroConsistencyError) {
  const auto truth = truth_of(two_blobs(), 5);
  ExactConsistencyNetwork net(*truth.probes);
  const auto outputs = consistency_outputs(net, *truth.probes, 7, torch::kCPU);
  EXPECT_EQ(net.calls(), (5 * truth_bucket_count() + 6) / 7);  // batched by 7
  EXPECT_EQ(outputs.scalar_type(), torch::kFloat64);
  const auto values = consistency_error_of(outputs, truth);
  EXPECT_EQ(values.values.at("cerr"), 0.0);
  for (const auto& name : bucket_output_names("cerr")) EXPECT_EQ(values.values.at(name), 0.0) << name;
}

// The exact denoiser D(x_t, t) = E[x0 | x_t] against f*(x_t, t): they agree as t -> 0 (both tend to
// x_t) and differ most at large t, where D is near the mixture's mean and f* a point of one blob.
TEST(TruthEvaluation, TheExactDenoiserIsNoConsistencyFunctionExceptAsTGoesToZero) {
  test::TempDir dir;
  const auto mixture = two_blobs();
  const auto path = dir.file("blobs.npz");
  mixture->save(path);
  GaussianMixtureDenoiser net(4, 3, path);
  const auto truth = truth_of(mixture, 8);
  const auto values = consistency_error_of(consistency_outputs(net, *truth.probes, 16, torch::kCPU), truth).values;
  const auto names = bucket_output_names("cerr");
  EXPECT_LT(values.at(names.front()), 1e-4);
  EXPECT_GT(values.at(names.back()), 1e-3);
  EXPECT_GT(values.at(names.back()), 100 * values.at(names.front()));
  EXPECT_GT(values.at("cerr"), 0.0);
  // The answers do not depend on the batching.
  const auto one_call = consistency_outputs(net, *truth.probes, 1000, torch::kCPU);
  EXPECT_TRUE(torch::allclose(one_call, consistency_outputs(net, *truth.probes, 3, torch::kCPU), 0, 1e-12));
}

TEST(TruthEvaluation, NetworkAnswersRefuseAnotherImageShapeAndPickTheSampledGroup) {
  const auto truth = truth_of(two_blobs(), 1);
  GaussianMixtureDenoiser other(8, 3, torch::zeros({1}, kF64), torch::ones({1}, kF64), torch::ones({1}, kF64));
  const auto message = test::input_error_message([&] { consistency_outputs(other, *truth.probes, 4, torch::kCPU); });
  EXPECT_NE(message.find("makes 3x8x8 images, the ground truth's probes are 3x4x4"), std::string::npos) << message;
  EXPECT_EQ(sampled_weights_group({"ema", "model"}, "", "c.h5"), "ema");
  EXPECT_EQ(sampled_weights_group({"model"}, "", "c.h5"), "model");
  EXPECT_EQ(sampled_weights_group({"ema", "model"}, "model", "c.h5"), "model");
  EXPECT_EQ(sampled_weights_group({"ema", "ema.fast"}, "fast", "c.h5"), "ema.fast");
  EXPECT_EQ(sampled_weights_group({"ema", "ema.fast"}, "ema.fast", "c.h5"), "ema.fast");
  const auto missing = test::input_error_message([&] { consistency_outputs("/nonexistent/c.h5", "", *truth.probes, 4, "cpu"); });
  EXPECT_NE(missing.find("/nonexistent/c.h5"), std::string::npos) << missing;
}

// A 3x16x16 mixture (the tiny test network's images) of two isotropic blobs.
std::string write_tiny_truth(const test::TempDir& dir) {
  GaussianMixtureParts p;
  p.shape = {3, 16, 16};
  auto g = make_generator(3, "test-means");
  p.weights = torch::tensor({0.5, 0.5}, kF64);
  p.means = torch::randn({2, 768}, g, kF64) * 0.3;
  p.noise_variances = torch::tensor({0.02, 0.03}, kF64);
  const auto path = dir.file("truth16.npz");
  GaussianMixture(p).save(path);
  return path;
}

TEST(TruthEvaluation, SuiteRowsEqualTheStandaloneCommands) {
  test::TempDir dir;
  const auto truth_file = write_tiny_truth(dir);
  const auto spec = "gmm:" + truth_file;
  const auto suite = dir.file("truth.toml");
  test::write_text(suite, test::tiny_suite_head("truth", 3) + test::teacher_then_ect_stages(2, 2) + R"(
[evaluation]
nfe = [1]
num_samples = 8
seed_sets = ["0-7"]
batch = 8
truth_probes = 2
target_draws = 4

[evaluation.reference]
images = ")" + spec + R"("

[metrics.gt_fd]
[metrics.gt_loglik]
[metrics.cerr]
[metrics.tvar]
)");
  const std::vector<std::string> env = {"CMBENCH_THREADS=1"};
  const auto out = dir.file("out");
  auto r = test::run_cli({"run", suite, "--out", out}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto store = results::read_store(out + "/results.h5");
  ASSERT_EQ(store.runs.size(), 2u);
  const auto fingerprint = GaussianMixture::load(truth_file).fingerprint();
  const int64_t probes = 2 * truth_bucket_count();

  std::map<std::string, std::map<std::string, results::EvaluationRow>> rows;  // stage -> metric -> row
  for (const auto& run : store.runs) {
    for (const auto& row : run.evaluations) {
      EXPECT_EQ(rows[run.stage].count(row.metric), 0u) << run.stage << " " << row.metric << ": one row each";
      rows[run.stage][row.metric] = row;
      EXPECT_EQ(row.reference, spec) << row.metric;
      EXPECT_EQ(row.reference_sha256, fingerprint) << row.metric;
      EXPECT_EQ(row.ema, "") << row.metric;
      const bool image_metric = row.metric == "gt_fd" || row.metric == "gt_loglik";
      EXPECT_EQ(row.seed_set, image_metric ? "0-7" : "probes") << row.metric;
      EXPECT_EQ(row.num_samples, image_metric ? 8 : probes) << row.metric;
      const bool target = row.metric.rfind("tvar", 0) == 0 || row.metric.rfind("tbias", 0) == 0;
      EXPECT_EQ(row.nfe, target ? 0 : (image_metric && run.stage == "teacher" ? 3 : 1)) << row.metric;
      EXPECT_TRUE(std::isfinite(row.value)) << row.metric;
    }
  }
  // consistency_error (7 values) for both; target_stats (14) only for ECT: EDM has no training target.
  EXPECT_EQ(rows["teacher"].size(), 2u + 7u);
  EXPECT_EQ(rows["ect"].size(), 2u + 7u + 14u);
  EXPECT_EQ(rows["teacher"].count("tvar"), 0u);
  EXPECT_GT(rows["ect"]["tvar_t5"].value, 0.0);

  const auto command = [&](std::vector<std::string> args) {
    args.push_back("--json");
    const auto result = test::run_cli(args, env);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return nlohmann::json::parse(result.out, nullptr, false);
  };
  for (const char* stage : {"teacher", "ect"}) {
    const auto folder = out + "/stages/" + stage;
    const auto cerr = command({"consistency-error", "--ckpt", folder + "/ckpt-00000002.h5", "--truth", spec, "--probes",
                               "2", "--batch", "8", "--device", "cpu"});
    for (const auto& name : bucket_output_names("cerr")) EXPECT_EQ(cerr.value(name, -1.0), rows[stage][name].value) << name;
    EXPECT_EQ(cerr.value("cerr", -1.0), rows[stage]["cerr"].value) << stage;
    const auto samples = folder + (std::string(stage) == "ect" ? "/samples-nfe1-seeds0-7.npz" : "/samples-nfe3-seeds0-7.npz");
    ASSERT_TRUE(std::filesystem::exists(samples)) << samples;
    EXPECT_EQ(command({"gt-fd", samples, spec}).value("gt_fd", -1.0), rows[stage]["gt_fd"].value) << stage;
    EXPECT_EQ(command({"gt-loglik", samples, spec}).value("gt_loglik", 1.0), rows[stage]["gt_loglik"].value) << stage;
  }
}

}  // namespace
}  // namespace cmbench
