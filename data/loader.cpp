#include "data/loader.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include "core/error.h"
#include "core/seed.h"

namespace cmbench {

torch::Tensor to_network_range(const torch::Tensor& images_nhwc) {
  if (images_nhwc.dim() != 4 || images_nhwc.scalar_type() != torch::kUInt8)
    throw std::invalid_argument("to_network_range: expects uint8 (N, H, W, C) images");
  return images_nhwc.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(127.5).sub_(1.0);
}

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; --i) {
    // Unbiased draw in [0, i] by rejection.
    const uint64_t range = static_cast<uint64_t>(i) + 1;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t draw = 0;
    do {
      state += 0x9E3779B97F4A7C15ULL;
      draw = splitmix64(state);
    } while (draw >= limit);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(draw % range)]);
  }
  return order;
}

DataLoader::DataLoader(std::shared_ptr<const ImageSource> source, LoaderOptions options, int64_t start_step)
    : source_(std::move(source)), options_(options), next_step_(start_step) {
  if (options_.batch_size <= 0) throw InputError(fmt::format("{}: batch size must be positive", source_->name()));
  if (start_step < 0) throw InputError(fmt::format("{}: negative start step {}", source_->name(), start_step));
  const int64_t count = source_->size();
  if (count == 0) throw InputError(fmt::format("{}: no images to load", source_->name()));
  if (options_.subset < 0 || options_.subset > count) {
    throw InputError(fmt::format("{}: subset of {} images requested, the source has {}", source_->name(),
                                 options_.subset, count));
  }
  if (options_.shard_end != 0 &&
      (options_.shard_begin < 0 || options_.shard_begin >= options_.shard_end || options_.shard_end > options_.batch_size)) {
    throw InputError(fmt::format("{}: shard [{}, {}) is not inside a batch of {}", source_->name(), options_.shard_begin,
                                 options_.shard_end, options_.batch_size));
  }
  const int64_t used = options_.subset > 0 ? options_.subset : count;
  if (options_.subset > 0 && options_.subset_random) {
    pool_ = seeded_permutation(count, derive_seed(options_.seed, "data.subset"));
    pool_.resize(static_cast<size_t>(used));
    std::sort(pool_.begin(), pool_.end());
  } else {
    pool_.resize(static_cast<size_t>(used));
    std::iota(pool_.begin(), pool_.end(), 0);
  }
  if (options_.prefetch > 0) worker_ = std::thread([this] { produce(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stopping_ = true;
  }
  queue_changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

const std::vector<int64_t>& DataLoader::epoch_order(int64_t epoch) const {
  // Called with order_mutex_ held.
  if (cached_epoch_ != epoch) {
    cached_order_ = options_.shuffle ? seeded_permutation(images_per_epoch(), derive_seed(options_.seed, "data.shuffle", static_cast<uint64_t>(epoch)))
                                     : std::vector<int64_t>();
    if (!options_.shuffle) {
      cached_order_.resize(pool_.size());
      std::iota(cached_order_.begin(), cached_order_.end(), 0);
    }
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

void DataLoader::plan(int64_t step, std::vector<int64_t>& indices, std::vector<bool>& flips) const {
  const int64_t b = options_.batch_size;
  const int64_t m = images_per_epoch();
  indices.resize(static_cast<size_t>(b));
  flips.assign(static_cast<size_t>(b), false);
  std::lock_guard<std::mutex> lock(order_mutex_);
  for (int64_t j = 0; j < b; ++j) {
    const int64_t position = step * b + j;
    const auto& order = epoch_order(position / m);
    indices[static_cast<size_t>(j)] = pool_[static_cast<size_t>(order[static_cast<size_t>(position % m)])];
    if (options_.flip) flips[static_cast<size_t>(j)] = derive_seed(options_.seed, "data.flip", static_cast<uint64_t>(position)) & 1;
  }
}

Batch DataLoader::make_batch(int64_t step) const {
  std::vector<int64_t> indices;
  std::vector<bool> flips;
  plan(step, indices, flips);
  Batch batch;
  batch.step = step;
  batch.epoch = step * options_.batch_size / images_per_epoch();
  const auto all_indices = torch::tensor(indices, torch::TensorOptions().dtype(torch::kInt64));
  if (source_->has_labels()) batch.batch_labels = source_->labels().index_select(0, all_indices);
  if (options_.shard_end > 0) {
    indices = std::vector<int64_t>(indices.begin() + options_.shard_begin, indices.begin() + options_.shard_end);
    flips = std::vector<bool>(flips.begin() + options_.shard_begin, flips.begin() + options_.shard_end);
  }
  batch.indices = torch::tensor(indices, torch::TensorOptions().dtype(torch::kInt64));
  torch::Tensor images = source_->read_indices(indices).contiguous();  // uint8 (B, H, W, C)
  if (options_.flip) {
    // Mirror left-right in place: reverse the order of the pixels (C bytes each) of every row.
    const int64_t h = images.size(1), w = images.size(2), c = images.size(3);
    uint8_t* data = images.data_ptr<uint8_t>();
    for (size_t j = 0; j < flips.size(); ++j) {
      if (!flips[j]) continue;
      for (int64_t y = 0; y < h; ++y) {
        uint8_t* row = data + (static_cast<int64_t>(j) * h + y) * w * c;
        for (int64_t left = 0, right = w - 1; left < right; ++left, --right) {
          std::swap_ranges(row + left * c, row + (left + 1) * c, row + right * c);
        }
      }
    }
  }
  batch.images = to_network_range(images).contiguous();
  if (source_->has_labels()) batch.labels = source_->labels().index_select(0, batch.indices);
  return batch;
}

void DataLoader::produce() {
  int64_t step = next_step_;
  try {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(queue_mutex_);
        queue_changed_.wait(lock, [&] { return stopping_ || static_cast<int>(queue_.size()) < options_.prefetch; });
        if (stopping_) return;
      }
      Batch batch = make_batch(step++);
      {
        std::lock_guard<std::mutex> lock(queue_mutex_);
        queue_.push_back(std::move(batch));
      }
      queue_changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    worker_error_ = std::current_exception();
    queue_changed_.notify_all();
  }
}

Batch DataLoader::next() {
  if (options_.prefetch <= 0) return make_batch(next_step_++);
  std::unique_lock<std::mutex> lock(queue_mutex_);
  queue_changed_.wait(lock, [&] { return !queue_.empty() || worker_error_; });
  if (queue_.empty()) std::rethrow_exception(worker_error_);
  Batch batch = std::move(queue_.front());
  queue_.pop_front();
  ++next_step_;
  lock.unlock();
  queue_changed_.notify_all();
  return batch;
}

}  // namespace cmbench
