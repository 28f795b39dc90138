#include "core/gaussian_mixture.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/npy_torch.h"
#include "core/rng.h"

namespace cmbench {

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

torch::Tensor as_f64(const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat64).contiguous(); }

// sigma as (N,) for N rows: a scalar tensor (or one value) is broadcast.
torch::Tensor row_levels(const torch::Tensor& sigma, int64_t n) {
  auto s = as_f64(sigma).reshape({-1});
  if (s.numel() == 1) return s.expand({n}).contiguous();
  if (s.numel() != n) throw InputError(fmt::format("gaussian mixture: {} noise levels for {} rows", s.numel(), n));
  return s;
}

// The per-row, per-component pieces every density and posterior formula uses, for rows x (N, D) at
// levels sigma (N,): a = s_k^2 + sigma^2 (N, K), proj = U_k^T (x - m_k) (N, K, R), the squared
// distance |x - m_k|^2 (N, K), and c = lambda / (lambda + a) (N, K, R).
struct ComponentTerms {
  torch::Tensor a, proj, dist2, c, log_density;
};

}  // namespace

GaussianMixture::GaussianMixture(GaussianMixtureParts parts, const std::string& source) : parts_(std::move(parts)) {
  auto fail = [&](const std::string& what) { throw InputError(source + ": " + what); };
  if (parts_.shape.size() != 3 || std::any_of(parts_.shape.begin(), parts_.shape.end(), [](int64_t v) { return v <= 0; }))
    fail("shape must be three positive values (C, H, W)");
  const int64_t d = parts_.shape[0] * parts_.shape[1] * parts_.shape[2];
  parts_.weights = as_f64(parts_.weights).reshape({-1});
  const int64_t k = parts_.weights.numel();
  if (k == 0) fail("no components");
  parts_.means = as_f64(parts_.means);
  if (parts_.means.numel() != k * d) fail(fmt::format("means must be (K, D) = ({}, {})", k, d));
  parts_.means = parts_.means.reshape({k, d});
  parts_.noise_variances = as_f64(parts_.noise_variances).reshape({-1});
  if (parts_.noise_variances.numel() != k) fail("noise_variances needs one value per component");
  if (!parts_.factors.defined() || parts_.factors.numel() == 0) {
    parts_.factors = torch::zeros({k, d, 0}, kF64);
    parts_.factor_variances = torch::zeros({k, 0}, kF64);
  }
  parts_.factors = as_f64(parts_.factors);
  parts_.factor_variances = as_f64(parts_.factor_variances);
  if (parts_.factors.dim() != 3 || parts_.factors.size(0) != k || parts_.factors.size(1) != d)
    fail(fmt::format("factors must be (K, D, R) with K = {}, D = {}", k, d));
  const int64_t r = parts_.factors.size(2);
  if (parts_.factor_variances.numel() != k * r) fail(fmt::format("factor_variances must be (K, R) = ({}, {})", k, r));
  parts_.factor_variances = parts_.factor_variances.reshape({k, r});
  if (!(parts_.weights > 0).all().item<bool>()) fail("weights must be > 0");
  if (!(parts_.noise_variances > 0).all().item<bool>()) fail("noise_variances must be > 0");
  if (!(parts_.factor_variances >= 0).all().item<bool>()) fail("factor_variances must be >= 0");
  for (const auto* t : {&parts_.weights, &parts_.means, &parts_.noise_variances, &parts_.factors, &parts_.factor_variances})
    if (!torch::isfinite(*t).all().item<bool>()) fail("parameters must be finite");
  if (r > 0) {
    const auto gram = torch::matmul(parts_.factors.transpose(1, 2), parts_.factors);
    const double off = (gram - torch::eye(r, kF64).unsqueeze(0)).abs().max().item<double>();
    if (off > 1e-6) fail(fmt::format("factors are not orthonormal (|U^T U - I| = {:.3g})", off));
  }
  parts_.weights = parts_.weights / parts_.weights.sum();
  log_weights_ = parts_.weights.log();
}

