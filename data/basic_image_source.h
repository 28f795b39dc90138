// Shared bookkeeping of the concrete image sources: geometry, labels, range checks. Subclasses only
// fill pixel bytes for an index range.
#pragma once

#include <string>
#include <vector>

#include "data/image_source.h"

namespace cmbench {

class BasicImageSource : public ImageSource {
 public:
  const std::string& name() const override { return name_; }
  int64_t size() const override { return count_; }
  int64_t height() const override { return height_; }
  int64_t width() const override { return width_; }
  int64_t channels() const override { return channels_; }
  bool has_labels() const override { return labels_.defined(); }
  torch::Tensor labels() const override { return labels_; }
  torch::Tensor read(int64_t begin, int64_t end) const override;
  // One output tensor, filled run by run of consecutive indices (no per-run tensors, no concatenation).
  torch::Tensor read_indices(const std::vector<int64_t>& indices) const override;

 protected:
  int64_t image_bytes() const { return height_ * width_ * channels_; }
  // Writes images [begin, end) as HWC bytes into `out`; the range is already checked.
  virtual void read_into(int64_t begin, int64_t end, uint8_t* out) const = 0;
  // Checks the count and that every label lies in [0, num_classes) (num_classes 0: no upper bound).
  void set_labels(const std::vector<int64_t>& labels, const std::string& source, int64_t num_classes = 0);

  std::string name_;
  int64_t count_ = 0;
  int64_t height_ = 0;
  int64_t width_ = 0;
  int64_t channels_ = 3;
  torch::Tensor labels_;
};

// The concrete kinds behind open_image_source (each checks its own input).
std::unique_ptr<ImageSource> open_cifar10_binary(const std::string& root, const std::string& split,
                                                 const std::string& name);
std::unique_ptr<ImageSource> open_png_folder(const std::string& folder);
std::unique_ptr<ImageSource> open_edm_zip(const std::string& path);
std::unique_ptr<ImageSource> open_npy_images(const std::string& path);
std::unique_ptr<ImageSource> open_npz_images(const std::string& path);
// Downsampled-ImageNet batches (`data` (N, 3*R*R) planar, `labels` 1-based): one file or several,
// concatenated in the given order.
std::unique_ptr<ImageSource> open_imagenet_batches(const std::vector<std::string>& files, const std::string& name);

// EDM's dataset.json: {"labels": [[file name, label], ...]} or {"labels": null}. Returns the labels
// of `names` in order, or none when the file gives none.
std::vector<int64_t> labels_from_dataset_json(const std::string& text, const std::vector<std::string>& names,
                                              const std::string& source);

}  // namespace cmbench
