// The FID Inception-v3 network (METRICS.md §1) natively in LibTorch: the TF 2015-12-05 graph as
// pytorch-fid defines it (FIDInceptionA/C/E blocks, max-pool branch in Mixed_7c), parameters under
// pytorch-fid's names. Input: preprocessed float32 (N, 3, 299, 299); outputs pool_3 (N, 2048) and
// the unbiased logits pool_3 fc.weight^T (N, 1008).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/synthetic_hash.h"  // synthetic_hash: METRICS.md §1 synthetic weights

namespace cmbench {

// C(in, out, k, s, p): Conv2d without bias + BatchNorm(eps 1e-3, running statistics) + ReLU.
struct BasicConvOptions {
  BasicConvOptions(int64_t in, int64_t out, torch::ExpandingArray<2> kernel) : in_(in), out_(out), kernel_(kernel) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  TORCH_ARG(torch::ExpandingArray<2>, kernel);
  TORCH_ARG(torch::ExpandingArray<2>, stride) = 1;
  TORCH_ARG(torch::ExpandingArray<2>, padding) = 0;
};

class BasicConvImpl : public torch::nn::Module {
 public:
  explicit BasicConvImpl(const BasicConvOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  // Folds the batch norm into the convolution (weight * gamma / sqrt(var + eps), shifted bias)
  // for inference; must be called again after the parameters change.
  void fold_batch_norm();
  // The folded convolution's buffers ("...folded_weight", "...folded_bias"): derived state, not part
  // of pytorch-fid's state dict.
  static bool is_folded_name(const std::string& name) {
    return ends_with_name(name, kFoldedWeight) || ends_with_name(name, kFoldedBias);
  }
  static constexpr const char* kFoldedWeight = "folded_weight";
  static constexpr const char* kFoldedBias = "folded_bias";

  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};

 private:
  static bool ends_with_name(const std::string& name, const std::string& leaf) {
    if (name == leaf) return true;
    return name.size() > leaf.size() && name[name.size() - leaf.size() - 1] == '.' &&
           name.compare(name.size() - leaf.size(), std::string::npos, leaf) == 0;
  }

  BasicConvOptions options_;
  torch::Tensor folded_weight_, folded_bias_;
};
TORCH_MODULE(BasicConv);

// sFID's spatial features (guided-diffusion's evaluations/evaluator.py): the TF graph's
// `mixed_6/conv:0`, its first 7 channels, flattened in TF's (H, W, C) order: 17 * 17 * 7 values.
// `mixed_6/conv` is pytorch-fid's Mixed_6d.branch1x1 (Conv + BN + ReLU): the TF graph numbers its
// mixed blocks mixed, mixed_1, ... mixed_10 for Mixed_5b ... Mixed_7c, so mixed_6 is the fourth 17 x 17
// block, Mixed_6d, and `conv` is each block's 1x1 branch (the pairing torch-fidelity's TF-graph weight
// map makes: mixed_6/conv/conv2d_params and mixed_6/conv/batchnorm -> Mixed_6d.branch1x1).
inline constexpr int64_t kSpatialFeatureWidth = 17 * 17 * 7;

struct FidInceptionOutput {
  torch::Tensor pool3;            // float32 (N, 2048)
  torch::Tensor logits_unbiased;  // float32 (N, 1008); undefined when not requested
  torch::Tensor spatial;          // float32 (N, 2023) mixed_6/conv[..., :7]; undefined when not requested
};

// Which outputs beyond pool3 a forward pass computes.
struct InceptionLayers {
  bool logits = false;
  bool spatial = false;
};

class FidInceptionImpl : public torch::nn::Module {
 public:
  FidInceptionImpl();
  // x: float32 (N, 3, 299, 299) after preprocessing (metrics/preprocess.h).
  FidInceptionOutput forward(const torch::Tensor& x, bool with_logits = true) {
    return forward(x, InceptionLayers{with_logits, false});
  }
  FidInceptionOutput forward(const torch::Tensor& x, InceptionLayers layers);

  // The 472 state-dict entries under pytorch-fid's names (parameters and running statistics; no
  // num_batches_tracked), in registration order.
  std::vector<std::pair<std::string, torch::Tensor>> state_tensors();
  // Copies `tensors` (name -> values, any floating dtype) into the network. InputError naming
  // `source` for a missing name or a wrong shape; AuxLogits.* and num_batches_tracked are ignored,
  // any other unknown name is an error.
  void load_state(const std::vector<std::pair<std::string, torch::Tensor>>& tensors, const std::string& source);
  // eval mode, batch norms folded: call after loading, before forward.
  void prepare_for_inference();

 private:
  // Conv2d_1a_3x3 ... Mixed_7c in order; each maps a feature map to the next.
  std::vector<std::function<torch::Tensor(const torch::Tensor&)>> stages_;
  std::vector<BasicConv> convs_;  // every C(...) unit, for folding
  size_t mixed_6d_stage_ = 0;     // index of Mixed_6d in stages_
  BasicConv mixed_6d_branch1x1_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(FidInception);

// Fills every state tensor of `net` from synthetic:SEED.
void fill_synthetic_weights(FidInception& net, uint32_t seed);
// The rule METRICS.md assigns to a state-dict name: conv, weight, bias, running_mean, running_var,
// fc.weight, fc.bias.
std::string synthetic_rule(const std::string& name);

// Reads an .npz holding the state dict under pytorch-fid's names into `net`.
void load_inception_npz(FidInception& net, const std::string& path);

}  // namespace cmbench
