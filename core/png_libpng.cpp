// decode_png / encode_png on libpng alone (CMBENCH_IMAGE_IO=libpng), giving the same pixels and
// bytes as the OpenCV backend: the decoder asks libpng for the transformations OpenCV's PNG reader
// sets (imgcodecs grfmt_png.cpp, PngDecoder::readData), the encoder for the settings of its writer.
#include "core/png.h"

#ifdef CMBENCH_IMAGE_IO_LIBPNG

#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <new>
#include <stdexcept>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

namespace {

// libpng reports errors by longjmp to the last setjmp: the functions that call setjmp hold only
// trivially destructible locals, and their callers own every buffer and libpng structure.

struct MemoryInput {
  const uint8_t* data;
  size_t size;
  size_t offset;
};

void read_from_memory(png_structp png, png_bytep out, size_t length) {
  auto* input = static_cast<MemoryInput*>(png_get_io_ptr(png));
  if (length > input->size - input->offset) png_error(png, "PNG input buffer is incomplete");
  std::memcpy(out, input->data + input->offset, length);
  input->offset += length;
}

void append_to_vector(png_structp png, png_bytep data, size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}

void no_flush(png_structp) {}

// A failure becomes decode_png's one-line InputError; libpng's own messages on stderr would repeat it.
[[noreturn]] void quiet_error(png_structp png, png_const_charp) { png_longjmp(png, 1); }
void quiet_warning(png_structp, png_const_charp) {}

class PngReadStruct {
 public:
  PngReadStruct() : png_(png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, quiet_error, quiet_warning)) {
    if (png_ != nullptr) info_ = png_create_info_struct(png_);
    if (info_ != nullptr) end_info_ = png_create_info_struct(png_);
    if (end_info_ == nullptr) {
      png_destroy_read_struct(&png_, &info_, nullptr);
      throw std::bad_alloc();
    }
  }
  ~PngReadStruct() { png_destroy_read_struct(&png_, &info_, &end_info_); }
  PngReadStruct(const PngReadStruct&) = delete;
  PngReadStruct& operator=(const PngReadStruct&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }
  png_infop end_info() const { return end_info_; }  // chunks after the image data

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
  png_infop end_info_ = nullptr;
};

