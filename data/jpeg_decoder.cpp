#include "data/jpeg_decoder.h"

// jpeglib.h needs size_t and FILE declared first.
#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jerror.h>
#include <jpeglib.h>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// PIL's output() drops libjpeg's messages, so corrupt-data warnings pass as they do in PIL. The one
// exception is the premature end of data: PIL's source never lets libjpeg pad a short file and
// raises "image file is truncated" instead.
void on_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
}

// Convert.c: MULDIV255 and CLIP8.
int muldiv255(int a, int b) {
  const int tmp = a * b + 128;
  return ((tmp >> 8) + tmp) >> 8;
}

uint8_t clip8(int v) { return static_cast<uint8_t>(v <= 0 ? 0 : v < 256 ? v : 255); }

// Decompresses into `raw` (resized here); returns false with err.message set on a libjpeg error.
// No object with a destructor is created between setjmp and the last libjpeg call.
bool decompress(const uint8_t* data, size_t size, jpeg_decompress_struct& cinfo, ErrorManager& err,
                std::vector<uint8_t>& raw, int64_t& height, int64_t& width, int& components, bool& too_large) {
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  // The whole-image buffers (a progressive file's coefficients, about 2 bytes per sample) are
  // libjpeg's virtual arrays; past this limit libjpeg stops with JERR_NO_BACKING_STORE.
  cinfo.mem->max_memory_to_use = kMaxJpegDecoderBytes;
  jpeg_mem_src(&cinfo, const_cast<unsigned char*>(data), static_cast<unsigned long>(size));
  if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
    std::snprintf(err.message, sizeof err.message, "no image in the JPEG stream (tables only)");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  components = cinfo.num_components;
  height = cinfo.image_height;
  width = cinfo.image_width;
  if (height * width > kMaxJpegPixels) {
    too_large = true;
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  // JpegImagePlugin's modes by component count: L, RGB, CMYK (rawmode CMYK;I).
  if (components == 1) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (components == 3) {
    cinfo.out_color_space = JCS_RGB;
  } else if (components == 4) {
    cinfo.out_color_space = JCS_CMYK;
  } else {
    std::snprintf(err.message, sizeof err.message, "unsupported: %d colour components", components);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  const size_t row_bytes = static_cast<size_t>(cinfo.output_width) * static_cast<size_t>(cinfo.output_components);
  // The output grows with the rows decoded, so a file whose data ends early stops before the
  // whole declared image is allocated.
  const size_t total_bytes = row_bytes * cinfo.output_height;
  raw.clear();
  while (cinfo.output_scanline < cinfo.output_height) {
    const size_t end = row_bytes * (cinfo.output_scanline + 1);
    if (end > raw.size()) {
      // reserve first: resize alone may double the capacity past the image's size.
      const size_t grown = std::min(total_bytes, std::max(end, 2 * raw.size()));
      raw.reserve(grown);
      raw.resize(grown);
    }
    JSAMPROW row = raw.data() + row_bytes * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

bool is_jpeg_data(const uint8_t* data, size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

DecodedImage decode_jpeg(const uint8_t* data, size_t size, const std::string& source, bool keep_grayscale) {
  if (!is_jpeg_data(data, size)) throw InputError(fmt::format("{}: not a JPEG file (no SOI marker)", source));
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  std::vector<uint8_t> raw;
  int64_t height = 0, width = 0;
  int components = 0;
  bool too_large = false;
  if (!decompress(data, size, cinfo, err, raw, height, width, components, too_large)) {
    if (too_large) {
      throw InputError(fmt::format("{}: JPEG of {}x{} pixels is larger than the {} pixels cmbench decodes", source,
                                   width, height, kMaxJpegPixels));
    }
    if (err.pub.msg_code == JERR_NO_BACKING_STORE) {
      throw InputError(fmt::format("{}: JPEG of {}x{} pixels needs more than the {} bytes of decoder memory cmbench "
                                   "allows (a progressive file holds every coefficient of the image)",
                                   source, width, height, kMaxJpegDecoderBytes));
    }
    throw InputError(fmt::format("{}: cannot decode JPEG: {}", source, err.message));
  }
  if (components == 1 && keep_grayscale) {
    DecodedImage gray(height, width, 1);
    gray.pixels = std::move(raw);
    return gray;
  }
  DecodedImage rgb(height, width, 3);
  const size_t pixels = static_cast<size_t>(height * width);
  if (components == 3) {
    rgb.pixels = std::move(raw);
  } else if (components == 1) {
    for (size_t i = 0; i < pixels; ++i) std::memset(&rgb.pixels[3 * i], raw[i], 3);
  } else {
    // Unpack.c's CMYK;I inverts every band, then cmyk2rgb: nk = 255 - K, X = CLIP8(nk - nk * C / 255).
    for (size_t i = 0; i < pixels; ++i) {
      const uint8_t* cmyk = &raw[4 * i];
      const int nk = cmyk[3];  // 255 - (255 - K)
      for (int c = 0; c < 3; ++c) rgb.pixels[3 * i + c] = clip8(nk - muldiv255(255 - cmyk[c], nk));
    }
  }
  return rgb;
}

}  // namespace cmbench
