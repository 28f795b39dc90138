#include "nets/factory.h"

#include <algorithm>

#include "core/error.h"
#include "core/registry.h"
#include "core/rng.h"
#include "nets/analytic.h"
#include "nets/dhariwal_unet.h"
#include "nets/edm2_unet.h"
#include "nets/init.h"
#include "nets/mlp.h"
#include "nets/song_unet.h"

namespace cmbench {

namespace {

using json = nlohmann::json;

// Every keyword of each arch with EDM's defaults for it; a preset overrides some of them.
const json& arch_defaults(const std::string& arch) {
  static const json ddpmpp = {
      {"arch", "ddpmpp"}, {"img_resolution", 32}, {"in_channels", 3}, {"out_channels", 3}, {"label_dim", 0},
      {"augment_dim", 0}, {"model_channels", 128}, {"channel_mult", {2, 2, 2}}, {"channel_mult_emb", 4},
      {"num_blocks", 4}, {"attn_resolutions", {16}}, {"dropout", 0.13}, {"label_dropout", 0.0},
      {"embedding_type", "positional"}, {"channel_mult_noise", 1}, {"encoder_type", "standard"},
      {"decoder_type", "standard"}, {"resample_filter", {1.0, 1.0}}, {"fourier_scale", 16.0}};
  static const json ncsnpp = [] {
    json j = ddpmpp;
    j["arch"] = "ncsnpp";
    j["embedding_type"] = "fourier";
    j["channel_mult_noise"] = 2;
    j["encoder_type"] = "residual";
    j["resample_filter"] = {1.0, 3.0, 3.0, 1.0};
    return j;
  }();
  static const json adm = {
      {"arch", "adm"}, {"img_resolution", 64}, {"in_channels", 3}, {"out_channels", 3}, {"label_dim", 1000},
      {"augment_dim", 0}, {"model_channels", 192}, {"channel_mult", {1, 2, 3, 4}}, {"channel_mult_emb", 4},
      {"num_blocks", 3}, {"attn_resolutions", {32, 16, 8}}, {"dropout", 0.1}, {"label_dropout", 0.0},
      {"channels_per_head", 64}};
  static const json edm2 = {
      {"arch", "edm2"}, {"img_resolution", 64}, {"img_channels", 3}, {"label_dim", 1000}, {"model_channels", 192},
      {"channel_mult", {1, 2, 3, 4}}, {"channel_mult_noise", 0}, {"channel_mult_emb", 0}, {"num_blocks", 3},
      {"attn_resolutions", {16, 8}}, {"label_balance", 0.5}, {"concat_balance", 0.5}, {"dropout", 0.0},
      {"dropout_res", 0}, {"label_dropout", 0.0}, {"resample_filter", {1.0, 1.0}}, {"channels_per_head", 64},
      {"res_balance", 0.3}, {"attn_balance", 0.3}, {"clip_act", 256.0}, {"logvar_channels", 128}};
  static const json gaussian = {{"arch", "gaussian"}, {"img_resolution", 32}, {"in_channels", 3},
                                {"out_channels", 3},  {"mean", 0.0},         {"std", 0.5}};
  static const json gmm = {{"arch", "gmm"},          {"img_resolution", 32},  {"in_channels", 3},
                           {"out_channels", 3},      {"means", {-0.5, 0.5}}, {"variances", {0.01, 0.01}},
                           {"weights", {0.5, 0.5}},  {"mixture", ""},          {"mixture_sha256", ""}};
  static const json mlp = {{"arch", "mlp"},   {"img_channels", 2}, {"img_resolution", 1}, {"hidden", 64},
                           {"layers", 2},     {"embedding", 16},   {"label_dim", 0},      {"dropout", 0.0}};
  if (arch == "ddpmpp") return ddpmpp;
  if (arch == "ncsnpp") return ncsnpp;
  if (arch == "adm") return adm;
  if (arch == "edm2") return edm2;
  if (arch == "gaussian") return gaussian;
  if (arch == "gmm") return gmm;
  if (arch == "mlp") return mlp;
  throw InputError("net.arch '" + arch + "': expected ddpmpp, ncsnpp, adm, edm2, gaussian, gmm or mlp");
}

json with(const std::string& arch, const json& overrides) {
  json j = arch_defaults(arch);
  for (const auto& [key, value] : overrides.items()) j[key] = value;
  return j;
}

std::vector<NetPreset> build_presets() {
  std::vector<NetPreset> p;
  auto add = [&](std::string name, std::string description, json config) {
    config["preset"] = name;
    p.push_back({std::move(name), std::move(description), std::move(config)});
  };
  add("cifar10-ddpmpp", "EDM DDPM++ (SongUNet), CIFAR-10 32x32 unconditional, 55.7M", with("ddpmpp", json::object()));
  add("cifar10-ddpmpp-aug9", "EDM DDPM++ with augment_dim 9 (loads EDM's augmented CIFAR-10 checkpoints)",
      with("ddpmpp", {{"augment_dim", 9}}));
  add("cifar10-ncsnpp", "EDM NCSN++ (SongUNet, Fourier embedding, residual encoder), CIFAR-10, 56.4M",
      with("ncsnpp", json::object()));
  add("imagenet64-adm", "EDM ADM (DhariwalUNet), ImageNet-64 class-conditional, 295.9M", with("adm", json::object()));
  // iCT-deep (Song & Dhariwal 2023): twice the residual blocks per resolution of iCT's networks.
  add("cifar10-ncsnpp-deep", "NCSN++ with 8 blocks per resolution (iCT-deep, CIFAR-10)", with("ncsnpp", {{"num_blocks", 8}}));
  add("imagenet64-adm-deep", "ADM with 6 blocks per resolution (iCT-deep, ImageNet-64)", with("adm", {{"num_blocks", 6}}));
  add("imagenet64-edm2-s", "EDM2 UNet S, ImageNet-64 class-conditional, 280.2M", with("edm2", {{"model_channels", 192}}));
  add("imagenet64-edm2-m", "EDM2 UNet M, 497.8M", with("edm2", {{"model_channels", 256}, {"dropout", 0.1}}));
  add("imagenet64-edm2-l", "EDM2 UNet L, 777.5M", with("edm2", {{"model_channels", 320}, {"dropout", 0.1}}));
  add("imagenet64-edm2-xl", "EDM2 UNet XL, 1119.3M", with("edm2", {{"model_channels", 384}, {"dropout", 0.1}}));
  // Small configurations: the same code on a CPU in seconds (tests, smoke suites).
  add("cifar10-ddpmpp-tiny", "DDPM++ code path, 16 channels, 1 block per resolution (~0.3M)",
      with("ddpmpp", {{"model_channels", 16}, {"channel_mult", {1, 2, 2}}, {"num_blocks", 1}, {"channel_mult_emb", 2}}));
  add("cifar10-ddpmpp-small", "DDPM++ code path, 32 channels, 2 blocks per resolution (~1.7M)",
      with("ddpmpp", {{"model_channels", 32}, {"channel_mult", {1, 2, 2}}, {"num_blocks", 2}, {"channel_mult_emb", 2}}));
  add("cifar10-ncsnpp-tiny", "NCSN++ code path, 32 channels, 1 block per resolution",
      with("ncsnpp", {{"model_channels", 32}, {"channel_mult", {1, 2, 2}}, {"num_blocks", 1}, {"channel_mult_emb", 2}}));
  add("imagenet64-adm-tiny", "ADM code path at 32x32 with 10 classes, 32 channels, 1 block per resolution",
      with("adm", {{"img_resolution", 32}, {"label_dim", 10}, {"model_channels", 32}, {"channel_mult", {1, 2, 2}},
                   {"num_blocks", 1}, {"attn_resolutions", {16, 8}}, {"channels_per_head", 32}}));
  add("imagenet64-edm2-tiny", "EDM2 code path at 32x32 with 10 classes, 32 channels, 1 block per resolution",
      with("edm2", {{"img_resolution", 32}, {"label_dim", 10}, {"model_channels", 32}, {"channel_mult", {1, 2, 2}},
                    {"num_blocks", 1}, {"attn_resolutions", {8}}, {"channels_per_head", 32}, {"logvar_channels", 16}}));
  return p;
}

// Reads `key` from the table with the type of its default value.
json read_value(const Config& net, const std::string& key, const json& fallback) {
  if (fallback.is_string()) return net.get<std::string>(key);
  if (fallback.is_number_integer()) return net.get<int64_t>(key);
  if (fallback.is_number()) {
    if (key == "mean") {  // analytic Gaussian: a constant or one value per element
      try {
        return net.get<double>(key);
      } catch (const InputError&) {
        return net.get<std::vector<double>>(key);
      }
    }
    return net.get<double>(key);
  }
  if (fallback.is_array() && !fallback.empty() && fallback.front().is_number_integer())
    return net.get<std::vector<int64_t>>(key);
  return net.get<std::vector<double>>(key);
}

void validate(const json& net) {
  const auto arch = net.at("arch").get<std::string>();
  auto positive = [&](const char* key) {
    if (net.contains(key) && net.at(key).get<int64_t>() <= 0)
      throw InputError("net." + std::string(key) + " must be > 0");
  };
  positive("img_resolution");
  positive("model_channels");
  positive("num_blocks");
  // Sizes from a file (a checkpoint's config) are bounded before a network is built: a layer of 2^40
  // channels or 2^40 blocks is no network, and LibTorch refuses negative sizes with a c10::Error.
  constexpr int64_t kMaxSize = int64_t{1} << 16;
  for (const char* key : {"img_resolution", "in_channels", "out_channels", "img_channels", "label_dim", "augment_dim",
                          "model_channels", "channel_mult_emb", "channel_mult_noise", "num_blocks", "channels_per_head",
                          "logvar_channels"}) {
    if (!net.contains(key)) continue;
    const auto value = net.at(key).get<int64_t>();
    if (value < 0 || value > kMaxSize)
      throw InputError("net." + std::string(key) + " " + std::to_string(value) + " must be in [0, " +
                       std::to_string(kMaxSize) + "]");
  }
  if (net.contains("channel_mult")) {
    const auto mult = net.at("channel_mult").get<std::vector<int64_t>>();
    if (mult.size() > 16 || std::any_of(mult.begin(), mult.end(), [&](int64_t m) { return m < 1 || m > kMaxSize; }))
      throw InputError("net.channel_mult must hold at most 16 levels, each in [1, " + std::to_string(kMaxSize) + "]");
  }
  if (net.contains("channel_mult")) {
    const auto mult = net.at("channel_mult").get<std::vector<int64_t>>();
    if (mult.empty()) throw InputError("net.channel_mult must not be empty");
    const auto res = net.at("img_resolution").get<int64_t>();
    if (res % (int64_t{1} << (mult.size() - 1)) != 0)
      throw InputError("net.img_resolution " + std::to_string(res) + " is not divisible by 2^(levels-1) for " +
                       std::to_string(mult.size()) + " levels of channel_mult");
  }
  for (const char* key : {"dropout", "label_dropout"})
    if (net.contains(key)) {
      const double p = net.at(key).get<double>();
      if (p < 0 || p >= 1) throw InputError("net." + std::string(key) + " must be in [0, 1)");
    }
}

template <class UNet>
class EdmUNetNetwork : public PreconditionedNetwork {
 public:
  template <class Options>
  EdmUNetNetwork(const Options& options, json config, PrecondConfig precond)
      : PreconditionedNetwork(std::move(config), precond) {
    model = register_module("model", UNet(options));
  }
  torch::Tensor raw(const torch::Tensor& scaled_x, const torch::Tensor& c_noise, const torch::Tensor& class_labels,
                    const torch::Tensor& augment_labels) override {
    return model->forward(scaled_x, c_noise, class_labels, augment_labels);
  }
  // The U-Net's own names (no `model.` prefix), as EDM's SongUNet/DhariwalUNet state dicts.
  NamedTensors state() override { return ordered_state(*model); }

