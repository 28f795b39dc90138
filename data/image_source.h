// Every image input of the suite behind one interface (DESIGN.md "PATH (images) may be"): uint8
// NHWC images plus optional int64 labels, read in index ranges so that 50k+ images never need to sit
// in memory at once.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace cmbench {

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  virtual const std::string& name() const = 0;  // the spec it was opened with, for messages
  virtual int64_t size() const = 0;             // number of images
  virtual int64_t height() const = 0;
  virtual int64_t width() const = 0;
  virtual int64_t channels() const = 0;  // 3, or 1 for grayscale sources
  // Images [begin, end) as uint8 (end - begin, H, W, C), contiguous. InputError on a bad range.
  virtual torch::Tensor read(int64_t begin, int64_t end) const = 0;
  // Images at arbitrary indices, in the given order (default: one read per run of indices).
  virtual torch::Tensor read_indices(const std::vector<int64_t>& indices) const;
  virtual bool has_labels() const = 0;
  virtual torch::Tensor labels() const = 0;  // int64 (N); an undefined tensor when there are none
};

// Opens any PATH kind of DESIGN.md: PNG folder, EDM dataset zip, .npz (key `images`, else `arr_0`)
// or .npy uint8 (N, H, W, 3), CIFAR-10 binary root with optional `:train`/`:test`, `cifar10:train` /
// `cifar10:test` under the data root, downsampled-ImageNet npz batches, `imagenet64:SPLIT`,
// `imagenet64-edm:SPLIT` and `imagenet64-downsampled:SPLIT` under the data root
// (data/imagenet_sources.h). InputError naming the path
// when it is missing, unreadable or of an unknown kind.
std::unique_ptr<ImageSource> open_image_source(const std::string& spec);

}  // namespace cmbench