GaussianMixture GaussianMixture::load(const std::string& path) {
  const std::vector<std::string> keys = {"shape", "weights", "means", "noise_variances", "factors", "factor_variances"};
  const auto arrays = read_npz(path, keys);
  GaussianMixtureParts parts;
  const auto shape = to_tensor(arrays.at("shape")).to(torch::kInt64).reshape({-1});
  parts.shape.assign(shape.data_ptr<int64_t>(), shape.data_ptr<int64_t>() + shape.numel());
  parts.weights = to_tensor(arrays.at("weights"));
  parts.means = to_tensor(arrays.at("means"));
  parts.noise_variances = to_tensor(arrays.at("noise_variances"));
  parts.factors = to_tensor(arrays.at("factors"));
  parts.factor_variances = to_tensor(arrays.at("factor_variances"));
  if (parts.factors.dim() != 3) throw InputError(path + ": factors must be (K, D, R)");
  return GaussianMixture(std::move(parts), path);
}

void GaussianMixture::save(const std::string& path) const {
  NpzMap arrays;
  arrays["shape"] = from_tensor(torch::tensor(parts_.shape, torch::kInt64));
  arrays["weights"] = from_tensor(parts_.weights);
  arrays["means"] = from_tensor(parts_.means);
  arrays["noise_variances"] = from_tensor(parts_.noise_variances);
  arrays["factors"] = from_tensor(parts_.factors);
  arrays["factor_variances"] = from_tensor(parts_.factor_variances);
  write_npz(path, arrays, NpzCompression::deflated);
}

int64_t GaussianMixture::components() const { return parts_.weights.numel(); }
int64_t GaussianMixture::dimension() const { return parts_.means.size(1); }
int64_t GaussianMixture::rank() const { return parts_.factors.size(2); }

std::string GaussianMixture::fingerprint() const {
  Digest digest(Digest::Kind::sha256);
  const auto shape = torch::tensor(parts_.shape, torch::kInt64);
  for (const auto& t : {shape, parts_.weights, parts_.means, parts_.noise_variances, parts_.factors, parts_.factor_variances}) {
    const auto c = t.contiguous();
    digest.update(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size());
  }
  return digest.hex();
}

namespace {

ComponentTerms component_terms(const GaussianMixtureParts& p, const torch::Tensor& log_weights, const torch::Tensor& x,
                               const torch::Tensor& levels) {
  const int64_t d = p.means.size(1);
  ComponentTerms c;
  c.a = p.noise_variances.unsqueeze(0) + levels.square().unsqueeze(1);  // (N, K)
  c.dist2 = (x.square().sum(1, true) + p.means.square().sum(1).unsqueeze(0) - 2 * x.matmul(p.means.t())).clamp_min(0);
  // U_k^T x - U_k^T m_k
  const auto ux = torch::einsum("nd,kdr->nkr", {x, p.factors});
  const auto um = torch::einsum("kd,kdr->kr", {p.means, p.factors});
  c.proj = ux - um.unsqueeze(0);
  const auto lam = p.factor_variances.unsqueeze(0);  // (1, K, R)
  const auto a3 = c.a.unsqueeze(2);
  c.c = lam / (lam + a3);
  // Woodbury: (a I + U L U^T)^-1 = (I - U diag(c) U^T) / a; log det = (D - R) log a + sum log(a + lambda).
  const auto maha = (c.dist2 - (c.c * c.proj.square()).sum(2)) / c.a;
  const int64_t r = p.factors.size(2);
  const auto logdet = static_cast<double>(d - r) * c.a.log() + (lam + a3).log().sum(2);
  c.log_density = log_weights.unsqueeze(0) - 0.5 * (static_cast<double>(d) * std::log(2 * M_PI) + logdet + maha);
  return c;
}

torch::Tensor flat_rows(const torch::Tensor& x, int64_t d, const char* what) {
  auto f = as_f64(x);
  if (f.dim() == 0 || f.numel() != f.size(0) * d)
    throw InputError(fmt::format("gaussian mixture: {} rows must have {} values each", what, d));
  return f.reshape({f.size(0), d});
}

// Component index per row from uniforms u (N,) and per-row probabilities (N, K).
torch::Tensor pick_components(const torch::Tensor& u, const torch::Tensor& probabilities) {
  const auto cumulative = probabilities.cumsum(1);
  const auto k = (cumulative < u.unsqueeze(1)).sum(1);
  return k.clamp_max(probabilities.size(1) - 1);
}

}  // namespace

