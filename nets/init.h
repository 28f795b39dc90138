// Where parameter values come from while a network is built. make_network opens an InitScope with
// a generator derived from the run seed, so initialization is deterministic and independent of the
// global generator; with shapes_only, parameters are created on the meta device without values
// (names, shapes and counts of the 1.1B-parameter presets without their memory). Layers call the
// functions below instead of threading a context through every constructor.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

namespace cmbench {

class InitScope {
 public:
  InitScope(torch::Generator generator, bool shapes_only);
  ~InitScope();
  InitScope(const InitScope&) = delete;
  InitScope& operator=(const InitScope&) = delete;

 private:
  InitScope* previous_;
  friend struct InitAccess;
  torch::Generator generator_;
  bool shapes_only_;
};

// EDM's weight_init modes (NVlabs/edm training/networks.py).
enum class InitMode { xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal };
InitMode parse_init_mode(const std::string& name);

// float32 tensor of `shape` drawn by `mode` for the given fans, times `scale`.
torch::Tensor init_weight(const std::vector<int64_t>& shape, InitMode mode, int64_t fan_in, int64_t fan_out,
                          double scale);
torch::Tensor init_randn(const std::vector<int64_t>& shape);  // standard normal, float32
torch::Tensor init_rand(const std::vector<int64_t>& shape);   // uniform [0, 1), float32
torch::Tensor init_constant(const std::vector<int64_t>& shape, double value);

bool init_shapes_only();
// The seed of the current scope's generator: layers that initialize through LibTorch's own
// initializers (nets/mlp.h) seed the global generator with it. InputError outside any scope.
uint64_t init_seed();

}  // namespace cmbench
