// EDM dataset zips (data/image_source.h open_image_source on FILE.zip): zip structure, PNG members
// checked at open (headers, mixed resolutions, declared sizes), dataset.json labels, every image
// decoded, one at a time as a loader reads them.
#include "data/image_source.h"
#include "fuzz/util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cmbench;
  fuzz::init_once();
  if (size > fuzz::kMaxInputBytes) return 0;
  const std::string path = fuzz::write_input(data, size, "dataset.zip");
  fuzz::expect_contract([&] {
    const auto images = open_image_source(path);
    if (images->size() <= 0 || images->height() <= 0 || images->width() <= 0) __builtin_trap();
    for (int64_t i = 0; i < images->size(); ++i) (void)images->read(i, i + 1);
    if (images->has_labels() && images->labels().size(0) != images->size()) __builtin_trap();
  });
  return 0;
}