torch::Tensor GaussianMixture::sample(int64_t n, torch::Generator generator) const {
  const int64_t d = dimension(), r = rank();
  const auto u = torch::rand({n}, generator, kF64);
  const auto z = torch::randn({n, d}, generator, kF64);
  const auto zr = torch::randn({n, r}, generator, kF64);
  const auto k = pick_components(u, parts_.weights.unsqueeze(0).expand({n, components()}));
  const auto scale = parts_.noise_variances.index_select(0, k).sqrt().unsqueeze(1);
  auto x = parts_.means.index_select(0, k) + scale * z;
  if (r > 0) {
    const auto u_k = parts_.factors.index_select(0, k);                         // (N, D, R)
    const auto coef = parts_.factor_variances.index_select(0, k).sqrt() * zr;  // (N, R)
    x = x + torch::bmm(u_k, coef.unsqueeze(2)).squeeze(2);
  }
  std::vector<int64_t> shape = {n};
  shape.insert(shape.end(), parts_.shape.begin(), parts_.shape.end());
  return x.reshape(shape);
}

torch::Tensor GaussianMixture::log_prob(const torch::Tensor& x, const torch::Tensor& sigma) const {
  const auto flat = flat_rows(x, dimension(), "log_prob");
  const auto terms = component_terms(parts_, log_weights_, flat, row_levels(sigma, flat.size(0)));
  return terms.log_density.logsumexp(1);
}

torch::Tensor GaussianMixture::responsibilities(const torch::Tensor& x, const torch::Tensor& sigma) const {
  const auto flat = flat_rows(x, dimension(), "responsibilities");
  const auto terms = component_terms(parts_, log_weights_, flat, row_levels(sigma, flat.size(0)));
  return terms.log_density.softmax(1);
}

torch::Tensor GaussianMixture::denoise(const torch::Tensor& x, const torch::Tensor& sigma) const {
  const auto flat = flat_rows(x, dimension(), "denoise");
  const auto levels = row_levels(sigma, flat.size(0));
  const auto safe = torch::where(levels > 0, levels, torch::ones_like(levels));
  const auto terms = component_terms(parts_, log_weights_, flat, safe);
  const auto resp = terms.log_density.softmax(1);
  // D = x - sigma^2 sum_k (r_k / a_k) [(x - m_k) - U_k (c_k * proj_k)]
  const auto w = resp / terms.a;  // (N, K)
  auto correction = w.sum(1, true) * flat - w.matmul(parts_.means);
  if (rank() > 0) correction = correction - torch::einsum("nkr,kdr->nd", {w.unsqueeze(2) * terms.c * terms.proj, parts_.factors});
  const auto d = flat - safe.square().unsqueeze(1) * correction;
  const auto out = torch::where((levels > 0).unsqueeze(1), d, flat);
  return out.reshape(x.sizes());
}

