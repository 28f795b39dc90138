#include "metrics/inception.h"

#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "metrics/named_weights.h"

namespace cmbench {

namespace F = torch::nn::functional;

BasicConvImpl::BasicConvImpl(const BasicConvOptions& o) : options_(o) {
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in(), o.out(), o.kernel())
                                                        .stride(o.stride())
                                                        .padding(o.padding())
                                                        .bias(false)));
  bn = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNormOptions(o.out()).eps(1e-3)));
}

void BasicConvImpl::fold_batch_norm() {
  torch::NoGradGuard no_grad;
  const auto scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
  auto weight = (conv->weight * scale.view({-1, 1, 1, 1})).contiguous();
  auto bias = (bn->bias - bn->running_mean * scale).contiguous();
  // Buffers, so that Module::to() moves them with the parameters (plain members stayed on the CPU
  // when the detector was moved to CUDA after folding).
  if (!folded_weight_.defined()) {
    folded_weight_ = register_buffer(std::string(kFoldedWeight), weight);
    folded_bias_ = register_buffer(std::string(kFoldedBias), bias);
  } else {
    folded_weight_.copy_(weight);
    folded_bias_.copy_(bias);
  }
}

torch::Tensor BasicConvImpl::forward(const torch::Tensor& x) {
  if (folded_weight_.defined() && !is_training()) {
    auto y = torch::conv2d(x, folded_weight_, folded_bias_, *options_.stride(), *options_.padding());
    return y.relu_();
  }
  return torch::relu(bn->forward(conv->forward(x)));
}

namespace {

using Stage = std::function<torch::Tensor(const torch::Tensor&)>;

// Registers C(in, out, kernel, stride, padding) as `name` on `parent` and remembers it for folding.
BasicConv add_conv(torch::nn::Module& parent, std::vector<BasicConv>& all, const std::string& name, int64_t in,
                   int64_t out, torch::ExpandingArray<2> kernel, torch::ExpandingArray<2> stride = 1,
                   torch::ExpandingArray<2> padding = 0) {
  auto unit = parent.register_module(name, BasicConv(BasicConvOptions(in, out, kernel).stride(stride).padding(padding)));
  all.push_back(unit);
  return unit;
}

torch::Tensor avg_pool_3x3(const torch::Tensor& x) {
  // count_include_pad = false, as the TF graph (pytorch-fid's FIDInception blocks).
  return F::avg_pool2d(x, F::AvgPool2dFuncOptions(3).stride(1).padding(1).count_include_pad(false));
}
torch::Tensor max_pool_3x3_s2(const torch::Tensor& x) { return F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2)); }

class InceptionAImpl : public torch::nn::Module {
 public:
  InceptionAImpl(int64_t in, int64_t pool, std::vector<BasicConv>& all) {
    b1 = add_conv(*this, all, "branch1x1", in, 64, 1);
    b5_1 = add_conv(*this, all, "branch5x5_1", in, 48, 1);
    b5_2 = add_conv(*this, all, "branch5x5_2", 48, 64, 5, 1, 2);
    b3_1 = add_conv(*this, all, "branch3x3dbl_1", in, 64, 1);
    b3_2 = add_conv(*this, all, "branch3x3dbl_2", 64, 96, 3, 1, 1);
    b3_3 = add_conv(*this, all, "branch3x3dbl_3", 96, 96, 3, 1, 1);
    bp = add_conv(*this, all, "branch_pool", in, pool, 1);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({b1(x), b5_2(b5_1(x)), b3_3(b3_2(b3_1(x))), bp(avg_pool_3x3(x))}, 1);
  }
  BasicConv b1{nullptr}, b5_1{nullptr}, b5_2{nullptr}, b3_1{nullptr}, b3_2{nullptr}, b3_3{nullptr}, bp{nullptr};
};
TORCH_MODULE(InceptionA);

class InceptionBImpl : public torch::nn::Module {
 public:
  InceptionBImpl(int64_t in, std::vector<BasicConv>& all) {
    b3 = add_conv(*this, all, "branch3x3", in, 384, 3, 2);
    bd_1 = add_conv(*this, all, "branch3x3dbl_1", in, 64, 1);
    bd_2 = add_conv(*this, all, "branch3x3dbl_2", 64, 96, 3, 1, 1);
    bd_3 = add_conv(*this, all, "branch3x3dbl_3", 96, 96, 3, 2);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({b3(x), bd_3(bd_2(bd_1(x))), max_pool_3x3_s2(x)}, 1);
  }
  BasicConv b3{nullptr}, bd_1{nullptr}, bd_2{nullptr}, bd_3{nullptr};
};
TORCH_MODULE(InceptionB);

