// Weights given by name (an .npz of a reference state dict) copied into a network's tensors: every
// tensor of the network must be given with its shape as a floating-point array, and nothing else may
// be given. One InputError line names the source and the tensor at fault.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace cmbench {

struct NamedWeightsCheck {
  std::string source;        // the file, for messages
  std::string weights;       // "FID Inception weights" (lack tensor 'X')
  std::string missing_hint;  // after "lack tensor 'X'": which names are expected, "(pytorch-fid names expected)"
  std::string network;       // "unexpected tensor 'X' (not part of NETWORK)"
};

// "synthetic:SEED" -> true and the seed; false for any other weights spec. InputError starting with
// `label` (e.g. "--weights synthetic:x") when SEED is not an integer in [0, 2^32 - 1].
bool parse_synthetic_seed(const std::string& weights, const std::string& label, uint32_t& seed);

// The weights spec a network uses: `explicit_spec` (a flag or suite key), else the environment
// `variable`, else "" (the caller says where to get the weights).
std::string weights_spec_or_environment(const std::string& explicit_spec, const char* variable);

// What provenance records of a weights spec: the spec itself for synthetic:SEED, else the file's
// sha256. `label` starts the InputError for a bad seed or an unreadable file.
std::string weights_sha256(const std::string& weights, const std::string& label);

void copy_named_weights(const std::map<std::string, torch::Tensor>& given,
                        const std::vector<std::pair<std::string, torch::Tensor>>& targets, const NamedWeightsCheck& check);

}  // namespace cmbench
