// TorchScript detectors (metrics/detector.h, metrics/vgg16_detector.h): torch::jit::load of the file
// and the checks cmbench runs on the loaded module. The module's code is never run: what a loaded
// program does is not parsing.
#include "fuzz/util.h"
#include "metrics/detector.h"
#include "metrics/vgg16_detector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cmbench::fuzz::init_once();
  if (size > cmbench::fuzz::kMaxInputBytes) return 0;
  const auto path = cmbench::fuzz::write_input(data, size, "X.pt");
  cmbench::fuzz::expect_contract([&] {
    const auto detector = cmbench::make_detector(cmbench::DetectorOptions().weights(path).device("cpu"));
    (void)detector->describe().dump();
  });
  cmbench::fuzz::expect_contract([&] {
    const cmbench::Vgg16Detector detector(cmbench::Vgg16DetectorOptions().weights(path).device("cpu"));
    (void)detector.describe().dump();
  });
  return 0;
}
