#include "metrics/detector.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/device.h"
#include "core/error.h"
#include "core/torch_compat.h"
#include "metrics/named_weights.h"
#include "metrics/torchscript_pickles.h"

namespace cmbench {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string weights_checksum(const std::string& weights) { return weights_sha256(weights, "--weights " + weights); }

void require_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw InputError(fmt::format("--weights {}: no such file; {}", path, missing_weights_message()));
  }
}

class NativeDetector : public InceptionDetector {
 public:
  NativeDetector(const std::string& weights, ResizeMode mode, torch::Device device)
      : net_(load_native_inception(weights)), mode_(mode), device_(device), weights_(weights),
        checksum_(weights_checksum(weights)) {
    net_->to(device_);
    if (device_.is_cuda()) compat::disable_tf32();
  }

  FidInceptionOutput run(const torch::Tensor& images_nhwc, InceptionLayers layers) override {
    torch::NoGradGuard no_grad;
    const auto x = preprocess_for_inception(images_nhwc.to(device_), mode_);
    auto out = net_->forward(x, layers);
    out.pool3 = out.pool3.to(torch::kCPU).contiguous();
    if (layers.logits) out.logits_unbiased = out.logits_unbiased.to(torch::kCPU).contiguous();
    if (layers.spatial) out.spatial = out.spatial.to(torch::kCPU).contiguous();
    return out;
  }

  nlohmann::json describe() const override {
    return {{"detector", "native"}, {"mode", resize_mode_name(mode_)}, {"weights", weights_},
            {"weights_sha256", checksum_}};
  }

 private:
  FidInception net_;
  ResizeMode mode_;
  torch::Device device_;
  std::string weights_, checksum_;
};

// NVIDIA's detector: forward(img uint8 NCHW, return_features=True) gives pool_3; the unbiased logits
// are pool_3 times its output layer's weight (the module's no_output_bias path returns softmax
// probabilities instead, see StyleGAN2-ADA's metrics/inception_score.py).
class TorchScriptDetector : public InceptionDetector {
 public:
  TorchScriptDetector(const std::string& path, torch::Device device)
      : device_(device), path_(path), checksum_(weights_checksum(path)) {
    check_torchscript_pickles(path, path);
    try {
      module_ = torch::jit::load(path, device_);
    } catch (const std::exception& e) {  // c10::Error, and torch::jit::ErrorReport for bad TorchScript code
      throw InputError(fmt::format("{}: not a loadable TorchScript detector ({})", path, first_line(e.what())));
    }
    check_module_tensors(module_, path, path);
    module_.eval();
    for (const auto& p : module_.named_parameters(true)) {
      if (p.value.dim() == 2 && p.value.size(0) == 1008 && p.value.size(1) == 2048) output_weight_ = p.value;
    }
    if (device_.is_cuda()) compat::disable_tf32();
  }

  FidInceptionOutput run(const torch::Tensor& images_nhwc, InceptionLayers layers) override {
    torch::NoGradGuard no_grad;
    if (layers.spatial) {
      throw InputError(fmt::format("{}: NVIDIA's TorchScript detector yields pool_3 only, not the mixed_6/conv features "
                                   "sFID needs; use the native detector (pytorch-fid .npz weights)", path_));
    }
    const bool with_logits = layers.logits;
    if (images_nhwc.dim() != 4 || images_nhwc.scalar_type() != torch::kUInt8) {
      throw InputError("TorchScript detector: images must be uint8 (N, H, W, C)");
    }
    auto img = images_nhwc.to(device_).permute({0, 3, 1, 2});
    if (img.size(1) == 1) img = img.expand({-1, 3, -1, -1});
    img = img.contiguous();
    FidInceptionOutput out;
    out.pool3 = call(img, true).to(torch::kFloat32);
    if (out.pool3.dim() != 2 || out.pool3.size(1) != 2048) {
      throw InputError(fmt::format("{}: the detector returned features of shape [{}], expected [N, 2048]", path_,
                                   fmt::join(out.pool3.sizes(), ", ")));
    }
    if (with_logits) {
      if (!output_weight_.defined()) {
        throw InputError(fmt::format("{}: the detector has no 1008 x 2048 output layer for logits", path_));
      }
      out.logits_unbiased = torch::matmul(out.pool3, output_weight_.to(torch::kFloat32).t());
      out.logits_unbiased = out.logits_unbiased.to(torch::kCPU).contiguous();
    }
    out.pool3 = out.pool3.to(torch::kCPU).contiguous();
    return out;
  }

  nlohmann::json describe() const override {
    return {{"detector", "torchscript"}, {"mode", "tf"}, {"weights", path_}, {"weights_sha256", checksum_}};
  }

 private:
  static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

  torch::Tensor call(const torch::Tensor& img, bool return_features) {
    try {
      return module_.forward({img}, {{"return_features", return_features}}).toTensor();
    } catch (const std::exception& e) {  // c10::Error, and std::runtime_error for a wrong call signature
      throw InputError(fmt::format("{}: the detector failed on a batch of shape [{}] ({})", path_,
                                   fmt::join(img.sizes(), ", "), first_line(e.what())));
    }
  }