class PngWriteStruct {
 public:
  PngWriteStruct() : png_(png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, quiet_error, quiet_warning)) {
    if (png_ != nullptr) info_ = png_create_info_struct(png_);
    if (info_ == nullptr) {
      png_destroy_write_struct(&png_, nullptr);
      throw std::bad_alloc();
    }
  }
  ~PngWriteStruct() { png_destroy_write_struct(&png_, &info_); }
  PngWriteStruct(const PngWriteStruct&) = delete;
  PngWriteStruct& operator=(const PngWriteStruct&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

bool read_size(const PngReadStruct& reader, MemoryInput* input, png_uint_32* width, png_uint_32* height) {
  if (setjmp(png_jmpbuf(reader.png()))) return false;
  png_set_read_fn(reader.png(), input, read_from_memory);
  png_read_info(reader.png(), reader.info());
  *width = png_get_image_width(reader.png(), reader.info());
  *height = png_get_image_height(reader.png(), reader.info());
  return true;
}

// The calls of OpenCV's reader for an 8-bit image of `channels` < 4 channels, in its order, less
// png_set_bgr. Grayscale output goes through png_set_rgb_to_gray(0.299, 0.587) like OpenCV's, not
// through cvtColor: 15-bit fixed-point weights 9797, 19234, 3737, truncated.
bool read_pixels(const PngReadStruct& reader, int channels, png_bytep* rows) {
  png_structp png = reader.png();
  png_infop info = reader.info();
  if (setjmp(png_jmpbuf(png))) return false;
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (bit_depth == 16) png_set_strip_16(png);
  png_set_strip_alpha(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (channels == 1) {
    png_set_rgb_to_gray(png, PNG_ERROR_ACTION_NONE, 0.299, 0.587);
  } else if ((color_type & PNG_COLOR_MASK_COLOR) == 0) {
    png_set_gray_to_rgb(png);
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != static_cast<size_t>(png_get_image_width(png, info)) * channels) {
    png_error(png, "unexpected row size");
  }
  png_read_image(png, rows);
  png_read_end(png, reader.end_info());
  return true;
}

bool write_image(const PngWriteStruct& writer, std::vector<uint8_t>* out, png_bytep* rows, png_uint_32 width,
                 png_uint_32 height, int color_type, int compression_level) {
  png_structp png = writer.png();
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, out, append_to_vector, no_flush);
  png_set_compression_level(png, compression_level);
  png_set_compression_strategy(png, Z_DEFAULT_STRATEGY);  // what OpenCV sets with IMWRITE_PNG_COMPRESSION
  png_set_IHDR(png, writer.info(), width, height, 8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, writer.info());
  png_write_image(png, rows);
  png_write_end(png, writer.info());
  return true;
}

std::vector<png_bytep> row_pointers(uint8_t* pixels, size_t height, size_t row_bytes) {
  std::vector<png_bytep> rows(height);
  for (size_t y = 0; y < height; ++y) rows[y] = pixels + y * row_bytes;
  return rows;
}

// EXIF orientation (tag 0x0112 of IFD0) read as OpenCV's ExifReader reads it (imgcodecs exif.cpp):
// byte order "II" little-endian, anything else big-endian; entries parsed in order, the first
// orientation kept, and parsing stops at the first value OpenCV would read out of range.
class ExifOrientationReader {
 public:
  ExifOrientationReader(const uint8_t* data, size_t size)
      : data_(data), size_(size), little_endian_(size > 0 && data[0] == 'I' && (size == 1 || data[1] == 'I')) {}

  int orientation() const {
    try {
      if (u16(2) != 0x2A) return 1;
      uint32_t offset = u32(4);
      const uint32_t entries = u16(offset);
      offset += 2;
      for (uint32_t i = 0; i < entries; ++i, offset += 12) {  // 32-bit offsets wrap as in OpenCV
        const size_t entry = offset;
        const uint32_t tag = u16(entry);
        if (tag == 0x0112) return static_cast<int>(u16(entry + 8));
        read_value(tag, entry);
      }
    } catch (const OutOfRange&) {
    }
    return 1;
  }

 private:
  struct OutOfRange {};

  uint32_t u16(size_t offset) const {
    if (offset + 1 >= size_) throw OutOfRange{};
    const uint32_t a = data_[offset], b = data_[offset + 1];
    return little_endian_ ? a | b << 8 : a << 8 | b;
  }
  uint32_t u32(size_t offset) const {
    if (offset + 3 >= size_) throw OutOfRange{};
    const uint32_t a = u16(offset), b = u16(offset + 2);
    return little_endian_ ? a | b << 16 : a << 16 | b;
  }
  void read_rationals(size_t entry, int count) const {
    uint32_t offset = u32(entry + 8);
    for (int i = 0; i < count; ++i, offset += 8) {
      u32(offset);
      u32(static_cast<size_t>(offset) + 4);
    }
  }
  // The reads OpenCV makes for the other IFD0 tags it knows; only their range checks matter here.
  void read_value(uint32_t tag, size_t entry) const {
    switch (tag) {
      case 0x010E: case 0x010F: case 0x0110: case 0x0131: case 0x0132: case 0x8298: {  // strings
        const size_t length = u32(entry + 4);
        const size_t start = length > 4 ? u32(entry + 8) : 8;  // OpenCV's "inline" offset is 8
        if (start > size_ || start + length > size_) throw OutOfRange{};
        break;
      }
      case 0x0128: case 0x0213: u16(entry + 8); break;
      case 0x011A: case 0x011B: read_rationals(entry, 1); break;
      case 0x013E: read_rationals(entry, 2); break;
      case 0x0211: read_rationals(entry, 3); break;
      case 0x013F: case 0x0214: read_rationals(entry, 6); break;
      default: break;
    }
  }

  const uint8_t* data_;
  size_t size_;
  bool little_endian_;
};

int exif_orientation(const PngReadStruct& reader) {
#ifdef PNG_eXIf_SUPPORTED
  png_uint_32 size = 0;
  png_bytep exif = nullptr;
  if (png_get_valid(reader.png(), reader.info(), PNG_INFO_eXIf)) {
    png_get_eXIf_1(reader.png(), reader.info(), &size, &exif);
  } else if (png_get_valid(reader.png(), reader.end_info(), PNG_INFO_eXIf)) {
    png_get_eXIf_1(reader.png(), reader.end_info(), &size, &exif);
  }
  if (exif != nullptr && size > 0) return ExifOrientationReader(exif, size).orientation();
#else
  (void)reader;
#endif
  return 1;
}

bool swaps_axes(int orientation) { return orientation >= 5 && orientation <= 8; }

// Writes the `width` x `height` image `pixels` as displayed under EXIF `orientation` 2..8 (the flips
// and transposes of OpenCV's ApplyExifOrientation) into `out`.
void apply_orientation(const uint8_t* pixels, int64_t width, int64_t height, int64_t channels, int orientation,
                       uint8_t* out) {
  const int64_t shown_width = swaps_axes(orientation) ? height : width;
  const int64_t shown_height = swaps_axes(orientation) ? width : height;
  for (int64_t y = 0; y < shown_height; ++y) {
    for (int64_t x = 0; x < shown_width; ++x) {
      int64_t sx = x, sy = y;
      switch (orientation) {
        case 2: sx = width - 1 - x; break;
        case 3: sx = width - 1 - x; sy = height - 1 - y; break;
        case 4: sy = height - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = height - 1 - x; break;
        case 7: sx = width - 1 - y; sy = height - 1 - x; break;
        case 8: sx = width - 1 - y; sy = x; break;
        default: break;
      }
      std::memcpy(out + (y * shown_width + x) * channels, pixels + (sy * width + sx) * channels,
                  static_cast<size_t>(channels));
    }
  }
}

}  // namespace

