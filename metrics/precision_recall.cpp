#include "metrics/precision_recall.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

namespace {

// float32 values -> nearest float16 (ties to even), kept in float32 storage.
torch::Tensor half(const torch::Tensor& x) { return x.to(torch::kHalf).to(torch::kFloat32); }

// float64 values -> nearest float16, in float32 storage. A direct float64 -> float32 -> float16
// conversion can round twice the wrong way; rounding to float32 "to odd" first (truncate, then set
// the last bit when inexact) makes the second rounding exact, since float32 has 24 >= 11 + 2 bits.
torch::Tensor round_to_half(const torch::Tensor& d) {
  const auto f = d.to(torch::kFloat32).contiguous();
  const auto back = f.to(torch::kFloat64);
  const auto away = (back.abs() > d.abs()).to(torch::kInt32);  // rounded up in magnitude
  const auto inexact = (back != d).to(torch::kInt32);
  // Integer steps of the bit pattern move the magnitude by one ulp for either sign.
  const auto odd = torch::bitwise_or(f.view(torch::kInt32) - away, inexact);
  return half(odd.view(torch::kFloat32));
}

// Squared norms of the rows, in row chunks (never a second (N, D) float64 copy).
template <class F>
torch::Tensor chunked_norms(const torch::Tensor& x, F&& per_chunk) {
  auto out = torch::empty({x.size(0)}, x.options().dtype(torch::kFloat32));
  constexpr int64_t chunk = 4096;
  for (int64_t b = 0; b < x.size(0); b += chunk) {
    const int64_t e = std::min(b + chunk, x.size(0));
    out.slice(0, b, e).copy_(per_chunk(x.slice(0, b, e)));
  }
  return out;
}

// One set as the protocols see it: float16-rounded features and norms, and for guided-diffusion's
// fallback the float32 features and float32 norms.
struct Prepared {
  torch::Tensor h;          // float16 (half the memory of the float32 features)
  torch::Tensor norm16;     // float32 storage of float16 values
  torch::Tensor f, norm32;  // float32
};

Prepared prepare(const torch::Tensor& features, PrProtocol protocol) {
  Prepared p;
  p.f = features.to(torch::kFloat32).contiguous();  // the references take float32 features
  p.h = p.f.to(torch::kHalf);
  // float16 squares (exact in float32, then rounded), summed exactly, rounded once.
  p.norm16 = chunked_norms(p.f, [](const torch::Tensor& c) {
    const auto h = half(c);
    return round_to_half(half(h * h).to(torch::kFloat64).sum(1));
  });
  if (protocol == PrProtocol::guided_diffusion) {
    p.norm32 = chunked_norms(p.f, [](const torch::Tensor& c) { return (c * c).to(torch::kFloat64).sum(1).to(torch::kFloat32); });
  } else {
    p.f = torch::Tensor();
  }
  return p;
}

// Distances of rows [r0, r1) of u against rows [c0, c1) of v.
torch::Tensor tile(const Prepared& u, int64_t r0, int64_t r1, const Prepared& v, int64_t c0, int64_t c1,
                   PrProtocol protocol, bool float32) {
  if (protocol == PrProtocol::stylegan2_ada) {
    // cdist's matmul path: [-2u, |u|^2, 1] . [v, 1, |v|^2], one float16 rounding, clamp, sqrt.
    const auto dot = torch::matmul(u.h.slice(0, r0, r1).to(torch::kFloat64), v.h.slice(0, c0, c1).to(torch::kFloat64).t());
    const auto s = dot * -2.0 + u.norm16.slice(0, r0, r1).to(torch::kFloat64).unsqueeze(1) +
                   v.norm16.slice(0, c0, c1).to(torch::kFloat64).unsqueeze(0);
    return half(round_to_half(s).clamp_min(0).sqrt());
  }
  if (float32) {
    const auto dot = torch::matmul(u.f.slice(0, r0, r1).to(torch::kFloat64), v.f.slice(0, c0, c1).to(torch::kFloat64).t())
                         .to(torch::kFloat32);
    return ((u.norm32.slice(0, r0, r1).unsqueeze(1) - dot * 2.0f) + v.norm32.slice(0, c0, c1).unsqueeze(0)).clamp_min(0);
  }
  const auto dot = round_to_half(
      torch::matmul(u.h.slice(0, r0, r1).to(torch::kFloat64), v.h.slice(0, c0, c1).to(torch::kFloat64).t()));
  const auto twice = half(dot * 2.0f);  // exact unless it overflows float16
  const auto a = half(u.norm16.slice(0, r0, r1).unsqueeze(1) - twice);
  return half(a + v.norm16.slice(0, c0, c1).unsqueeze(0)).clamp_min(0);
}

void check_set(const torch::Tensor& x, const char* which, int64_t k) {
  if (!x.defined() || x.dim() != 2) throw InputError(fmt::format("precision/recall: {} features must be a (N, D) matrix", which));
  if (!x.is_floating_point()) throw InputError(fmt::format("precision/recall: {} features must be floating point", which));
  if (x.size(1) < 1) throw InputError(fmt::format("precision/recall: {} features have no columns", which));
  if (x.size(0) <= k) {
    throw InputError(fmt::format("precision/recall: {} set has {} feature vector(s); the k = {} neighbourhood needs at least {}",
                                 which, x.size(0), k, k + 1));
  }
  if (!torch::isfinite(x).all().item<bool>()) {
    throw InputError(fmt::format("precision/recall: {} features contain NaN or Inf", which));
  }
}

void check_options(const PrecisionRecallOptions& o) {
  if (o.k() < 1) throw InputError(fmt::format("precision/recall: k must be positive, got {}", o.k()));
  if (o.block_size() < 1) throw InputError(fmt::format("precision/recall: block size must be positive, got {}", o.block_size()));
  if (o.fallback_block() < 1) {
    throw InputError(fmt::format("precision/recall: fallback block must be positive, got {}", o.fallback_block()));
  }
}

// The reference's batch: guided-diffusion decides float16 or float32 per fallback block; StyleGAN2-ADA
// has no fallback, so one batch covers everything.
int64_t batch_of(const PrecisionRecallOptions& o, int64_t n) {
  return o.protocol() == PrProtocol::guided_diffusion ? o.fallback_block() : std::max<int64_t>(n, 1);
}

void require_finite_fallback(const torch::Tensor& d) {
  if (!torch::isfinite(d).all().item<bool>()) {
    throw InputError("precision/recall: features too large for float32 distances (Inf or NaN)");
  }
}

// The k+1 smallest distances of rows [r0, r1) of p against columns [c0, c1) of p, (r1 - r0, k + 1)
// ascending, +Inf where there are fewer columns. `finite` turns false on an Inf or NaN distance.
torch::Tensor smallest_in_block(const Prepared& p, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                                const PrecisionRecallOptions& o, bool float32, bool& finite) {
  const int64_t kk = o.k() + 1;
  auto best = torch::full({r1 - r0, kk}, std::numeric_limits<float>::infinity(), p.norm16.options());
  for (int64_t b0 = c0; b0 < c1; b0 += o.block_size()) {
    const int64_t b1 = std::min(b0 + o.block_size(), c1);
    for (int64_t a0 = r0; a0 < r1; a0 += o.block_size()) {
      const int64_t a1 = std::min(a0 + o.block_size(), r1);
      const auto d = tile(p, a0, a1, p, b0, b1, o.protocol(), float32);
      if (o.protocol() == PrProtocol::guided_diffusion) {
        if (float32) {
          require_finite_fallback(d);
        } else if (!torch::isfinite(d).all().item<bool>()) {
          finite = false;
          return best;
        }
      }
      auto rows = best.slice(0, a0 - r0, a1 - r0);
      rows.copy_(std::get<0>(torch::cat({rows, d}, 1).topk(kk, 1, /*largest=*/false, /*sorted=*/true)));
    }
  }
  return best;
}

torch::Tensor radii_of(const Prepared& p, const PrecisionRecallOptions& o) {
  const int64_t n = p.h.size(0), kk = o.k() + 1, batch = batch_of(o, n);
  auto radii = torch::empty({n}, p.norm16.options());
  for (int64_t r0 = 0; r0 < n; r0 += batch) {
    const int64_t r1 = std::min(r0 + batch, n);
    auto best = torch::full({r1 - r0, kk}, std::numeric_limits<float>::infinity(), p.norm16.options());
    for (int64_t c0 = 0; c0 < n; c0 += batch) {
      const int64_t c1 = std::min(c0 + batch, n);
      bool finite = true;
      auto cand = smallest_in_block(p, r0, r1, c0, c1, o, false, finite);
      if (!finite) cand = smallest_in_block(p, r0, r1, c0, c1, o, true, finite);  // guided-diffusion's fallback
      best = std::get<0>(torch::cat({best, cand}, 1).topk(kk, 1, /*largest=*/false, /*sorted=*/true));
    }
    radii.slice(0, r0, r1).copy_(best.select(1, kk - 1));
  }
  return radii;
}

// Within one reference batch x generated batch: which reference rows lie in some generated
// neighbourhood, and which generated rows in some reference neighbourhood.
bool cross_block(const Prepared& ref, const torch::Tensor& ref_radii, int64_t r0, int64_t r1, const Prepared& gen,
                 const torch::Tensor& gen_radii, int64_t c0, int64_t c1, const PrecisionRecallOptions& o, bool float32,
                 torch::Tensor& ref_in, torch::Tensor& gen_in) {
  ref_in = torch::zeros({r1 - r0}, ref.norm16.options().dtype(torch::kBool));
  gen_in = torch::zeros({c1 - c0}, ref.norm16.options().dtype(torch::kBool));
  for (int64_t a0 = r0; a0 < r1; a0 += o.block_size()) {
    const int64_t a1 = std::min(a0 + o.block_size(), r1);
    for (int64_t b0 = c0; b0 < c1; b0 += o.block_size()) {
      const int64_t b1 = std::min(b0 + o.block_size(), c1);
      const auto d = tile(ref, a0, a1, gen, b0, b1, o.protocol(), float32);  // u = the reference sample
      if (o.protocol() == PrProtocol::guided_diffusion) {
        if (float32) {
          require_finite_fallback(d);
        } else if (!torch::isfinite(d).all().item<bool>()) {
          return false;
        }
      }
      auto ref_part = ref_in.slice(0, a0 - r0, a1 - r0);
      ref_part.logical_or_((d <= gen_radii.slice(0, b0, b1).unsqueeze(0)).any(1));
      auto gen_part = gen_in.slice(0, b0 - c0, b1 - c0);
      gen_part.logical_or_((d <= ref_radii.slice(0, a0, a1).unsqueeze(1)).any(0));
    }
  }
  return true;
}

}  // namespace

