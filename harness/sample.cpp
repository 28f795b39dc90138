#include "harness/sample.h"

#include <chrono>
#include <filesystem>
#include <limits>
#include <sstream>

#include "core/atomic_file.h"
#include "core/checkpoint.h"
#include "core/device.h"
#include "core/error.h"
#include "core/image_values.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "core/progress.h"
#include "core/torch_compat.h"
#include "core/png.h"
#include "harness/network_answers.h"
#include "methods/checkpoint_method.h"
#include "methods/sampler.h"
#include "nets/checkpoint_io.h"

namespace cmbench {

namespace fs = std::filesystem;

std::vector<double> parse_sigma_list(const std::string& text) {
  std::vector<double> levels;
  if (text.empty()) return levels;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      levels.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw InputError("--sigmas '" + text + "': '" + item + "' is not a number");
    }
  }
  return levels;
}

std::string SeedRange::label() const { return std::to_string(first) + "-" + std::to_string(last); }

SeedRange parse_seed_range(const std::string& text, const std::string& what) {
  const auto dash = text.find('-');
  try {
    if (dash == std::string::npos) throw std::invalid_argument(text);
    size_t used_a = 0, used_b = 0;
    const int64_t a = std::stoll(text.substr(0, dash), &used_a);
    const int64_t b = std::stoll(text.substr(dash + 1), &used_b);
    if (used_a != dash || used_b != text.size() - dash - 1 || a < 0 || b < a ||
        b == std::numeric_limits<int64_t>::max())  // its count, B - A + 1, would overflow
      throw std::invalid_argument(text);
    return {a, b};
  } catch (const std::exception&) {
    throw InputError(what + " '" + text + "' must be a range A-B with 0 <= A <= B");
  }
}

namespace {

torch::Tensor read_key(const std::string& path, const std::string& key) {
  const auto arrays = read_npz(path, {key});
  return to_tensor(arrays.at(key));
}

}  // namespace

