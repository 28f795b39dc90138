// Checkpoints in HDF5, an interchange format readable and writable with h5py:
//   root attribute `format` = "cmbench-checkpoint-1"
//   root attribute `config` = the resolved config as a JSON string (`net` with EDM's keyword names,
//                             `precond` = {"train": {"form", "eps_b"}, "eval": {...}, "sigma_data"})
//   root attribute `step`   = training step (training checkpoints), plus any further attributes
//   /model, /ema, /ema.<name>, /target: one float32 dataset per state-dict tensor under its EDM name
//   /optimizer, /rng, ...:  further groups of named tensors (their own dtypes) for --resume
// A file with only /ema (or only /model), with or without `format` and `config`, is a valid
// checkpoint for sampling, so weights exported from the Python reference code load directly.
// Writes are atomic and byte-reproducible (no HDF5 timestamps).
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cmbench {

// Ordered (name, tensor) pairs, as PyTorch's state_dict().
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

inline constexpr const char* kCheckpointFormat = "cmbench-checkpoint-1";

struct Checkpoint {
  nlohmann::json config;                       // null when the file has no `config`
  std::map<std::string, NamedTensors> groups;  // group name -> tensors
  // Further root attributes: integers, floating-point numbers and strings (e.g. "step").
  nlohmann::json attributes = nlohmann::json::object();

  bool has(const std::string& group) const { return groups.count(group) != 0; }
  const NamedTensors& group(const std::string& name) const;  // InputError when absent
};

// Weight groups (model, ema, ema.<name>, target) are stored as float32; others keep their dtype.
bool is_weights_group(const std::string& group);

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads the named groups (all when `groups` is empty). A missing requested group, a foreign
// `format`, a malformed `config` or an unreadable file is an InputError naming the file.
Checkpoint read_checkpoint(const std::string& path, const std::vector<std::string>& groups = {});

// Group names in the file, without reading tensors.
std::vector<std::string> checkpoint_groups(const std::string& path);

// The group that sampling uses by default: "ema" when present, else "model".
std::string default_weights_group(const std::vector<std::string>& groups, const std::string& path);

struct LoadReport {
  std::vector<std::string> unexpected;  // in the source, not in the destination (skipped)
  std::vector<std::string> missing;     // in the destination, not in the source (left as they were)
};

// Copies source tensors into the destination's live tensors by name (dtype and device of the
// destination). Shape mismatches are always errors; strict mode also rejects unexpected and missing
// names. Every problem is reported in one InputError that starts with `context` (e.g. "FILE:/ema").
LoadReport load_named_tensors(const NamedTensors& source, const NamedTensors& destination, bool strict,
                              const std::string& context);
// The same checks and report without copying (destinations may be meta tensors).
LoadReport check_named_tensors(const NamedTensors& source, const NamedTensors& destination, bool strict,
                               const std::string& context);

}  // namespace cmbench