class InceptionCImpl : public torch::nn::Module {
 public:
  InceptionCImpl(int64_t in, int64_t c7, std::vector<BasicConv>& all) {
    const torch::ExpandingArray<2> k17({1, 7}), k71({7, 1}), p17({0, 3}), p71({3, 0});
    b1 = add_conv(*this, all, "branch1x1", in, 192, 1);
    b7_1 = add_conv(*this, all, "branch7x7_1", in, c7, 1);
    b7_2 = add_conv(*this, all, "branch7x7_2", c7, c7, k17, 1, p17);
    b7_3 = add_conv(*this, all, "branch7x7_3", c7, 192, k71, 1, p71);
    bd_1 = add_conv(*this, all, "branch7x7dbl_1", in, c7, 1);
    bd_2 = add_conv(*this, all, "branch7x7dbl_2", c7, c7, k71, 1, p71);
    bd_3 = add_conv(*this, all, "branch7x7dbl_3", c7, c7, k17, 1, p17);
    bd_4 = add_conv(*this, all, "branch7x7dbl_4", c7, c7, k71, 1, p71);
    bd_5 = add_conv(*this, all, "branch7x7dbl_5", c7, 192, k17, 1, p17);
    bp = add_conv(*this, all, "branch_pool", in, 192, 1);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({b1(x), b7_3(b7_2(b7_1(x))), bd_5(bd_4(bd_3(bd_2(bd_1(x))))), bp(avg_pool_3x3(x))}, 1);
  }
  BasicConv b1{nullptr}, b7_1{nullptr}, b7_2{nullptr}, b7_3{nullptr}, bd_1{nullptr}, bd_2{nullptr}, bd_3{nullptr},
      bd_4{nullptr}, bd_5{nullptr}, bp{nullptr};
};
TORCH_MODULE(InceptionC);

class InceptionDImpl : public torch::nn::Module {
 public:
  InceptionDImpl(int64_t in, std::vector<BasicConv>& all) {
    b3_1 = add_conv(*this, all, "branch3x3_1", in, 192, 1);
    b3_2 = add_conv(*this, all, "branch3x3_2", 192, 320, 3, 2);
    b7_1 = add_conv(*this, all, "branch7x7x3_1", in, 192, 1);
    b7_2 = add_conv(*this, all, "branch7x7x3_2", 192, 192, torch::ExpandingArray<2>({1, 7}), 1,
                    torch::ExpandingArray<2>({0, 3}));
    b7_3 = add_conv(*this, all, "branch7x7x3_3", 192, 192, torch::ExpandingArray<2>({7, 1}), 1,
                    torch::ExpandingArray<2>({3, 0}));
    b7_4 = add_conv(*this, all, "branch7x7x3_4", 192, 192, 3, 2);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({b3_2(b3_1(x)), b7_4(b7_3(b7_2(b7_1(x)))), max_pool_3x3_s2(x)}, 1);
  }
  BasicConv b3_1{nullptr}, b3_2{nullptr}, b7_1{nullptr}, b7_2{nullptr}, b7_3{nullptr}, b7_4{nullptr};
};
TORCH_MODULE(InceptionD);