 private:
  UNet model{nullptr};
};

template <class T>
T get(const json& j, const char* key) {
  return j.at(key).get<T>();
}

std::unique_ptr<Denoiser> build_song(const json& c, const PrecondConfig& precond) {
  auto o = SongUNetOptions(get<int64_t>(c, "img_resolution"), get<int64_t>(c, "in_channels"),
                           get<int64_t>(c, "out_channels"))
               .label_dim(get<int64_t>(c, "label_dim")).augment_dim(get<int64_t>(c, "augment_dim"))
               .model_channels(get<int64_t>(c, "model_channels"))
               .channel_mult(get<std::vector<int64_t>>(c, "channel_mult"))
               .channel_mult_emb(get<int64_t>(c, "channel_mult_emb")).num_blocks(get<int64_t>(c, "num_blocks"))
               .attn_resolutions(get<std::vector<int64_t>>(c, "attn_resolutions"))
               .dropout(get<double>(c, "dropout")).label_dropout(get<double>(c, "label_dropout"))
               .embedding_type(get<std::string>(c, "embedding_type"))
               .channel_mult_noise(get<int64_t>(c, "channel_mult_noise"))
               .encoder_type(get<std::string>(c, "encoder_type")).decoder_type(get<std::string>(c, "decoder_type"))
               .resample_filter(get<std::vector<double>>(c, "resample_filter"))
               .fourier_scale(get<double>(c, "fourier_scale"));
  return std::make_unique<EdmUNetNetwork<SongUNet>>(o, c, precond);
}

std::unique_ptr<Denoiser> build_adm(const json& c, const PrecondConfig& precond) {
  auto o = DhariwalUNetOptions(get<int64_t>(c, "img_resolution"), get<int64_t>(c, "in_channels"),
                               get<int64_t>(c, "out_channels"))
               .label_dim(get<int64_t>(c, "label_dim")).augment_dim(get<int64_t>(c, "augment_dim"))
               .model_channels(get<int64_t>(c, "model_channels"))
               .channel_mult(get<std::vector<int64_t>>(c, "channel_mult"))
               .channel_mult_emb(get<int64_t>(c, "channel_mult_emb")).num_blocks(get<int64_t>(c, "num_blocks"))
               .attn_resolutions(get<std::vector<int64_t>>(c, "attn_resolutions"))
               .dropout(get<double>(c, "dropout")).label_dropout(get<double>(c, "label_dropout"))
               .channels_per_head(get<int64_t>(c, "channels_per_head"));
  return std::make_unique<EdmUNetNetwork<DhariwalUNet>>(o, c, precond);
}

std::unique_ptr<Denoiser> build_edm2(const json& c, const PrecondConfig& precond) {
  auto o = Edm2UNetOptions(get<int64_t>(c, "img_resolution"), get<int64_t>(c, "img_channels"),
                           get<int64_t>(c, "label_dim"))
               .model_channels(get<int64_t>(c, "model_channels"))
               .channel_mult(get<std::vector<int64_t>>(c, "channel_mult"))
               .channel_mult_noise(get<int64_t>(c, "channel_mult_noise"))
               .channel_mult_emb(get<int64_t>(c, "channel_mult_emb")).num_blocks(get<int64_t>(c, "num_blocks"))
               .attn_resolutions(get<std::vector<int64_t>>(c, "attn_resolutions"))
               .label_balance(get<double>(c, "label_balance")).concat_balance(get<double>(c, "concat_balance"))
               .dropout(get<double>(c, "dropout")).dropout_res(get<int64_t>(c, "dropout_res"))
               .label_dropout(get<double>(c, "label_dropout"))
               .resample_filter(get<std::vector<double>>(c, "resample_filter"))
               .channels_per_head(get<int64_t>(c, "channels_per_head"))
               .res_balance(get<double>(c, "res_balance")).attn_balance(get<double>(c, "attn_balance"))
               .clip_act(get<double>(c, "clip_act"));
  return std::make_unique<Edm2Network>(o, get<int64_t>(c, "logvar_channels"), c, precond);
}

std::unique_ptr<Denoiser> build_mlp(const json& c, const PrecondConfig& precond) {
  torch::manual_seed(init_seed());
  return make_mlp_denoiser(c, precond);
}

using NetRegistry = Registry<Denoiser, const json&, const PrecondConfig&>;

const NetRegistry& registry() {
  static const NetRegistry r = [] {
    NetRegistry reg("network arch");
    reg.add("ddpmpp", build_song, "EDM SongUNet, DDPM++ defaults")
        .add("ncsnpp", build_song, "EDM SongUNet, NCSN++ defaults")
        .add("adm", build_adm, "EDM DhariwalUNet (ADM)")
        .add("edm2", build_edm2, "EDM2 UNet with EDM2's Precond names")
        .add("gaussian", make_analytic_denoiser, "exact posterior mean of an isotropic Gaussian")
        .add("gmm", make_analytic_denoiser, "exact posterior mean of a Gaussian mixture")
        .add("mlp", build_mlp, "small MLP on flattened images (CPU tests, toy problems)");
    return reg;
  }();
  return r;
}

}  // namespace

const std::vector<NetPreset>& net_presets() {
  static const std::vector<NetPreset> presets = build_presets();
  return presets;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& p : net_presets()) names.push_back(p.name);
  return names;
}