torch::Tensor GaussianMixture::sample_posterior(const torch::Tensor& x, const torch::Tensor& sigma,
                                                torch::Generator generator) const {
  const auto flat = flat_rows(x, dimension(), "sample_posterior");
  const int64_t n = flat.size(0), d = dimension(), r = rank();
  const auto levels = row_levels(sigma, n);
  if (!(levels > 0).all().item<bool>()) throw InputError("gaussian mixture: posterior draws need sigma > 0");
  const auto terms = component_terms(parts_, log_weights_, flat, levels);
  const auto resp = terms.log_density.softmax(1);
  const auto u = torch::rand({n}, generator, kF64);
  const auto z = torch::randn({n, d}, generator, kF64);
  const auto k = pick_components(u, resp);
  const auto rows = torch::arange(n, torch::kInt64);
  const auto s2 = levels.square();
  const auto a = terms.a.index({rows, k});            // s_k^2 + sigma^2
  const auto noise = parts_.noise_variances.index_select(0, k);
  // Posterior of component k: mean D_k(x) = x - sigma^2 (Sigma_k + sigma^2)^-1 (x - m_k); covariance
  // sigma^2 Sigma_k (Sigma_k + sigma^2)^-1, whose eigenvalues are e sigma^2 / (e + sigma^2) for each
  // eigenvalue e of Sigma_k (s^2 off the factors, s^2 + lambda along them).
  const auto y = flat - parts_.means.index_select(0, k);
  auto mean = flat - (s2 / a).unsqueeze(1) * y;
  const auto perp = (noise * s2 / a).sqrt().unsqueeze(1);
  auto x0 = mean + perp * z;
  if (r > 0) {
    const auto u_k = parts_.factors.index_select(0, k);  // (N, D, R)
    const auto proj = terms.proj.index({rows, k});         // (N, R)
    const auto c = terms.c.index({rows, k});
    x0 = x0 + (s2 / a).unsqueeze(1) * torch::bmm(u_k, (c * proj).unsqueeze(2)).squeeze(2);
    const auto along = noise.unsqueeze(1) + parts_.factor_variances.index_select(0, k);  // (N, R)
    const auto par = (along * s2.unsqueeze(1) / (along + s2.unsqueeze(1))).sqrt();
    const auto uz = torch::bmm(u_k.transpose(1, 2), z.unsqueeze(2)).squeeze(2);  // (N, R)
    x0 = x0 + torch::bmm(u_k, ((par - perp) * uz).unsqueeze(2)).squeeze(2);
  }
  return x0.reshape(x.sizes());
}

torch::Tensor GaussianMixture::mean() const { return parts_.weights.matmul(parts_.means); }

torch::Tensor GaussianMixture::covariance() const {
  const int64_t d = dimension();
  const auto mu = mean();
  auto cov = torch::diag(torch::full({d}, (parts_.weights * parts_.noise_variances).sum().item<double>(), kF64));
  const auto wm = parts_.means * parts_.weights.sqrt().unsqueeze(1);
  cov = cov + wm.t().matmul(wm) - torch::outer(mu, mu);
  if (rank() > 0) {
    const auto scaled = parts_.factors * (parts_.factor_variances * parts_.weights.unsqueeze(1)).sqrt().unsqueeze(1);
    cov = cov + torch::einsum("kdr,ker->de", {scaled, scaled});
  }
  return cov;
}