class InceptionEImpl : public torch::nn::Module {
 public:
  // Mixed_7b pools with average (count_include_pad = false), Mixed_7c with max: a quirk of the TF graph.
  InceptionEImpl(int64_t in, bool max_pool, std::vector<BasicConv>& all) : max_pool_(max_pool) {
    const torch::ExpandingArray<2> k13({1, 3}), k31({3, 1}), p13({0, 1}), p31({1, 0});
    b1 = add_conv(*this, all, "branch1x1", in, 320, 1);
    b3_1 = add_conv(*this, all, "branch3x3_1", in, 384, 1);
    b3_2a = add_conv(*this, all, "branch3x3_2a", 384, 384, k13, 1, p13);
    b3_2b = add_conv(*this, all, "branch3x3_2b", 384, 384, k31, 1, p31);
    bd_1 = add_conv(*this, all, "branch3x3dbl_1", in, 448, 1);
    bd_2 = add_conv(*this, all, "branch3x3dbl_2", 448, 384, 3, 1, 1);
    bd_3a = add_conv(*this, all, "branch3x3dbl_3a", 384, 384, k13, 1, p13);
    bd_3b = add_conv(*this, all, "branch3x3dbl_3b", 384, 384, k31, 1, p31);
    bp = add_conv(*this, all, "branch_pool", in, 192, 1);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto a = b3_1(x);
    const auto b = bd_2(bd_1(x));
    const auto pooled = max_pool_ ? F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(1).padding(1)) : avg_pool_3x3(x);
    return torch::cat({b1(x), b3_2a(a), b3_2b(a), bd_3a(b), bd_3b(b), bp(pooled)}, 1);
  }
  BasicConv b1{nullptr}, b3_1{nullptr}, b3_2a{nullptr}, b3_2b{nullptr}, bd_1{nullptr}, bd_2{nullptr},
      bd_3a{nullptr}, bd_3b{nullptr}, bp{nullptr};

 private:
  bool max_pool_;
};
TORCH_MODULE(InceptionE);

template <class Holder>
Stage as_stage(Holder holder) {
  return [holder](const torch::Tensor& x) mutable { return holder->forward(x); };
}

bool ignored_state_name(const std::string& name) {
  const std::string counter = "num_batches_tracked";
  return name.rfind("AuxLogits.", 0) == 0 ||
         (name.size() >= counter.size() && name.compare(name.size() - counter.size(), counter.size(), counter) == 0);
}

}  // namespace

FidInceptionImpl::FidInceptionImpl() {
  auto& all = convs_;
  auto c1a = add_conv(*this, all, "Conv2d_1a_3x3", 3, 32, 3, 2);
  auto c2a = add_conv(*this, all, "Conv2d_2a_3x3", 32, 32, 3);
  auto c2b = add_conv(*this, all, "Conv2d_2b_3x3", 32, 64, 3, 1, 1);
  auto c3b = add_conv(*this, all, "Conv2d_3b_1x1", 64, 80, 1);
  auto c4a = add_conv(*this, all, "Conv2d_4a_3x3", 80, 192, 3);
  stages_.push_back(as_stage(c1a));
  stages_.push_back(as_stage(c2a));
  stages_.push_back(as_stage(c2b));
  stages_.push_back(max_pool_3x3_s2);
  stages_.push_back(as_stage(c3b));
  stages_.push_back(as_stage(c4a));
  stages_.push_back(max_pool_3x3_s2);
  stages_.push_back(as_stage(register_module("Mixed_5b", InceptionA(192, 32, all))));
  stages_.push_back(as_stage(register_module("Mixed_5c", InceptionA(256, 64, all))));
  stages_.push_back(as_stage(register_module("Mixed_5d", InceptionA(288, 64, all))));
  stages_.push_back(as_stage(register_module("Mixed_6a", InceptionB(288, all))));
  stages_.push_back(as_stage(register_module("Mixed_6b", InceptionC(768, 128, all))));
  stages_.push_back(as_stage(register_module("Mixed_6c", InceptionC(768, 160, all))));
  auto mixed_6d = register_module("Mixed_6d", InceptionC(768, 160, all));
  mixed_6d_stage_ = stages_.size();
  mixed_6d_branch1x1_ = mixed_6d->b1;
  stages_.push_back(as_stage(mixed_6d));
  stages_.push_back(as_stage(register_module("Mixed_6e", InceptionC(768, 192, all))));
  stages_.push_back(as_stage(register_module("Mixed_7a", InceptionD(768, all))));
  stages_.push_back(as_stage(register_module("Mixed_7b", InceptionE(1280, false, all))));
  stages_.push_back(as_stage(register_module("Mixed_7c", InceptionE(2048, true, all))));
  fc_ = register_module("fc", torch::nn::Linear(2048, 1008));
}

