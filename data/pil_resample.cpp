#include "data/pil_resample.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace cmbench {

namespace {

// The filters of Resample.c: box_filter, bicubic_filter, lanczos_filter (sinc(x) sinc(x/3)).
double box_weight(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }

double bicubic_weight(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

constexpr double kPi = 3.14159265358979323846;  // M_PI, which Resample.c uses

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * kPi;
  return std::sin(x) / x;
}

double lanczos_weight(double x) { return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0; }

struct Filter {
  double (*weight)(double);
  double support;
};

Filter filter_of(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::box: return {box_weight, 0.5};
    case ResampleFilter::bicubic: return {bicubic_weight, 2.0};
    case ResampleFilter::lanczos: return {lanczos_weight, 3.0};
  }
  throw std::logic_error("pil_resize: unknown filter");
}

// 8 bits of result plus 2 for the overshoot of negative lobes, in a 32-bit int (PRECISION_BITS).
constexpr int kPrecisionBits = 32 - 8 - 2;

// For each output pixel the first input pixel, the number of taps and the fixed-point weights
// (precompute_coeffs followed by normalize_coeffs_8bpc).
struct Taps {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;  // out_size * ksize
};

Taps precompute_taps(int in_size, int out_size, const Filter& filter) {
  // Pillow passes the box (0, 0, width, height) as floats.
  const float in0 = 0.0F, in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter.support * filterscale;
  Taps taps;
  taps.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first.resize(static_cast<size_t>(out_size));
  taps.count.resize(static_cast<size_t>(out_size));
  taps.weights.assign(static_cast<size_t>(out_size) * static_cast<size_t>(taps.ksize), 0);
  const double inv_filterscale = 1.0 / filterscale;
  std::vector<double> k(static_cast<size_t>(taps.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double sum = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[static_cast<size_t>(x)] = filter.weight((x + xmin - center + 0.5) * inv_filterscale);
      sum += k[static_cast<size_t>(x)];
    }
    int32_t* out = &taps.weights[static_cast<size_t>(xx) * static_cast<size_t>(taps.ksize)];
    for (int x = 0; x < xmax; ++x) {
      const double w = sum != 0.0 ? k[static_cast<size_t>(x)] / sum : k[static_cast<size_t>(x)];
      out[x] = static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    taps.first[static_cast<size_t>(xx)] = xmin;
    taps.count[static_cast<size_t>(xx)] = xmax;
  }
  return taps;
}

// clip8: the accumulator (which starts at one half) shifted down and clamped to 0..255.
uint8_t clip8(int32_t sum) { return static_cast<uint8_t>(std::clamp(sum >> kPrecisionBits, 0, 255)); }

DecodedImage resample_horizontal(const DecodedImage& in, int out_width, const Taps& taps) {
  DecodedImage out(in.height, out_width, in.channels);
  const int64_t c = in.channels;
  for (int64_t y = 0; y < in.height; ++y) {
    const uint8_t* row = &in.pixels[static_cast<size_t>(y * in.width * c)];
    uint8_t* dst = &out.pixels[static_cast<size_t>(y * out_width * c)];
    for (int xx = 0; xx < out_width; ++xx) {
      const int32_t* k = &taps.weights[static_cast<size_t>(xx) * static_cast<size_t>(taps.ksize)];
      const int xmin = taps.first[static_cast<size_t>(xx)], xmax = taps.count[static_cast<size_t>(xx)];
      for (int64_t ch = 0; ch < c; ++ch) {
        int32_t sum = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < xmax; ++x) sum += row[(x + xmin) * c + ch] * k[x];
        dst[xx * c + ch] = clip8(sum);
      }
    }
  }
  return out;
}

DecodedImage resample_vertical(const DecodedImage& in, int out_height, const Taps& taps) {
  DecodedImage out(out_height, in.width, in.channels);
  const int64_t row_bytes = in.width * in.channels;
  for (int yy = 0; yy < out_height; ++yy) {
    const int32_t* k = &taps.weights[static_cast<size_t>(yy) * static_cast<size_t>(taps.ksize)];
    const int ymin = taps.first[static_cast<size_t>(yy)], ymax = taps.count[static_cast<size_t>(yy)];
    uint8_t* dst = &out.pixels[static_cast<size_t>(yy * row_bytes)];
    for (int64_t i = 0; i < row_bytes; ++i) {
      int32_t sum = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < ymax; ++y) sum += in.pixels[static_cast<size_t>((y + ymin) * row_bytes + i)] * k[y];
      dst[i] = clip8(sum);
    }
  }
  return out;
}

}  // namespace

DecodedImage pil_resize(const DecodedImage& image, int64_t width, int64_t height, ResampleFilter filter) {
  if (width < 1 || height < 1 || image.width < 1 || image.height < 1) {
    throw std::invalid_argument("pil_resize: sizes must be at least 1x1");
  }
  const Filter f = filter_of(filter);
  // ImagingResampleInner computes only the rows the vertical pass reads in the horizontal pass;
  // computing them all gives the same result.
  DecodedImage result = image;
  if (width != image.width) {
    result = resample_horizontal(result, static_cast<int>(width),
                                 precompute_taps(static_cast<int>(image.width), static_cast<int>(width), f));
  }
  if (height != image.height) {
    result = resample_vertical(result, static_cast<int>(height),
                               precompute_taps(static_cast<int>(image.height), static_cast<int>(height), f));
  }
  return result;
}

}  // namespace cmbench
