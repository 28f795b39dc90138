// LPIPS v0.1, VGG variant (Zhang et al. 2018; richzhang/PerceptualSimilarity lpips/lpips.py and
// lpips/pretrained_networks.py): torchvision's vgg16 `features` tapped after relu1_2, relu2_2,
// relu3_3, relu4_3 and relu5_3; each tap unit-normalized over channels (x / (||x|| + 1e-10)), the
// squared difference weighted per channel by a 1x1 head without bias, averaged over space, summed
// over the five layers. Inputs are images in [-1, 1]; the result is one distance per image, (N,).
//
// Two protocols:
// - lpips: the lpips package with normalize=False: ScalingLayer (x - shift) / scale, max pooling,
//   no resizing.
// - openai-cm: what openai/consistency_models trains CD and CT with (cm/karras_diffusion.py lines
//   219-229 and 315-324 at e32b69e): piq 0.7.0's LPIPS(replace_pooling=True) (piq/perceptual.py),
//   i.e. average instead of max pooling, ImageNet mean/std on (x + 1) / 2, and images narrower than
//   256 first resized bilinearly (align_corners false) to 224x224.
//
// Weights (31 tensors): torchvision's `features.N.weight` / `features.N.bias` for the 13
// convolutions (N = 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28) and lpips' `linK.model.1.weight`
// (1, C_K, 1, 1), K = 0..4, read from one .npz (scripts/convert-lpips-weights) or made from
// `synthetic:SEED` for tests. piq's lpips_weights.pt is taken to hold the same head weights as
// lpips' weights/v0.1/vgg.pth (the converter accepts either).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cmbench {

enum class LpipsProtocol { lpips, openai_cm };

// "lpips" or "openai-cm"; InputError starting with `label` for any other name.
LpipsProtocol parse_lpips_protocol(const std::string& name, const std::string& label);
std::string lpips_protocol_name(LpipsProtocol protocol);

struct LpipsOptions {
  TORCH_ARG(LpipsProtocol, protocol) = LpipsProtocol::lpips;
};

class LpipsImpl : public torch::nn::Module {
 public:
  explicit LpipsImpl(const LpipsOptions& options = {});

  // Distances (N,) between two batches (N, 3, H, W) of images in [-1, 1], H and W >= 16 after the
  // protocol's resizing; computed in the weights' dtype and device, returned in a's dtype.
  torch::Tensor forward(const torch::Tensor& a, const torch::Tensor& b);
  // The protocol's resizing and input scaling of images in [-1, 1].
  torch::Tensor prepare(const torch::Tensor& images) const;
  // The five VGG taps of prepared inputs (before the unit normalization).
  std::vector<torch::Tensor> taps(const torch::Tensor& prepared);
  // Every weight under its .npz key, in file order (features by index, then lin0..lin4).
  std::vector<std::pair<std::string, torch::Tensor>> named_weights();

  const LpipsOptions& options() const { return options_; }

 private:
  LpipsOptions options_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::ModuleList heads_{nullptr};
  std::vector<size_t> tap_layers_;  // indices in features_ of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
  torch::Tensor shift_, scale_;
};
TORCH_MODULE(Lpips);

// The one-line help for LPIPS without weights: where to download the two files and how to convert them.
std::string lpips_weights_help();

// Fills every weight from synthetic:SEED. Element i (flat row-major) of the tensor named K uses the
// hash u of METRICS.md §1 (fnv1a32(K), SEED, i; u in [0, 1)): convolution weights
// (2u - 1) sqrt(6 / (I kh kw)), convolution biases 0.1 (2u - 1), head weights 0.2 u.
void fill_lpips_synthetic_weights(LpipsImpl& net, uint32_t seed);
// Reads the .npz of the 31 weights: every key present, no other key, float32, the expected shape,
// finite values; one InputError line naming the file and the key otherwise.
void load_lpips_npz(LpipsImpl& net, const std::string& path);

// A frozen network (no gradients to its weights, eval mode, CPU) from a weights spec: an .npz path
// or synthetic:SEED. `label` starts every error line (e.g. "method.lpips_weights"); an empty spec
// is an error that says where to get the weights.
Lpips load_lpips(const std::string& weights, const LpipsOptions& options, const std::string& label);

}  // namespace cmbench
