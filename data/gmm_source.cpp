#include "data/gmm_source.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <tuple>

#include <fmt/format.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/basic_image_source.h"

namespace cmbench {

namespace {

namespace fs = std::filesystem;

constexpr const char* kPrefix = "gmm:";

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool all_digits(const std::string& text) {
  return !text.empty() && text.size() <= 18 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

[[noreturn]] void bad_spec(const std::string& spec) {
  throw InputError(fmt::format("{}: expected gmm:FILE.npz, gmm:FILE.npz:train, gmm:FILE.npz:test or gmm:FILE.npz:N:SEED "
                               "(N > 0 draws from seed SEED)",
                               spec));
}

// The mixture of `file`, loaded once per (file, size, modification time).
std::shared_ptr<const GaussianMixture> load_cached(const std::string& file, const std::string& spec) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw InputError(fmt::format("{}: no such mixture file '{}'", spec, file));
  const auto key = fs::weakly_canonical(file, ec).string();
  const auto stamp = fmt::format("{}:{}", fs::file_size(file, ec), fs::last_write_time(file, ec).time_since_epoch().count());
  struct Entry {
    std::string stamp;
    std::shared_ptr<const GaussianMixture> mixture;
  };
  static std::mutex mutex;
  static std::map<std::string, Entry> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = cache[key];
  if (!entry.mixture || entry.stamp != stamp) {
    try {
      entry.mixture = std::make_shared<const GaussianMixture>(GaussianMixture::load(file));
    } catch (const InputError& e) {
      cache.erase(key);
      throw InputError(fmt::format("{}: {}", spec, e.what()));
    }
    entry.stamp = stamp;
  }
  return entry.mixture;
}

class GmmImageSource : public BasicImageSource {
 public:
  GmmImageSource(std::shared_ptr<const GaussianMixture> mixture, const GmmSourceSpec& spec, const std::string& name)
      : mixture_(std::move(mixture)), seed_(spec.seed) {
    name_ = name;
    count_ = spec.count;
    channels_ = mixture_->shape()[0];
    height_ = mixture_->shape()[1];
    width_ = mixture_->shape()[2];
  }

 protected:
  void read_into(int64_t begin, int64_t end, uint8_t* out) const override {
    const auto bytes = static_cast<size_t>(image_bytes());
    for (int64_t i = begin; i < end; ++i) {
      const auto image = quantize_images(mixture_->sample(1, make_generator(seed_, "gmm", static_cast<uint64_t>(i))));
      std::memcpy(out + static_cast<size_t>(i - begin) * bytes, image.data_ptr<uint8_t>(), bytes);
    }
  }

 private:
  std::shared_ptr<const GaussianMixture> mixture_;
  uint64_t seed_;
};

}  // namespace

std::optional<GmmSourceSpec> parse_gmm_spec(const std::string& spec) {
  if (spec.rfind(kPrefix, 0) != 0) return std::nullopt;
  const std::string rest = spec.substr(std::strlen(kPrefix));
  const auto is_file = [](const std::string& file) { return file.size() > 4 && ends_with(file, ".npz"); };
  if (is_file(rest)) return GmmSourceSpec{rest, kGmmTrainCount, kGmmTrainSeed};
  for (const auto& [suffix, count, seed] : {std::tuple{":train", kGmmTrainCount, kGmmTrainSeed},
                                            std::tuple{":test", kGmmTestCount, kGmmTestSeed}}) {
    if (ends_with(rest, suffix)) {
      const auto file = rest.substr(0, rest.size() - std::strlen(suffix));
      if (!is_file(file)) bad_spec(spec);
      return GmmSourceSpec{file, count, seed};
    }
  }
  const auto seed_colon = rest.rfind(':');
  if (seed_colon == std::string::npos || seed_colon == 0) bad_spec(spec);
  const auto count_colon = rest.rfind(':', seed_colon - 1);
  if (count_colon == std::string::npos) bad_spec(spec);
  const auto file = rest.substr(0, count_colon);
  const auto count = rest.substr(count_colon + 1, seed_colon - count_colon - 1);
  const auto seed = rest.substr(seed_colon + 1);
  if (!is_file(file) || !all_digits(count) || !all_digits(seed) || std::stoll(count) <= 0) bad_spec(spec);
  return GmmSourceSpec{file, std::stoll(count), std::stoull(seed)};
}

std::shared_ptr<const GaussianMixture> ground_truth_of(const std::string& spec) {
  const auto parsed = parse_gmm_spec(spec);
  if (!parsed) return nullptr;
  return load_cached(parsed->file, spec);
}

std::unique_ptr<ImageSource> open_gmm_source(const GmmSourceSpec& spec, const std::string& name) {
  return std::make_unique<GmmImageSource>(load_cached(spec.file, name), spec, name);
}

}  // namespace cmbench
