#include "data/basic_image_source.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>

#include "core/error.h"

namespace cmbench {

torch::Tensor BasicImageSource::read(int64_t begin, int64_t end) const {
  if (begin < 0 || end < begin || end > count_) {
    throw InputError(fmt::format("{}: image range [{}, {}) outside 0..{}", name_, begin, end, count_));
  }
  auto images = torch::empty({end - begin, height_, width_, channels_}, torch::TensorOptions().dtype(torch::kUInt8));
  if (end > begin) read_into(begin, end, images.data_ptr<uint8_t>());
  return images;
}

torch::Tensor BasicImageSource::read_indices(const std::vector<int64_t>& indices) const {
  for (const int64_t index : indices) {
    if (index < 0 || index >= count_) throw InputError(fmt::format("{}: image index {} outside 0..{}", name_, index, count_ - 1));
  }
  const auto n = static_cast<int64_t>(indices.size());
  auto images = torch::empty({n, height_, width_, channels_}, torch::TensorOptions().dtype(torch::kUInt8));
  uint8_t* out = images.data_ptr<uint8_t>();
  for (size_t i = 0; i < indices.size();) {
    size_t j = i + 1;
    while (j < indices.size() && indices[j] == indices[j - 1] + 1) ++j;
    read_into(indices[i], indices[j - 1] + 1, out + static_cast<int64_t>(i) * image_bytes());
    i = j;
  }
  return images;
}

void BasicImageSource::set_labels(const std::vector<int64_t>& labels, const std::string& source, int64_t num_classes) {
  if (static_cast<int64_t>(labels.size()) != count_) {
    throw InputError(fmt::format("{}: {} labels for {} images", source, labels.size(), count_));
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || (num_classes > 0 && labels[i] >= num_classes)) {
      throw InputError(fmt::format("{}: label {} of image {} out of range{}", source, labels[i], i,
                                   num_classes > 0 ? fmt::format(" 0..{}", num_classes - 1) : std::string(" (negative)")));
    }
  }
  labels_ = torch::tensor(labels, torch::TensorOptions().dtype(torch::kInt64));
}

std::vector<int64_t> labels_from_dataset_json(const std::string& text, const std::vector<std::string>& names,
                                              const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: malformed JSON: {}", source, e.what()));
  }
  if (!doc.is_object() || !doc.contains("labels") || doc["labels"].is_null()) return {};
  const auto& list = doc["labels"];
  if (!list.is_array()) throw InputError(fmt::format("{}: 'labels' is not a list", source));
  std::map<std::string, int64_t> by_name;
  for (const auto& entry : list) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number_integer()) {
      throw InputError(fmt::format("{}: each label must be [file name, integer class]", source));
    }
    by_name[entry[0].get<std::string>()] = entry[1].get<int64_t>();
  }
  std::vector<int64_t> labels;
  labels.reserve(names.size());
  for (const auto& name : names) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) throw InputError(fmt::format("{}: no label for '{}'", source, name));
    labels.push_back(it->second);
  }
  return labels;
}

}  // namespace cmbench