FidInceptionOutput FidInceptionImpl::forward(const torch::Tensor& x, InceptionLayers layers) {
  if (x.dim() != 4 || x.size(1) != 3 || x.size(2) != 299 || x.size(3) != 299) {
    throw InputError(fmt::format("FID Inception: input must be (N, 3, 299, 299), found {}", fmt::join(x.sizes(), "x")));
  }
  auto h = x;
  FidInceptionOutput out;
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (layers.spatial && i == mixed_6d_stage_) {
      // The 1x1 branch again on the block's input (the same operation, so the same values as inside
      // the block), NCHW -> NHWC before flattening as the TF graph's tensor is laid out.
      out.spatial = mixed_6d_branch1x1_->forward(h).narrow(1, 0, 7).permute({0, 2, 3, 1}).reshape({h.size(0), -1});
    }
    h = stages_[i](h);
  }
  out.pool3 = h.mean({2, 3});
  if (layers.logits) out.logits_unbiased = torch::matmul(out.pool3, fc_->weight.t());
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> FidInceptionImpl::state_tensors() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : named_parameters(true)) out.emplace_back(item.key(), item.value());
  for (const auto& item : named_buffers(true)) {
    if (!ignored_state_name(item.key()) && !BasicConvImpl::is_folded_name(item.key())) {
      out.emplace_back(item.key(), item.value());
    }
  }
  return out;
}

void FidInceptionImpl::load_state(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                                  const std::string& source) {
  std::map<std::string, torch::Tensor> given;
  for (const auto& [name, value] : tensors) {
    if (ignored_state_name(name)) continue;
    given[name] = value;
  }
  copy_named_weights(given, state_tensors(),
                     {source, "FID Inception weights", "(pytorch-fid names expected)", "the FID Inception network"});
  torch::NoGradGuard no_grad;
  for (auto& conv : convs_) conv->fold_batch_norm();
}

void FidInceptionImpl::prepare_for_inference() {
  eval();
  for (auto& p : parameters()) p.set_requires_grad(false);
  for (auto& conv : convs_) conv->fold_batch_norm();
}

std::string synthetic_rule(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (name == "fc.weight") return "fc.weight";
  if (name == "fc.bias") return "fc.bias";
  if (ends_with(".conv.weight")) return "conv";
  if (ends_with(".bn.weight")) return "weight";
  if (ends_with(".bn.bias")) return "bias";
  if (ends_with(".bn.running_mean")) return "running_mean";
  if (ends_with(".bn.running_var")) return "running_var";
  throw InputError(fmt::format("synthetic weights: no rule for tensor '{}'", name));
}

void fill_synthetic_weights(FidInception& net, uint32_t seed) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [name, target] : net->state_tensors()) {
    const std::string rule = synthetic_rule(name);
    const int64_t count = target.numel();
    double fan_in = 1.0;
    for (int64_t d = 1; d < target.dim(); ++d) fan_in *= static_cast<double>(target.size(d));
    auto values = torch::empty(target.sizes(), torch::kFloat32);
    float* out = values.data_ptr<float>();
    for (int64_t i = 0; i < count; ++i) {
      const double u = synthetic_hash(name, seed, static_cast<uint32_t>(i)) / 4294967296.0;
      double v;
      if (rule == "conv") v = (2 * u - 1) * std::sqrt(6.0 / fan_in);
      else if (rule == "weight") v = 0.8 + 0.4 * u;
      else if (rule == "bias") v = 0.2 * (2 * u - 1);
      else if (rule == "running_mean") v = 0.1 * (2 * u - 1);
      else if (rule == "running_var") v = 0.5 + u;
      else if (rule == "fc.weight") v = (2 * u - 1) * std::sqrt(3.0 / 2048.0);
      else v = 0.1 * (2 * u - 1);  // fc.bias
      out[i] = static_cast<float>(v);
    }
    tensors.emplace_back(name, values);
  }
  net->load_state(tensors, fmt::format("synthetic:{}", seed));
}

void load_inception_npz(FidInception& net, const std::string& path) {
  const auto arrays = read_npz(path);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& [name, array] : arrays) {
    if (array.dtype != DType::f32 && array.dtype != DType::f64 && array.dtype != DType::i64) {
      throw InputError(fmt::format("{}: tensor '{}' has dtype {}, expected float32", path, name, dtype_name(array.dtype)));
    }
    tensors.emplace_back(name, to_tensor(array));
  }
  net->load_state(tensors, path);
}

}  // namespace cmbench