nlohmann::json resolve_net_config(const Config& net) {
  json base;
  if (net.has("preset")) {
    const auto name = net.get<std::string>("preset");
    const auto& presets = net_presets();
    auto it = std::find_if(presets.begin(), presets.end(), [&](const NetPreset& p) { return p.name == name; });
    if (it == presets.end()) {
      std::string known;
      for (const auto& p : presets) known += (known.empty() ? "" : ", ") + p.name;
      throw InputError(net.where("preset") + ": unknown net preset '" + name + "' (known: " + known + ")");
    }
    base = it->config;
    if (net.has("arch") && net.get<std::string>("arch") != base.at("arch").get<std::string>())
      throw InputError(net.where("arch") + ": net.arch '" + net.get<std::string>("arch") + "' differs from preset '" +
                       name + "' (arch " + base.at("arch").get<std::string>() + ")");
  } else if (net.has("arch")) {
    base = arch_defaults(net.get<std::string>("arch"));
  } else {
    throw InputError(net.where() + ": the net table needs `preset` or `arch`");
  }
  for (const auto& key : net.keys()) {
    if (key == "preset" || key == "arch") continue;
    if (!base.contains(key))
      throw InputError(net.where(key) + ": unknown key 'net." + key + "' for arch " + base.at("arch").get<std::string>());
    base[key] = read_value(net, key, base.at(key));
  }
  validate(base);
  return base;
}