nlohmann::json sample(const SampleRequest& r) {
  if (r.num <= 0) throw InputError("--num must be positive");
  // One read of the file: the weights group, the config and the attributes.
  const auto groups = checkpoint_groups(r.ckpt);
  // --ema NAME names profile NAME (group ema.NAME); a full group name (ema.NAME) is taken as it is.
  const auto group = sampled_weights_group(groups, r.ema, r.ckpt);
  const auto checkpoint = read_checkpoint(r.ckpt, {group});
  const auto device = resolve_device(r.device);
  auto net = network_from_checkpoint(checkpoint, group, r.ckpt);
  net->to(device);

  // The training method decides the default rule and its levels (its dataset preset).
  const auto method = checkpoint_method(checkpoint, r.ckpt);
  const auto sampler = make_sampler(r.sampler.empty() ? method->default_sampler() : r.sampler);
  SamplerSettings settings;
  settings.steps = r.steps;
  settings.sigmas = r.sigmas;
  settings.knobs = r.knobs;
  const auto plan = sampler->plan(settings, *method);

  const SeedRange seeds = r.seeds.value_or(SeedRange{0, r.num - 1});
  if (seeds.count() != r.num)
    throw InputError("--seeds " + seeds.label() + ": " + std::to_string(seeds.count()) + " seeds for --num " + std::to_string(r.num));
  const int64_t first_seed = seeds.first;
  const int64_t C = net->img_channels(), R = net->img_resolution();
  torch::Tensor noise, labels_file;
  if (!r.noise.empty()) {
    noise = read_key(r.noise, "noise").to(torch::kFloat64);
    if (noise.dim() != 4 || noise.size(0) < r.num || noise.size(1) != C || noise.size(2) != R || noise.size(3) != R)
      throw InputError(r.noise + ": noise must be (>= " + std::to_string(r.num) + ", " + std::to_string(C) + ", " +
                       std::to_string(R) + ", " + std::to_string(R) + ")");
  }
  if (!r.labels.empty()) {
    labels_file = read_key(r.labels, "labels").to(torch::kInt64);
    if (labels_file.dim() != 1 || labels_file.size(0) < r.num)
      throw InputError(r.labels + ": labels must be int64 (>= " + std::to_string(r.num) + ",)");
    if (net->label_dim() <= 0) throw InputError(r.labels + ": the checkpoint's network is unconditional");
  }

  const int64_t batch = r.batch > 0 ? r.batch : 64;
  const auto group_handle = r.group ? r.group : single_process();
  ProcessGroup& ranks = *group_handle;
  const bool to_npz = fs::path(r.out).extension() == ".npz";
  if (!to_npz) fs::create_directories(r.out);
  std::vector<torch::Tensor> all_images, all_raw;
  ProgressBar bar("sample " + sampler->name(), r.num, "img");
  if (!r.progress || !ranks.is_root()) bar.set_output(stderr, false, 1e9);
  int64_t nfe = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int64_t begin = 0; begin < r.num; begin += batch) {
    if (!owns_batch(ranks, begin / batch)) continue;
    const int64_t end = std::min(begin + batch, r.num);
    std::vector<torch::Generator> generators;
    for (int64_t i = begin; i < end; ++i)
      generators.push_back(compat::make_cpu_generator(static_cast<uint64_t>(first_seed + i)));
    // Each image's generator draws its latent first (EDM's generate.py), even when --noise replaces it.
    auto latents = per_image_normal(generators, {C, R, R}, device);
    if (noise.defined()) latents = noise.slice(0, begin, end).to(device);
    torch::Tensor labels;
    if (net->label_dim() > 0) {
      torch::Tensor index;
      if (labels_file.defined()) {
        index = labels_file.slice(0, begin, end);
      } else {
        std::vector<int64_t> drawn;
        for (auto& g : generators) drawn.push_back(torch::randint(0, net->label_dim(), {1}, g, torch::kInt64).item<int64_t>());
        index = torch::tensor(drawn, torch::kInt64);
      }
      if (index.min().item<int64_t>() < 0 || index.max().item<int64_t>() >= net->label_dim())
        throw InputError(r.labels + ": labels outside [0, " + std::to_string(net->label_dim()) + ")");
      labels = torch::one_hot(index, net->label_dim()).to(torch::kFloat32).to(device);
    }
    const auto denoise = make_denoise_fn(*net, labels, r.knobs.guidance);
    const auto result = sampler->run(plan, denoise, latents, generators, *net);
    nfe = result.nfe;
    const auto x = result.images.to(torch::kCPU);
    // A diverged or corrupted network gives NaN or inf, which quantization would silently turn into
    // black images that a metric then scores as a result.
    const auto finite = torch::isfinite(x).flatten(1).all(1);
    if (!finite.all().item<bool>()) {
      const int64_t row = (~finite).nonzero()[0][0].item<int64_t>();
      throw InputError(r.ckpt + ": weights group '" + group + "' gives non-finite values (NaN or inf) at seed " +
                       std::to_string(first_seed + begin + row) + " (NFE " + std::to_string(result.nfe) +
                       "); stopped, no image of that batch was written");
    }
    const auto images = quantize_images(x);
    if (to_npz) {
      all_images.push_back(images);
      if (r.raw) all_raw.push_back(x.to(torch::kFloat32));
    } else {
      for (int64_t i = 0; i < images.size(0); ++i) {
        const auto png = encode_png(images[i].data_ptr<uint8_t>(), R, R, C);
        char name[32];
        std::snprintf(name, sizeof(name), "%06lld.png", static_cast<long long>(first_seed + begin + i));
        atomic_write_bytes((fs::path(r.out) / name).string(), png.data(), png.size());
      }
    }
    bar.set_done(end);
  }
  bar.finish();
  if (to_npz) {
    const auto rows = [&](std::vector<torch::Tensor>& parts, torch::Tensor empty) {
      return gather_batches(ranks, parts.empty() ? empty : torch::cat(parts), r.num, batch);
    };
    const auto images = rows(all_images, torch::empty({0, R, R, C}, torch::kUInt8));
    const auto raw = r.raw ? rows(all_raw, torch::empty({0, C, R, R}, torch::kFloat32)) : torch::Tensor();
    if (ranks.is_root()) {
      NpzMap arrays;
      arrays["images"] = from_tensor(images);
      if (r.raw) arrays["raw"] = from_tensor(raw);
      write_npz(r.out, arrays);
    }
  }
  ranks.barrier();  // every rank's PNGs (or rank 0's .npz) are written when any rank returns
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return {{"out", r.out},           {"num", r.num},         {"sampler", sampler->name()},
          {"levels", plan.levels},       {"nfe", nfe},           {"weights", group},
          {"knobs", describe_knobs(r.knobs, *method)},
          {"images_per_second", seconds > 0 ? r.num / seconds : 0.0}, {"seconds", seconds}};
}

}  // namespace cmbench
