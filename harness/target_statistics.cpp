#include "harness/target_statistics.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/rng.h"
#include "methods/consistency.h"

namespace cmbench {

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// The repetitions of one probe set: `draw_x0(m)` gives the rows' own images, `draw_references(m)` the
// shared references of repetition m.
template <class DrawX0, class DrawReferences>
TruthAnswers repeated_target_points(const Method& method, const torch::Tensor& x_t, const torch::Tensor& t,
                                    int64_t draws, const StepContext& ctx, DrawX0 draw_x0,
                                    DrawReferences draw_references) {
  if (draws < 2) throw InputError(fmt::format("target statistics: target_draws must be >= 2, got {}", draws));
  TruthAnswers out;
  std::vector<torch::Tensor> points;
  for (int64_t m = 0; m < draws; ++m) {
    const auto x0 = draw_x0(m);
    const auto references = draw_references(m);
    const auto target = method.target_points(x0, x_t, t, references, ctx);
    if (!target) return out;
    if (m == 0) out.target_r = target->r.to(torch::kFloat64);
    points.push_back(target->x_r.to(torch::kFloat64));
  }
  out.target_x_r = torch::stack(points, 1);
  return out;
}

}  // namespace

TruthAnswers ground_truth_target_estimates(const Method& method, const GaussianMixture& mixture,
                                           const TruthProbes& probes, int64_t batch, int64_t draws,
                                           const StepContext& ctx) {
  // The rows' own images and the references come from separate streams, so two methods measured at
  // the same step see the same own images (a paired comparison: ECT against SCT).
  auto own = make_generator(static_cast<uint64_t>(ctx.step), "target-statistics-own");
  auto others = make_generator(static_cast<uint64_t>(ctx.step), "target-statistics-references");
  const int64_t count = method.target_reference_count(batch);
  return repeated_target_points(
      method, probes.x_t, probes.t, draws, ctx,
      [&](int64_t) { return mixture.sample_posterior(probes.x_t, probes.t, own); },
      [&](int64_t) { return count > 0 ? mixture.sample(count, others) : torch::Tensor(); });
}

ImageProbes make_image_probes(const torch::Tensor& images, int64_t per_bucket, uint64_t seed) {
  if (per_bucket <= 0) throw InputError("target statistics: probes per bucket must be > 0");
  const auto& edges = truth_bucket_edges();
  const int64_t buckets = truth_bucket_count(), total = per_bucket * buckets;
  auto generator = make_generator(seed, "image-probes");
  const auto origin = torch::randint(0, images.size(0), {total}, generator, torch::kInt64);
  const auto u = torch::rand({total}, generator, kF64);
  ImageProbes p;
  p.bucket = torch::arange(total, torch::kInt64).floor_divide(per_bucket);
  const auto lo = torch::tensor(std::vector<double>(edges.begin(), edges.end() - 1), kF64).index_select(0, p.bucket);
  const auto hi = torch::tensor(std::vector<double>(edges.begin() + 1, edges.end()), kF64).index_select(0, p.bucket);
  p.t = (lo.log() + u * (hi.log() - lo.log())).exp();
  const auto x0 = images.index_select(0, origin).to(torch::kFloat64);
  p.x_t = x0 + per_image(p.t, x0) * torch::randn(x0.sizes(), generator, kF64);
  return p;
}

TruthAnswers empirical_target_estimates(const Method& method, const torch::Tensor& images, ImageProbes& probes,
                                        int64_t batch, int64_t draws, const StepContext& ctx) {
  const auto data = images.to(torch::kFloat64).flatten(1);
  const auto x = probes.x_t.flatten(1);
  // The empirical posterior, in float64 with the row maximum subtracted: logits -||x_t - y_j||^2 / (2 t^2).
  const auto dist2 = (x.square().sum(1, true) + data.square().sum(1).unsqueeze(0) - 2 * x.mm(data.t())).clamp_min(0);
  const auto logits = -dist2 / (2 * probes.t.square().unsqueeze(1));
  const auto posterior = (logits - std::get<0>(logits.max(1, true))).exp();
  const auto normalized = posterior / posterior.sum(1, true);
  const auto posterior_mean = normalized.mm(data).view_as(probes.x_t);
  auto own = make_generator(static_cast<uint64_t>(ctx.step), "target-statistics-own");
  auto others = make_generator(static_cast<uint64_t>(ctx.step), "target-statistics-references");
  const int64_t count = method.target_reference_count(batch);
  auto out = repeated_target_points(
      method, probes.x_t, probes.t, draws, ctx,
      [&](int64_t) {
        const auto index = torch::multinomial(normalized, 1, true, own).squeeze(1);
        return images.index_select(0, index).to(torch::kFloat64);
      },
      [&](int64_t) {
        if (count <= 0) return torch::Tensor();
        const auto index = torch::randint(0, images.size(0), {count}, others, torch::kInt64);
        return images.index_select(0, index).to(torch::kFloat64);
      });
  if (out.target_r.defined()) probes.reference = one_sample_point(posterior_mean, probes.x_t, probes.t, out.target_r);
  return out;
}

}  // namespace cmbench
