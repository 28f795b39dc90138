#include "metrics/swd.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/numpy_random.h"

namespace cmbench {

namespace F = torch::nn::functional;

namespace {

torch::Tensor gaussian_kernel(int64_t channels, double gain) {
  const auto taps = torch::tensor({1.0, 4.0, 6.0, 4.0, 1.0}, torch::kFloat64);
  auto k = (torch::outer(taps, taps) / 256.0 * gain).to(torch::kFloat32);
  return k.view({1, 1, 5, 5}).repeat({channels, 1, 1, 1});
}

torch::Tensor blur(const torch::Tensor& x, double gain) {
  // reflect padding = scipy.ndimage mode 'mirror' = OpenCV BORDER_REFLECT_101.
  const auto padded = F::pad(x, F::PadFuncOptions({2, 2, 2, 2}).mode(torch::kReflect));
  return F::conv2d(padded, gaussian_kernel(x.size(1), gain).to(x.device()), F::Conv2dFuncOptions().groups(x.size(1)));
}

bool is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

constexpr int64_t kChannels = 3;

// Level `level` of the Laplacian pyramid of images [begin, end), float32 (b, 3, s, s) on the CPU:
// the same operations as laplacian_pyramid, for one batch and one level.
torch::Tensor pyramid_level(const torch::Tensor& images, int64_t begin, int64_t end, int64_t level, int64_t num_levels) {
  auto gaussian = images.slice(0, begin, end).to(torch::kCPU).permute({0, 3, 1, 2}).to(torch::kFloat32).contiguous();
  for (int64_t i = 0; i < level; ++i) gaussian = pyr_down(gaussian);
  if (level == num_levels - 1) return gaussian;
  return gaussian - pyr_up(pyr_down(gaussian));
}

struct Neighborhoods {
  int64_t per_image = 0, size = 0;
  std::vector<int32_t> corners;  // per row: offset of the top-left pixel of its window in the image plane
};

// (b, 1, s, s) float64: how many windows of images [begin, end) cover each pixel, i.e. how often the
// descriptors count it.
torch::Tensor window_coverage(const Neighborhoods& nh, int64_t begin, int64_t end, int64_t side) {
  auto coverage = torch::zeros({end - begin, 1, side, side}, torch::kFloat64);
  double* out = coverage.data_ptr<double>();
  for (int64_t row = begin * nh.per_image; row < end * nh.per_image; ++row) {
    double* window = out + (row / nh.per_image - begin) * side * side + nh.corners[static_cast<size_t>(row)];
    for (int64_t dy = 0; dy < nh.size; ++dy)
      for (int64_t dx = 0; dx < nh.size; ++dx) window[dy * side + dx] += 1.0;
  }
  return coverage;
}

// One set's level for all n images, float32 (n, 3, s, s), standardized per channel with the mean
// and population std over all descriptors and their positions (PGGAN's finalize_descriptors:
// desc -= mean over axes (0, 2, 3); desc /= std). The standardization is per channel and
// elementwise, so applying it to the level gives exactly the standardized descriptors, computed
// from the float32 values in float64. The statistics weight each pixel by how many windows cover
// it: the mean first, then the centered squares, in float64.
torch::Tensor normalized_level(const torch::Tensor& images, int64_t n, int64_t level, int64_t num_levels,
                               const Neighborhoods& nh, int64_t batch) {
  const int64_t side = images.size(1) >> level;
  auto normalized = torch::empty({n, kChannels, side, side}, torch::kFloat32);
  const std::vector<int64_t> sum_dims{0, 2, 3};
  auto sums = torch::zeros({kChannels}, torch::kFloat64);
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t end = std::min(n, begin + batch);
    auto part = normalized.slice(0, begin, end);
    part.copy_(pyramid_level(images, begin, end, level, num_levels));
    sums += (part.to(torch::kFloat64) * window_coverage(nh, begin, end, side)).sum(sum_dims);
  }
  const double count = static_cast<double>(n * nh.per_image * nh.size * nh.size);
  const auto mean = (sums / count).view({1, kChannels, 1, 1});
  auto squares = torch::zeros({kChannels}, torch::kFloat64);
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t end = std::min(n, begin + batch);
    const auto centered = normalized.slice(0, begin, end).to(torch::kFloat64) - mean;
    squares += (centered.square() * window_coverage(nh, begin, end, side)).sum(sum_dims);
  }
  auto std = (squares / count).sqrt().view({1, kChannels, 1, 1});
  std = torch::where(std > 0, std, torch::ones_like(std));  // a constant channel stays 0, not NaN
  for (int64_t begin = 0; begin < n; begin += batch) {
    auto part = normalized.slice(0, begin, std::min(n, begin + batch));
    part.copy_((part.to(torch::kFloat64) - mean) / std);
  }
  return normalized;
}

