#include "nets/mlp.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

namespace {
nlohmann::json mlp_config(const MlpOptions& o) {
  return {{"arch", "mlp"},           {"img_channels", o.img_channels()}, {"img_resolution", o.img_resolution()},
          {"hidden", o.hidden()},    {"layers", o.layers()},             {"embedding", o.embedding()},
          {"label_dim", o.label_dim()}, {"dropout", o.dropout()}};
}
}  // namespace

MlpDenoiser::MlpDenoiser(const MlpOptions& options, PrecondConfig precond)
    : PreconditionedNetwork(mlp_config(options), precond), options_(options) {
  if (options.img_channels() < 1 || options.img_resolution() < 1 || options.hidden() < 1 || options.layers() < 1 ||
      options.embedding() < 2 || options.embedding() % 2 != 0)
    throw InputError("net (mlp): channels, resolution, hidden, layers must be >= 1 and embedding even >= 2");
  // Counted in floating point so that no size overflows; the MLP is never built on the meta device
  // (LibTorch's Linear allocates), so its size is bounded before anything is allocated.
  const double pixels = double(options.img_channels()) * double(options.img_resolution()) * options.img_resolution();
  const double hidden = double(options.hidden());
  const double parameters = (pixels + options.embedding() + 1) * hidden +
                            (options.layers() - 1.0) * (hidden + 1) * hidden +
                            std::max<int64_t>(options.label_dim(), 0) * hidden + (hidden + 1) * pixels;
  if (parameters > double(kMaxMlpParameters))
    throw InputError(fmt::format("net (mlp): {:.3g} parameters, more than the limit of {} for this toy network",
                                 parameters, kMaxMlpParameters));
  const int64_t dim = options.img_channels() * options.img_resolution() * options.img_resolution();
  // Fixed log-spaced frequencies (0.5 to 16 rad per unit of c_noise = ln(sigma)/4) for the noise
  // embedding: a buffer, not trained.
  frequencies_ = register_buffer("frequencies", torch::logspace(-1, 5, options.embedding() / 2, 2.0, torch::kFloat32));
  layers_ = register_module("layers", torch::nn::ModuleList());
  int64_t width = dim + options.embedding();
  for (int64_t i = 0; i < options.layers(); ++i) {
    layers_->push_back(torch::nn::Linear(width, options.hidden()));
    width = options.hidden();
  }
  if (options.label_dim() > 0)
    label_embed_ = register_module("label_embed", torch::nn::Linear(torch::nn::LinearOptions(options.label_dim(), options.hidden()).bias(false)));
  dropout_ = register_module("dropout", torch::nn::Dropout(options.dropout()));
  output_ = register_module("output", torch::nn::Linear(options.hidden(), dim));
}

torch::Tensor MlpDenoiser::raw(const torch::Tensor& scaled_x, const torch::Tensor& c_noise,
                               const torch::Tensor& class_labels, const torch::Tensor& /*augment_labels*/) {
  const auto angles = c_noise.reshape({-1, 1}) * frequencies_.unsqueeze(0);
  auto h = torch::cat({scaled_x.flatten(1), angles.sin(), angles.cos()}, 1);
  for (size_t i = 0; i < layers_->size(); ++i) {
    h = layers_[i]->as<torch::nn::Linear>()->forward(h);
    if (i == 0 && label_embed_ && class_labels.defined()) h = h + label_embed_->forward(class_labels.to(h.dtype()));
    h = dropout_->forward(torch::silu(h));
  }
  return output_->forward(h).view_as(scaled_x);
}

std::unique_ptr<MlpDenoiser> make_mlp_denoiser(const nlohmann::json& net, const PrecondConfig& precond) {
  MlpOptions o;
  try {
    o.img_channels(net.value("img_channels", o.img_channels()))
        .img_resolution(net.value("img_resolution", o.img_resolution()))
        .hidden(net.value("hidden", o.hidden()))
        .layers(net.value("layers", o.layers()))
        .embedding(net.value("embedding", o.embedding()))
        .label_dim(net.value("label_dim", o.label_dim()))
        .dropout(net.value("dropout", o.dropout()));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("net (mlp): ") + e.what());
  }
  return std::make_unique<MlpDenoiser>(o, precond);
}

}  // namespace cmbench
