// JPEG decoding with libjpeg(-turbo) as Pillow 9.4 does it (JpegImagePlugin + libImaging/JpegDecode.c),
// then PIL's convert('RGB'): the default (islow) DCT and fancy upsampling; 1 component gives L, 3 give
// RGB (libjpeg converting YCbCr), 4 give CMYK read as Adobe's inverted CMYK ("CMYK;I") and turned
// into RGB by Convert.c's cmyk2rgb. Truncated data is an error, as PIL's "image file is truncated".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/decoded_image.h"

namespace cmbench {

// Images with more pixels are refused from the header, before any allocation (PIL refuses
// 2 x MAX_IMAGE_PIXELS = 178956970 as a decompression bomb; this bound is a little above).
constexpr int64_t kMaxJpegPixels = int64_t{1} << 28;
// libjpeg's own whole-image buffers are held to this: a progressive file keeps 2 bytes per
// coefficient, so this decodes progressive 4:2:0 colour images up to about 170 megapixels.
constexpr long kMaxJpegDecoderBytes = long{512} << 20;

bool is_jpeg_data(const uint8_t* data, size_t size);  // starts with the SOI marker FF D8 FF

// Decodes to 3 channels (RGB), or to 1 (L) when `keep_grayscale` and the file has one component.
// InputError "SOURCE: ..." for every problem (truncated, corrupt, unsupported, too large).
DecodedImage decode_jpeg(const uint8_t* data, size_t size, const std::string& source, bool keep_grayscale = false);

}  // namespace cmbench