torch::Tensor pr_pairwise_distances(const torch::Tensor& u, const torch::Tensor& v, PrProtocol protocol, bool float32) {
  if (u.dim() != 2 || v.dim() != 2 || u.size(1) != v.size(1)) {
    throw InputError("precision/recall: distances need two (N, D) matrices of one width");
  }
  const auto pu = prepare(u, PrProtocol::guided_diffusion);
  const auto pv = prepare(v, PrProtocol::guided_diffusion);
  return tile(pu, 0, u.size(0), pv, 0, v.size(0), protocol, float32);
}

torch::Tensor manifold_radii(const torch::Tensor& features, const PrecisionRecallOptions& options) {
  check_options(options);
  check_set(features, "the", options.k());
  return radii_of(prepare(features, options.protocol()), options);
}

PrecisionRecallResult precision_recall(const torch::Tensor& reference, const torch::Tensor& generated,
                                       const PrecisionRecallOptions& options) {
  check_options(options);
  check_set(reference, "reference", options.k());
  check_set(generated, "generated", options.k());
  if (reference.size(1) != generated.size(1)) {
    throw InputError(fmt::format("precision/recall: feature widths differ (reference {}, generated {})", reference.size(1),
                                 generated.size(1)));
  }
  if (reference.device() != generated.device()) {
    throw InputError("precision/recall: reference and generated features are on different devices");
  }
  const auto ref = prepare(reference, options.protocol());
  const auto gen = prepare(generated, options.protocol());
  const auto ref_radii = radii_of(ref, options);
  const auto gen_radii = radii_of(gen, options);

  const int64_t n1 = reference.size(0), n2 = generated.size(0);
  auto ref_status = torch::zeros({n1}, ref.norm16.options().dtype(torch::kBool));
  auto gen_status = torch::zeros({n2}, ref.norm16.options().dtype(torch::kBool));
  const int64_t rb = batch_of(options, n1), cb = batch_of(options, n2);
  for (int64_t r0 = 0; r0 < n1; r0 += rb) {
    const int64_t r1 = std::min(r0 + rb, n1);
    for (int64_t c0 = 0; c0 < n2; c0 += cb) {
      const int64_t c1 = std::min(c0 + cb, n2);
      torch::Tensor ref_in, gen_in;
      if (!cross_block(ref, ref_radii, r0, r1, gen, gen_radii, c0, c1, options, false, ref_in, gen_in)) {
        cross_block(ref, ref_radii, r0, r1, gen, gen_radii, c0, c1, options, true, ref_in, gen_in);
      }
      ref_status.slice(0, r0, r1).logical_or_(ref_in);
      gen_status.slice(0, c0, c1).logical_or_(gen_in);
    }
  }
  PrecisionRecallResult result;
  result.num_reference = n1;
  result.num_generated = n2;
  result.precision_count = gen_status.sum().item<int64_t>();
  result.recall_count = ref_status.sum().item<int64_t>();
  result.precision = static_cast<double>(result.precision_count) / static_cast<double>(n2);
  result.recall = static_cast<double>(result.recall_count) / static_cast<double>(n1);
  return result;
}

}  // namespace cmbench
