// Deterministic training batches from an image source.
//
// Order: the (optionally subset) images form an endless stream of epochs; epoch e is a permutation of
// the image list drawn from stream "data.shuffle"/e of the run seed (or the identity without shuffle).
// Batch k holds stream positions [k*B, (k+1)*B). Remainder policy: batches run across epoch
// boundaries, so every batch has exactly B images, no image is dropped, and an epoch boundary falls
// inside a batch when B does not divide the count. Flips: the image at stream position p is mirrored
// left-right when bit 0 of derive_seed(seed, "data.flip", p) is set. Both depend on the seed, B and
// p only: the same seed gives the same batches on any machine and thread count, and a loader started
// at step k continues the sequence of one that ran from step 0.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "data/image_source.h"

namespace cmbench {

struct LoaderOptions {
  int64_t batch_size = 128;
  uint64_t seed = 0;     // the run seed
  bool shuffle = true;
  bool flip = false;     // seeded random horizontal flips, probability 1/2
  int64_t subset = 0;    // use only N images (0: all)
  bool subset_random = false;  // false: the first N; true: a seeded sample (stream "data.subset"), in index order
  int prefetch = 2;      // batches prepared ahead by a background thread (0: prepared on the caller's thread)
  // Data-parallel ranks: decode only rows [shard_begin, shard_end) of each batch (the rank's share of
  // the global batch; shard_end 0: every row). The order and flips are those of the whole batch.
  int64_t shard_begin = 0, shard_end = 0;
};

struct Batch {
  int64_t step = 0;
  int64_t epoch = 0;         // epoch of the batch's first image
  torch::Tensor indices;     // int64 (B): indices into the source
  torch::Tensor images;      // float32 (B, C, H, W) in [-1, 1]: x / 127.5 - 1
  torch::Tensor labels;      // int64 (B); undefined when the source has none
  // With a shard: indices, images and labels hold the shard's rows only, and batch_labels the
  // labels of the whole batch (what the method's per-image draws read). Without one, the same as labels.
  torch::Tensor batch_labels;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const ImageSource> source, LoaderOptions options, int64_t start_step = 0);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  Batch next();
  int64_t images_per_epoch() const { return static_cast<int64_t>(pool_.size()); }
  const std::vector<int64_t>& pool() const { return pool_; }  // the images in use (after subsetting)

  // The source indices and flip flags of batch `step` (pure; what next() decodes).
  void plan(int64_t step, std::vector<int64_t>& indices, std::vector<bool>& flips) const;

 private:
  Batch make_batch(int64_t step) const;
  const std::vector<int64_t>& epoch_order(int64_t epoch) const;
  void produce();

  std::shared_ptr<const ImageSource> source_;
  LoaderOptions options_;
  std::vector<int64_t> pool_;
  mutable std::mutex order_mutex_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;

  int64_t next_step_ = 0;  // consumer side
  std::thread worker_;
  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<Batch> queue_;
  std::exception_ptr worker_error_;
  bool stopping_ = false;
};

// uint8 (N, H, W, C) images to the networks' float32 (N, C, H, W) in [-1, 1]: x / 127.5 - 1
// (DESIGN.md "Formats"). Every image a network trains on goes through here: batches and SCT's pool.
torch::Tensor to_network_range(const torch::Tensor& images_nhwc);

// A portable permutation of 0..n-1 (Fisher-Yates over splitmix64 draws): identical on every machine
// and LibTorch version.
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

}  // namespace cmbench
