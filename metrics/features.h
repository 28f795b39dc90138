// Batched feature extraction over an ImageSource: reads the next batch on a second thread while the
// network runs (decode and compute overlap), shows progress on stderr, and streams each batch to a
// consumer so that statistics of 50k+ images never hold all features.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "core/process_group.h"
#include "data/image_source.h"
#include "metrics/detector.h"
#include "metrics/statistics.h"

namespace cmbench {

struct ExtractionOptions {
  TORCH_ARG(int64_t, batch) = 64;
  TORCH_ARG(bool, with_logits) = false;
  TORCH_ARG(bool, with_spatial) = false;  // Inception mixed_6/conv features for sFID
  TORCH_ARG(bool, progress) = true;
  TORCH_ARG(std::string, label) = "features";
};

// One feature network as batched extraction sees it: uint8 (N, H, W, C) images in, one float32 CPU
// (N, width) tensor per output, in a fixed order with the widths known before the first batch.
struct BatchFeatureRun {
  std::vector<int64_t> widths;
  std::function<std::vector<torch::Tensor>(const torch::Tensor& images_nhwc)> run;
};

// Indices of the images a command uses: all when num is 0 or equals the count, otherwise EDM's
// subset (numpy RandomState(seed mod 2^31).shuffle, first num, sorted). InputError when num > count
// or the source is empty.
std::vector<int64_t> select_indices(const ImageSource& source, int64_t num, int64_t seed);

// Tracks whether every image of a set equals its first one (a collapsed or constant generator):
// `add` each batch (N, ...) in order, then `warn` logs one warning naming the set when all of at
// least two images were identical (issue 17.4: a distance or score of such a set measures nothing).
class ConstantImagesCheck {
 public:
  void add(const torch::Tensor& images);
  bool all_identical() const { return count_ > 1 && identical_; }
  void warn(const std::string& set_name) const;

 private:
  torch::Tensor first_;
  int64_t count_ = 0;
  bool identical_ = true;
};

// Runs `network` on the images at `indices` (in that order), batch by batch, handing each batch's
// outputs to `consume`. With a `group` of several ranks, batch k runs on rank k mod W (owns_batch) and
// the outputs are gathered, so every rank's `consume` sees each batch in order with exactly the
// one-process values (the same images in the same batches); every rank must call it. Warns when
// every image is the same (ConstantImagesCheck).
void extract_batches(const ImageSource& source, const std::vector<int64_t>& indices, const BatchFeatureRun& network,
                     const ExtractionOptions& options,
                     const std::function<void(const std::vector<torch::Tensor>& outputs)>& consume,
                     ProcessGroup* group = nullptr);

// Runs `detector` on the images at `indices` (in that order), handing each batch's output to `consume`.
// With a `group` of several ranks, batch k runs on rank k mod W (owns_batch) and the outputs are
// gathered, so every rank's `consume` sees each batch in order with exactly the one-process values
// (the same images in the same batches); every rank must call it.
void extract_features(const ImageSource& source, const std::vector<int64_t>& indices, InceptionDetector& detector,
                      const ExtractionOptions& options,
                      const std::function<void(const FidInceptionOutput& batch)>& consume,
                      ProcessGroup* group = nullptr);

// All pool3 features (and logits when asked) of the selected images, concatenated.
FidInceptionOutput extract_all_features(const ImageSource& source, const std::vector<int64_t>& indices,
                                        InceptionDetector& detector, const ExtractionOptions& options,
                                        ProcessGroup* group = nullptr);

// Streaming pool3 statistics of the selected images; meta records detector, mode, weights, ddof, source.
// `group`: shared out as extract_features does, the same statistics on every rank.
FeatureStatistics image_statistics(const ImageSource& source, const std::vector<int64_t>& indices,
                                   InceptionDetector& detector, const ExtractionOptions& options, int ddof,
                                   ProcessGroup* group = nullptr);

}  // namespace cmbench