// projections (c, rows) = directions^T (c, dims) x descriptors^T, the descriptors (rows, dims)
// gathered from the level one image batch at a time (row r: image r / per_image) and never stored.
void project(const torch::Tensor& level, const Neighborhoods& nh, const torch::Tensor& directions, int64_t batch,
             torch::Tensor projections) {
  const int64_t n = level.size(0), side = level.size(2), plane = side * side;
  const int64_t dims = kChannels * nh.size * nh.size;
  const auto directions_t = directions.t().contiguous();
  const float* pixels = level.data_ptr<float>();
  auto descriptors = torch::empty({std::min(n, batch) * nh.per_image, dims}, torch::kFloat32);
  float* out = descriptors.data_ptr<float>();
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t first_row = begin * nh.per_image, rows = (std::min(n, begin + batch) - begin) * nh.per_image;
    at::parallel_for(0, rows, 1024, [&](int64_t row_begin, int64_t row_end) {
      for (int64_t i = row_begin; i < row_end; ++i) {
        const int64_t row = first_row + i;
        const float* window = pixels + (row / nh.per_image) * kChannels * plane + nh.corners[static_cast<size_t>(row)];
        float* descriptor = out + i * dims;
        for (int64_t channel = 0; channel < kChannels; ++channel)
          for (int64_t dy = 0; dy < nh.size; ++dy, descriptor += nh.size)
            std::copy_n(window + channel * plane + dy * side, nh.size, descriptor);
      }
    });
    // BLAS writes straight into the strided block of the projections.
    auto block = projections.slice(1, first_row, first_row + rows);
    torch::mm_out(block, directions_t, descriptors.slice(0, 0, rows).t());
  }
}

// Order-preserving map of float32 bit patterns to unsigned integers (negatives reversed below the
// positives), so that sorting the keys sorts the values; -0 comes just before +0.
uint32_t order_key(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

float from_order_key(uint32_t key) {
  const uint32_t bits = (key & 0x80000000u) ? (key & 0x7fffffffu) : ~key;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Ascending sort of `count` floats in place: least-significant-digit radix sort, four passes of
// 8 bits (a comparison sort of millions of projections per direction is several times slower and
// sorts to the same values). keys and spare each hold count values.
void radix_sort(float* values, int64_t count, uint32_t* keys, uint32_t* spare) {
  std::array<std::array<int64_t, 256>, 4> offsets{};
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t key = order_key(values[i]);
    keys[i] = key;
    for (int pass = 0; pass < 4; ++pass) ++offsets[pass][(key >> (8 * pass)) & 0xffu];
  }
  for (auto& pass_offsets : offsets) {
    int64_t start = 0;
    for (auto& bucket : pass_offsets) start += std::exchange(bucket, start);
  }
  for (int pass = 0; pass < 3; ++pass) {
    auto& pass_offsets = offsets[static_cast<size_t>(pass)];
    for (int64_t i = 0; i < count; ++i) spare[pass_offsets[(keys[i] >> (8 * pass)) & 0xffu]++] = keys[i];
    std::swap(keys, spare);
  }
  for (int64_t i = 0; i < count; ++i) values[offsets[3][keys[i] >> 24]++] = from_order_key(keys[i]);
}

// Sorts each direction's projections of both sets; sums[j] = sum over ranks of |a - b| (the
// difference in float32, as PGGAN subtracts the sorted float32 projections, summed in float64).
void sort_and_compare(torch::Tensor projections_a, torch::Tensor projections_b, double* sums) {
  const int64_t chunk = projections_a.size(0), rows = projections_a.size(1);
  float* a = projections_a.data_ptr<float>();
  float* b = projections_b.data_ptr<float>();
  at::parallel_for(0, chunk, 1, [&](int64_t begin, int64_t end) {
    std::vector<uint32_t> keys(static_cast<size_t>(rows)), spare(static_cast<size_t>(rows));
    for (int64_t j = begin; j < end; ++j) {
      float* sorted_a = a + j * rows;
      float* sorted_b = b + j * rows;
      radix_sort(sorted_a, rows, keys.data(), spare.data());
      radix_sort(sorted_b, rows, keys.data(), spare.data());
      double sum = 0.0;
      for (int64_t i = 0; i < rows; ++i) sum += std::abs(static_cast<double>(sorted_a[i] - sorted_b[i]));
      sums[j] = sum;
    }
  });
}

}  // namespace

torch::Tensor pyr_down(const torch::Tensor& images) {
  return blur(images, 1.0).slice(2, 0, c10::nullopt, 2).slice(3, 0, c10::nullopt, 2).contiguous();
}

torch::Tensor pyr_up(const torch::Tensor& images) {
  auto up = torch::zeros({images.size(0), images.size(1), images.size(2) * 2, images.size(3) * 2}, images.options());
  up.slice(2, 0, c10::nullopt, 2).slice(3, 0, c10::nullopt, 2).copy_(images);
  return blur(up, 4.0);
}