nlohmann::json resolve_net_config(const nlohmann::json& net) {
  if (!net.is_object() || !net.contains("arch") || !net.at("arch").is_string())
    throw InputError("net: expected an object with a string `arch`");
  json full = arch_defaults(net.at("arch").get<std::string>());
  for (const auto& [key, value] : net.items()) full[key] = value;
  try {
    validate(full);
  } catch (const json::exception& e) {
    throw InputError(std::string("net: ") + e.what());
  }
  return full;
}

DenoiserPtr make_network(const Config& net, const PrecondConfig& precond, const NetworkOptions& options) {
  return make_network(resolve_net_config(net), precond, options);
}

DenoiserPtr make_network(const nlohmann::json& net, const PrecondConfig& precond, const NetworkOptions& options) {
  const auto config = resolve_net_config(net);
  InitScope scope(make_generator(options.seed, "net_init"), options.shapes_only);
  try {
    return DenoiserPtr(registry().create(config.at("arch").get<std::string>(), config, precond));
  } catch (const json::exception& e) {
    throw InputError(std::string("net: ") + e.what());
  } catch (const c10::Error& e) {  // sizes the layers cannot take, e.g. channels not divisible by heads
    throw InputError(std::string("net: not a network LibTorch can build: ") + e.what_without_backtrace());
  }
}

void copy_state(Denoiser& source, Denoiser& destination) {
  const auto from = source.state();
  auto to = destination.state();
  if (from.size() != to.size()) throw InputError("copy_state: networks of different architectures");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < from.size(); ++i) {
    if (from[i].first != to[i].first || !from[i].second.sizes().equals(to[i].second.sizes()))
      throw InputError("copy_state: tensor '" + from[i].first + "' does not match '" + to[i].first + "'");
    to[i].second.copy_(from[i].second);
  }
}

DenoiserPtr make_preset_network(const std::string& preset, uint64_t seed) {
  Config net;
  net.set("preset=" + json(preset).dump());
  NetworkOptions options;
  options.seed = seed;
  return make_network(net, {}, options);
}

DenoiserPtr clone_network(Denoiser& source) {
  auto copy = make_network(source.config(), source.precond());
  const auto state = source.state();
  const auto device = state.empty() ? torch::Device(torch::kCPU) : state.front().second.device();
  copy->to(device);
  copy->set_channels_last(source.channels_last());
  copy_state(source, *copy);
  copy->train(source.is_training());
  return copy;
}

}  // namespace cmbench