  torch::jit::Module module_;
  torch::Device device_;
  std::string path_, checksum_;
  torch::Tensor output_weight_;
};

}  // namespace

void check_module_tensors(const torch::jit::Module& module, const std::string& path, const std::string& label) {
  // torch::jit::load sizes each storage by the element count its pickle declares, not by the bytes of
  // its data/N record, so a storage can claim more than the file holds. The storages' claims, largest
  // first, must each fit the records, largest first (what any true assignment of records implies).
  // A record's bytes are bounded by where the next one starts (torch stores them uncompressed), which
  // needs no read of the data.
  std::vector<size_t> records;
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    std::vector<std::pair<size_t, bool>> starts;  // data offset, is a data/N record
    for (const auto& name : reader.getAllRecords())
      starts.emplace_back(reader.getRecordOffset(name), name.rfind("data/", 0) == 0);
    std::sort(starts.begin(), starts.end());
    const size_t file_size = std::filesystem::file_size(path);
    for (size_t i = 0; i < starts.size(); ++i) {
      const size_t end = i + 1 < starts.size() ? starts[i + 1].first : file_size;
      if (starts[i].second) records.push_back(end > starts[i].first ? end - starts[i].first : 0);
    }
  } catch (const c10::Error& e) {
    throw InputError(fmt::format("{}: unreadable TorchScript archive ({})", label, e.what_without_backtrace()));
  }
  std::map<const void*, size_t> storages;
  const auto check = [&](const std::string& name, const torch::Tensor& t) {
    if (!t.defined() || t.numel() == 0 || !t.has_storage()) return;
    // In floating point: sizes and strides from the file can overflow int64_t when multiplied.
    double last = double(t.storage_offset());
    bool negative = t.storage_offset() < 0;
    for (int64_t d = 0; d < t.dim(); ++d) {
      last += double(t.size(d) - 1) * double(t.stride(d));
      negative = negative || t.stride(d) < 0;
    }
    const double held = double(t.storage().nbytes() / t.element_size());
    if (negative || last >= held)
      throw InputError(fmt::format("{}: tensor '{}' of shape [{}] reaches element {:.0f} of a storage of {:.0f}", label,
                                   name, fmt::join(t.sizes(), ", "), last, held));
    storages[t.storage().unsafeGetStorageImpl()] = t.storage().nbytes();
  };
  for (const auto& a : module.named_attributes(true))
    if (a.value.isTensor()) check(a.name, a.value.toTensor());
  std::vector<size_t> claims;
  for (const auto& [storage, bytes] : storages) claims.push_back(bytes);
  std::sort(claims.rbegin(), claims.rend());
  std::sort(records.rbegin(), records.rend());
  for (size_t i = 0; i < claims.size(); ++i) {
    const size_t record = i < records.size() ? records[i] : 0;
    if (claims[i] > record)
      throw InputError(fmt::format("{}: a tensor storage declares {} bytes but the archive's data records hold at most {}",
                                   label, claims[i], record));
  }
}

std::string missing_weights_message() {
  return "FID/IS need the FID Inception weights: pass --weights (or set CMBENCH_INCEPTION) to NVIDIA's "
         "inception-2015-12-05.pt (https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/"
         "inception-2015-12-05.pt) or to pytorch-fid's weights converted to .npz (see metrics/README.md)";
}

FidInception load_native_inception(const std::string& weights) {
  FidInception net;
  uint32_t seed;
  if (parse_synthetic_seed(weights, fmt::format("--weights {}", weights), seed)) {
    fill_synthetic_weights(net, seed);
  } else {
    require_file(weights);
    if (!ends_with(weights, ".npz")) {
      throw InputError(fmt::format("--weights {}: the native detector reads an .npz of pytorch-fid's state dict "
                                   "(a .pt file is the TorchScript detector)", weights));
    }
    load_inception_npz(net, weights);
  }
  net->prepare_for_inference();
  return net;
}

std::unique_ptr<InceptionDetector> make_detector(const DetectorOptions& options) {
  const std::string weights = weights_spec_or_environment(options.weights(), "CMBENCH_INCEPTION");
  if (weights.empty()) throw InputError(missing_weights_message());
  std::string detector = options.detector();
  if (detector.empty()) detector = ends_with(weights, ".pt") ? "torchscript" : "native";
  const torch::Device device = resolve_device(options.device());
  if (detector == "torchscript") {
    if (!options.mode().empty()) {
      throw InputError(fmt::format("--mode {} cannot be used with the TorchScript detector {}: it resizes internally "
                                   "(TF1-style)", options.mode(), weights));
    }
    require_file(weights);
    return std::make_unique<TorchScriptDetector>(weights, device);
  }
  if (detector != "native") throw InputError(fmt::format("--detector {}: expected native or torchscript", detector));
  const ResizeMode mode = parse_resize_mode(options.mode().empty() ? "tf" : options.mode());
  return std::make_unique<NativeDetector>(weights, mode, device);
}

}  // namespace cmbench