void decode_png(const uint8_t* data, size_t size, const PngHeader& expected, uint8_t* out,
                const std::string& source) {
  check_png_data_size(data, size, size, source);
  const auto corrupted = [&] { return InputError(fmt::format("{}: corrupted PNG (cannot decode)", source)); };
  const int channels = expected.channels == 1 ? 1 : 3;
  PngReadStruct reader;
  MemoryInput input{data, size, 0};
  png_uint_32 width = 0, height = 0;
  if (!read_size(reader, &input, &width, &height)) throw corrupted();
  // OpenCV refuses images over 2^30 pixels (CV_IO_MAX_IMAGE_PIXELS) before decoding.
  if (static_cast<uint64_t>(width) * height > (uint64_t{1} << 30)) throw corrupted();
  // Rows go straight to `out` when the stored size is the expected one. Any other image is still
  // decoded, as OpenCV does, so that corrupted data is reported as such and an EXIF rotation can
  // make its size the expected one.
  const size_t row_bytes = static_cast<size_t>(width) * channels;
  const bool into_out = width == expected.width && height == expected.height;
  std::vector<uint8_t> decoded(into_out ? 0 : height * row_bytes);
  auto rows = row_pointers(into_out ? out : decoded.data(), height, row_bytes);
  if (!read_pixels(reader, channels, rows.data())) throw corrupted();

  const int orientation = exif_orientation(reader);
  const int64_t shown_width = swaps_axes(orientation) ? height : width;
  const int64_t shown_height = swaps_axes(orientation) ? width : height;
  if (shown_width != expected.width || shown_height != expected.height) {
    throw InputError(fmt::format("{}: image is {}x{}, expected {}x{} (mixed resolutions)", source, shown_width,
                                 shown_height, expected.width, expected.height));
  }
  if (orientation >= 2 && orientation <= 8) {
    if (into_out) decoded.assign(out, out + height * row_bytes);
    apply_orientation(decoded.data(), width, height, channels, orientation, out);
  }
}

std::vector<uint8_t> encode_png(const uint8_t* pixels, int64_t height, int64_t width, int64_t channels,
                                int compression_level) {
  if (channels != 1 && channels != 3)
    throw InputError(fmt::format("PNG: cannot encode an image of {} channels (1 or 3; write an .npz instead)", channels));
  if (height <= 0 || width <= 0 || height > PNG_UINT_31_MAX || width > PNG_UINT_31_MAX) {
    throw std::runtime_error(fmt::format("PNG encoding failed: cannot encode a {}x{} image", width, height));
  }
  const int stored_channels = channels == 1 ? 1 : 3;
  PngWriteStruct writer;
  std::vector<uint8_t> encoded;
  // libpng only reads the rows it is given; the const_cast is for its non-const row type.
  auto rows = row_pointers(const_cast<uint8_t*>(pixels), static_cast<size_t>(height),
                           static_cast<size_t>(width) * stored_channels);
  if (!write_image(writer, &encoded, rows.data(), static_cast<png_uint_32>(width), static_cast<png_uint_32>(height),
                   stored_channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                   std::clamp(compression_level, 0, 9))) {
    throw std::runtime_error("PNG encoding failed");
  }
  return encoded;
}

}  // namespace cmbench

#endif  // CMBENCH_IMAGE_IO_LIBPNG
