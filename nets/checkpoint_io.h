// Networks <-> checkpoints (core/checkpoint.h): building a network from a checkpoint's config and
// loading a weights group into it by EDM name.
#pragma once

#include <string>

#include "core/checkpoint.h"
#include "nets/factory.h"

namespace cmbench {

// Loads group `group` of `checkpoint` (read from `path`, named in messages) into `net`: every name
// and shape checked, all mismatches in one InputError; non-strict mode skips names on either side
// and returns them.
LoadReport load_weights(Denoiser& net, const Checkpoint& checkpoint, const std::string& group, bool strict,
                        const std::string& path);

// Builds the network described by the checkpoint's `config` (`net` and `precond`), or by `net_override`
// when given (files exported without a config), and loads `group` ("" = ema, else model).
DenoiserPtr load_network(const std::string& path, const std::string& group = {}, bool strict = true,
                         const nlohmann::json& net_override = nullptr);

// The same from a checkpoint already read (with `group` among its groups); `path` names it in messages.
DenoiserPtr network_from_checkpoint(const Checkpoint& checkpoint, const std::string& group, const std::string& path,
                                    bool strict = true, const nlohmann::json& net_override = nullptr);

// The checkpoint `config` object for a network: {"net": ..., "precond": ...} merged into `base`.
nlohmann::json network_config(const Denoiser& net, nlohmann::json base = nlohmann::json::object());

}  // namespace cmbench