GaussianMixture::OdeSolution GaussianMixture::solve_ode(const torch::Tensor& x, const torch::Tensor& from,
                                                         const torch::Tensor& to, double tolerance) const {
  const auto start = flat_rows(x, dimension(), "solve_ode");
  const int64_t n = start.size(0);
  const auto hi = row_levels(from, n), lo_requested = row_levels(to, n);
  if (!(hi >= lo_requested).all().item<bool>() || !(lo_requested >= 0).all().item<bool>() || !(hi > 0).all().item<bool>())
    throw InputError("gaussian mixture: the PF-ODE runs from a level > 0 down to a level >= 0");
  const double s2_min = parts_.noise_variances.min().item<double>();
  const double floor_sigma = 1e-6 * std::sqrt(s2_min);
  const auto lo = lo_requested.clamp_min(floor_sigma);
  const auto moving = (hi > lo).to(torch::kFloat64).unsqueeze(1);
  const auto u0 = hi.log(), u1 = torch::minimum(lo, hi).log();
  // dx/du = x - D(x, e^u), u = log sigma: smooth down to sigma -> 0, where the drift vanishes like sigma^2.
  const auto drift = [&](const torch::Tensor& state, const torch::Tensor& u) { return state - denoise(state, u.exp()); };
  const auto integrate = [&](int64_t steps) {
    const auto h = ((u1 - u0) / static_cast<double>(steps)).unsqueeze(1);
    auto state = start.clone();
    for (int64_t i = 0; i < steps; ++i) {
      const auto u = u0 + (u1 - u0) * (static_cast<double>(i) / static_cast<double>(steps));
      const auto uh = u + h.squeeze(1) * 0.5, uf = u + h.squeeze(1);
      const auto k1 = drift(state, u);
      const auto k2 = drift(state + 0.5 * h * k1, uh);
      const auto k3 = drift(state + 0.5 * h * k2, uh);
      const auto k4 = drift(state + h * k3, uf);
      state = state + moving * (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4);
    }
    return state;
  };
  int64_t steps = 16;
  auto coarse = integrate(steps);
  OdeSolution out;
  while (true) {
    auto fine = integrate(2 * steps);
    const double estimate = (fine - coarse).abs().max().item<double>() / 15.0;
    steps *= 2;
    if (estimate <= tolerance || steps >= 8192) {
      out.x = fine;
      out.error_bound = estimate;
      break;
    }
    coarse = std::move(fine);
  }
  out.steps = steps;
  // Rows asked for a level below the floor: the drift left is at most sigma^2 / s_min^2 |x - m_k| per
  // unit of sigma, so stopping at the floor leaves at most floor^2 / (2 s_min^2) max_k |x - m_k|.
  if ((lo_requested < floor_sigma).any().item<bool>()) {
    const double spread = (out.x.square().sum(1, true) + parts_.means.square().sum(1).unsqueeze(0) -
                           2 * out.x.matmul(parts_.means.t())).clamp_min(0).sqrt().max().item<double>();
    out.error_bound += 0.5 * floor_sigma * floor_sigma / s2_min * spread;
  }
  out.x = out.x.reshape(x.sizes());
  return out;
}

GaussianMixture::OdeSolution GaussianMixture::consistency_function(const torch::Tensor& x_t, const torch::Tensor& t,
                                                                   double tolerance) const {
  return solve_ode(x_t, t, torch::zeros_like(row_levels(t, x_t.size(0))), tolerance);
}

TruthProbes make_truth_probes(const GaussianMixture& mixture, int64_t per_bucket, uint64_t seed) {
  if (per_bucket <= 0) throw InputError("truth probes: per_bucket must be > 0");
  const auto& edges = truth_bucket_edges();
  const int64_t buckets = truth_bucket_count();
  auto generator = make_generator(seed, "truth-probes");
  const int64_t total = per_bucket * buckets;
  TruthProbes p;
  p.x0 = mixture.sample(total, generator);
  const auto eps = torch::randn(p.x0.sizes(), generator, kF64);
  const auto u = torch::rand({total}, generator, kF64);
  p.bucket = torch::arange(total, torch::kInt64).floor_divide(per_bucket);
  const auto lo = torch::tensor(std::vector<double>(edges.begin(), edges.end() - 1), kF64).index_select(0, p.bucket);
  const auto hi = torch::tensor(std::vector<double>(edges.begin() + 1, edges.end()), kF64).index_select(0, p.bucket);
  p.t = (lo.log() + u * (hi.log() - lo.log())).exp();
  std::vector<int64_t> shape(static_cast<size_t>(p.x0.dim()), 1);
  shape[0] = -1;
  p.x_t = p.x0 + p.t.reshape(shape) * eps;
  const auto solution = mixture.consistency_function(p.x_t, p.t);
  p.f_star = solution.x;
  p.error_bound = solution.error_bound;
  return p;
}

}  // namespace cmbench
