// PNG decoding (core/png.h parse_png_header, decode_png) into a buffer sized from the header, as
// every reader does: the header must refuse sizes over kMaxPngPixels, and sizes the data cannot
// hold, before the buffer exists.
#include "core/png.h"
#include "fuzz/util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cmbench;
  fuzz::init_once();
  for (const int64_t channels : {int64_t{1}, int64_t{3}}) {
    fuzz::expect_contract([&] {
      PngHeader header = parse_png_header(data, size, "input.png");
      if (header.width * header.height > kMaxPngPixels) __builtin_trap();
      check_png_data_size(data, size, size, "input.png");
      header.channels = channels;
      std::vector<uint8_t> out(static_cast<size_t>(header.width * header.height * channels));
      decode_png(data, size, header, out.data(), "input.png");
    });
  }
  return 0;
}