std::vector<torch::Tensor> laplacian_pyramid(const torch::Tensor& images, int64_t num_levels) {
  std::vector<torch::Tensor> pyramid{images};
  for (int64_t i = 1; i < num_levels; ++i) {
    auto smaller = pyr_down(pyramid.back());
    pyramid.back() = pyramid.back() - pyr_up(smaller);
    pyramid.push_back(smaller);
  }
  return pyramid;
}

SwdResult sliced_wasserstein(const torch::Tensor& images_a, const torch::Tensor& images_b, const SwdOptions& options) {
  for (const auto* images : {&images_a, &images_b}) {
    if (images->dim() != 4 || images->scalar_type() != torch::kUInt8 || images->size(3) != 3) {
      throw InputError("SWD: images must be uint8 (N, H, W, 3)");
    }
  }
  if (images_a.size(1) != images_b.size(1) || images_a.size(2) != images_b.size(2)) {
    throw InputError(fmt::format("SWD: image sizes differ ({}x{} vs {}x{})", images_a.size(1), images_a.size(2),
                                 images_b.size(1), images_b.size(2)));
  }
  const int64_t size = images_a.size(1);
  if (images_a.size(2) != size || !is_power_of_two(size) || size < options.min_resolution()) {
    throw InputError(fmt::format("SWD: images must be square with a power-of-two side >= {}, found {}x{}",
                                 options.min_resolution(), images_a.size(1), images_a.size(2)));
  }
  if (options.image_batch() < 1 || options.direction_chunk() < 1) {
    throw InputError(fmt::format("SWD: image_batch and direction_chunk must be >= 1, got {} and {}",
                                 options.image_batch(), options.direction_chunk()));
  }
  const int64_t n = std::min(images_a.size(0), images_b.size(0));
  if (n < 1) throw InputError("SWD: no images");
  int64_t num_levels = 0;
  SwdResult result;
  for (int64_t s = size; s >= options.min_resolution(); s /= 2) {
    result.resolutions.push_back(s);
    ++num_levels;
  }
  NumpyRandomState rng(static_cast<uint32_t>(options.seed()));
  Neighborhoods nh;
  nh.per_image = options.nhoods_per_image();
  nh.size = options.nhood_size();
  const int64_t half = nh.size / 2;
  const int64_t rows = n * nh.per_image;
  const int64_t dims = kChannels * nh.size * nh.size;
  const int64_t num_directions = options.dir_repeats() * options.dirs_per_repeat();
  const int64_t chunk = std::min(options.direction_chunk(), num_directions);
  for (int64_t level = 0; level < num_levels; ++level) {
    const int64_t s = result.resolutions[static_cast<size_t>(level)];
    // Centers drawn once and shared by both sets (x for all rows, then y, as PGGAN draws them).
    nh.corners.resize(static_cast<size_t>(rows));
    for (auto& corner : nh.corners) corner = static_cast<int32_t>(rng.randint(half, s - half) - half);
    for (auto& corner : nh.corners) corner += static_cast<int32_t>((rng.randint(half, s - half) - half) * s);
    // Per repeat randn(dims, dirs) in row-major draw order, each column normalized to unit length.
    std::vector<torch::Tensor> repeats;
    for (int64_t repeat = 0; repeat < options.dir_repeats(); ++repeat) {
      std::vector<double> values(static_cast<size_t>(dims * options.dirs_per_repeat()));
      for (auto& v : values) v = rng.gauss();
      auto dirs = torch::tensor(values, torch::kFloat64).view({dims, options.dirs_per_repeat()});
      repeats.push_back((dirs / dirs.square().sum(0, true).sqrt()).to(torch::kFloat32));
    }
    const auto directions = torch::cat(repeats, 1);
    const auto level_a = normalized_level(images_a, n, level, num_levels, nh, options.image_batch());
    const auto level_b = normalized_level(images_b, n, level, num_levels, nh, options.image_batch());
    auto projections_a = torch::empty({chunk, rows}, torch::kFloat32);
    auto projections_b = torch::empty({chunk, rows}, torch::kFloat32);
    std::vector<double> sums(static_cast<size_t>(num_directions));
    for (int64_t first = 0; first < num_directions; first += chunk) {
      const int64_t count = std::min(chunk, num_directions - first);
      const auto dirs = directions.slice(1, first, first + count).contiguous();
      auto chunk_a = projections_a.slice(0, 0, count), chunk_b = projections_b.slice(0, 0, count);
      project(level_a, nh, dirs, options.image_batch(), chunk_a);
      project(level_b, nh, dirs, options.image_batch(), chunk_b);
      sort_and_compare(chunk_a, chunk_b, sums.data() + first);
    }
    // The mean over repeats of each repeat's mean over ranks and directions, all equally many.
    double total = 0.0;
    for (double v : sums) total += v;
    result.levels.push_back(total / static_cast<double>(rows * num_directions) * 1e3);
  }
  for (double v : result.levels) result.average += v;
  result.average /= static_cast<double>(result.levels.size());
  return result;
}

}  // namespace cmbench
