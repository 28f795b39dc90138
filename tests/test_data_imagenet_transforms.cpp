// EDM2 dataset_tool's transforms and PIL's JPEG decode against PIL 9.4's own output
// (shared/vectors/imagenet_transforms.npz, VECTORS.md): every key reproduced exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "core/npy.h"
#include "data/imagenet_transforms.h"
#include "data/jpeg_decoder.h"
#include "data/pil_resample.h"
#include "test_util.h"

namespace cmbench {
namespace {

const NpzMap& vectors() {
  static const NpzMap arrays = read_npz(test::vector_path("imagenet_transforms.npz"));
  return arrays;
}

DecodedImage image_of(const NpyArray& array) {
  const int64_t channels = array.shape.size() == 3 ? array.shape[2] : 1;
  DecodedImage image(array.shape[0], array.shape[1], channels);
  std::copy(array.data<uint8_t>(), array.data<uint8_t>() + array.numel(), image.pixels.begin());
  return image;
}

// The largest absolute difference (-1 when the shapes differ).
int max_abs_diff(const DecodedImage& got, const NpyArray& want) {
  const DecodedImage expected = image_of(want);
  if (got.height != expected.height || got.width != expected.width || got.channels != expected.channels) return -1;
  int worst = 0;
  for (size_t i = 0; i < got.pixels.size(); ++i) worst = std::max(worst, std::abs(got.pixels[i] - expected.pixels[i]));
  return worst;
}

int sources_count() {
  int n = 0;
  while (vectors().count(fmt::format("src_{}", n))) ++n;
  return n;
}

TEST(ImagenetTransforms, EveryVectorKeyIsChecked) {
  std::set<std::string> checked;
  for (int i = 0; i < sources_count(); ++i) {
    checked.insert(fmt::format("src_{}", i));
    for (const int size : {32, 64}) {
      for (const char* kind : {"dhariwal", "center_crop", "scale"}) checked.insert(fmt::format("{}{}_{}", kind, size, i));
    }
  }
  for (const char* kind : {"rgb420", "rgb444", "gray", "cmyk"}) {
    checked.insert(fmt::format("jpeg_{}_bytes", kind));
    checked.insert(fmt::format("jpeg_{}_rgb", kind));
  }
  EXPECT_EQ(sources_count(), 8);
  for (const auto& [key, array] : vectors()) EXPECT_TRUE(checked.count(key)) << key << " is not checked";
  for (const auto& key : checked) EXPECT_TRUE(vectors().count(key)) << key << " is missing";
}

TEST(ImagenetTransforms, CenterCropDhariwalEqualsPil) {
  for (int i = 0; i < sources_count(); ++i) {
    const DecodedImage source = image_of(vectors().at(fmt::format("src_{}", i)));
    for (const int size : {32, 64}) {
      const std::string key = fmt::format("dhariwal{}_{}", size, i);
      EXPECT_EQ(max_abs_diff(center_crop_dhariwal(source, size), vectors().at(key)), 0) << key;
      const TransformSpec spec = parse_transform_spec("center-crop-dhariwal", fmt::format("{}x{}", size, size));
      EXPECT_EQ(max_abs_diff(apply_transform(source, spec), vectors().at(key)), 0) << key;
    }
  }
}

TEST(ImagenetTransforms, EdmCenterCropEqualsPil) {
  for (int i = 0; i < sources_count(); ++i) {
    const DecodedImage source = image_of(vectors().at(fmt::format("src_{}", i)));
    for (const int size : {32, 64}) {
      const std::string key = fmt::format("center_crop{}_{}", size, i);
      const TransformSpec spec = parse_transform_spec("center-crop", fmt::format("{}x{}", size, size));
      EXPECT_EQ(max_abs_diff(apply_transform(source, spec), vectors().at(key)), 0) << key;
    }
  }
}

TEST(ImagenetTransforms, LanczosScaleEqualsPil) {
  for (int i = 0; i < sources_count(); ++i) {
    const DecodedImage source = image_of(vectors().at(fmt::format("src_{}", i)));
    for (const int size : {32, 64}) {
      const std::string key = fmt::format("scale{}_{}", size, i);
      const TransformSpec spec = parse_transform_spec("", fmt::format("{}x{}", size, size));
      EXPECT_EQ(max_abs_diff(apply_transform(source, spec), vectors().at(key)), 0) << key;
    }
  }
}

TEST(ImagenetTransforms, ResamplingIsPerChannel) {
  // One band resampled alone equals that band of the RGB result (the grayscale path).
  const DecodedImage rgb = image_of(vectors().at("src_2"));
  DecodedImage green(rgb.height, rgb.width, 1);
  for (size_t i = 0; i < green.pixels.size(); ++i) green.pixels[i] = rgb.pixels[3 * i + 1];
  const DecodedImage both = pil_resize(rgb, 41, 29, ResampleFilter::bicubic);
  const DecodedImage one = pil_resize(green, 41, 29, ResampleFilter::bicubic);
  ASSERT_EQ(one.pixels.size() * 3, both.pixels.size());
  for (size_t i = 0; i < one.pixels.size(); ++i) ASSERT_EQ(one.pixels[i], both.pixels[3 * i + 1]) << i;
}

TEST(ImagenetJpeg, DecodeEqualsPilConvertRgb) {
  for (const char* kind : {"rgb420", "rgb444", "gray", "cmyk"}) {
    const NpyArray& bytes = vectors().at(fmt::format("jpeg_{}_bytes", kind));
    const DecodedImage decoded = decode_jpeg(bytes.data<uint8_t>(), bytes.bytes.size(), kind);
    EXPECT_EQ(max_abs_diff(decoded, vectors().at(fmt::format("jpeg_{}_rgb", kind))), 0) << kind;
  }
}

TEST(ImagenetJpeg, GrayscaleKeptWhenAsked) {
  const NpyArray& bytes = vectors().at("jpeg_gray_bytes");
  const DecodedImage gray = decode_jpeg(bytes.data<uint8_t>(), bytes.bytes.size(), "gray", true);
  ASSERT_EQ(gray.channels, 1);
  EXPECT_EQ(max_abs_diff(to_rgb(gray), vectors().at("jpeg_gray_rgb")), 0);
}

TEST(ImagenetJpeg, BadDataIsOneLineNamingTheSource) {
  const NpyArray& good = vectors().at("jpeg_rgb420_bytes");
  const std::vector<uint8_t> bytes(good.data<uint8_t>(), good.data<uint8_t>() + good.bytes.size());
  const auto message = [](const std::vector<uint8_t>& data) {
    return test::input_error_message([&] { decode_jpeg(data.data(), data.size(), "dir/x.JPEG"); });
  };
  const std::vector<std::vector<uint8_t>> bad = {
      {},                                                          // empty
      {'G', 'I', 'F', '8', '9', 'a'},                              // another format
      std::vector<uint8_t>(bytes.begin(), bytes.begin() + 400),    // truncated in the header tables
      std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2),  // truncated in the scan
      {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0x13, 0x37, 0x42, 0x42},  // garbage after SOI
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    const std::string text = message(bad[i]);
    EXPECT_EQ(text.rfind("dir/x.JPEG: ", 0), 0u) << i << ": " << text;
    EXPECT_EQ(text.find('\n'), std::string::npos) << i << ": " << text;
  }
  EXPECT_NE(message(bad[3]).find("end"), std::string::npos) << message(bad[3]);
}

// A baseline JPEG header declaring `width` x `height` (SOF0 only, no scan): refused from the header.
std::vector<uint8_t> jpeg_header(int width, int height) {
  std::vector<uint8_t> out = {0xFF, 0xD8};
  const std::vector<uint8_t> dqt = [] {
    std::vector<uint8_t> t = {0xFF, 0xDB, 0x00, 0x43, 0x00};
    t.insert(t.end(), 64, 1);
    return t;
  }();
  out.insert(out.end(), dqt.begin(), dqt.end());
  const std::vector<uint8_t> sof = {0xFF, 0xC0, 0x00, 0x0B, 0x08,
                                    static_cast<uint8_t>(height >> 8), static_cast<uint8_t>(height & 0xFF),
                                    static_cast<uint8_t>(width >> 8), static_cast<uint8_t>(width & 0xFF),
                                    0x01, 0x01, 0x11, 0x00};
  out.insert(out.end(), sof.begin(), sof.end());
  // Huffman tables and SOS so that jpeg_read_header returns: DC and AC tables with one code each.
  const std::vector<uint8_t> dht = {0xFF, 0xC4, 0x00, 0x14, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  out.insert(out.end(), dht.begin(), dht.end());
  std::vector<uint8_t> dht_ac = dht;
  dht_ac[4] = 0x10;
  out.insert(out.end(), dht_ac.begin(), dht_ac.end());
  const std::vector<uint8_t> sos = {0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00};
  out.insert(out.end(), sos.begin(), sos.end());
  out.insert(out.end(), {0x00, 0x00, 0xFF, 0xD9});
  return out;
}

TEST(ImagenetJpeg, HugeDeclaredSizeRefusedBeforeDecoding) {
  const auto huge = jpeg_header(60000, 60000);  // 3.6e9 pixels, 10.8 GB as RGB
  const std::string text = test::input_error_message([&] { decode_jpeg(huge.data(), huge.size(), "big.jpg"); });
  EXPECT_NE(text.find("big.jpg: JPEG of 60000x60000 pixels is larger than"), std::string::npos) << text;
}

// A progressive (SOF2) 4:4:4 colour header: libjpeg would allocate every coefficient of the image
// (2 bytes each, 864 MB here) before reading any scan data.
std::vector<uint8_t> progressive_colour_header(int width, int height) {
  std::vector<uint8_t> out = jpeg_header(width, height);
  const std::vector<uint8_t> sof_gray = {0xFF, 0xC0, 0x00, 0x0B};
  const auto sof = std::search(out.begin(), out.end(), sof_gray.begin(), sof_gray.end());
  const std::vector<uint8_t> sof2 = {0xFF, 0xC2, 0x00, 0x11, 0x08,
                                     static_cast<uint8_t>(height >> 8), static_cast<uint8_t>(height & 0xFF),
                                     static_cast<uint8_t>(width >> 8), static_cast<uint8_t>(width & 0xFF),
                                     0x03, 0x01, 0x11, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00};
  const auto after = out.erase(sof, sof + 13);
  out.insert(after, sof2.begin(), sof2.end());
  const std::vector<uint8_t> sos_gray = {0xFF, 0xDA};
  const auto sos = std::search(out.begin(), out.end(), sos_gray.begin(), sos_gray.end());
  const std::vector<uint8_t> dc_scan = {0xFF, 0xDA, 0x00, 0x0C, 0x03, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00};
  const auto tail = out.erase(sos, sos + 10);
  out.insert(tail, dc_scan.begin(), dc_scan.end());
  return out;
}

TEST(ImagenetJpeg, ProgressiveFileNeedingMoreDecoderMemoryThanTheLimitIsRefused) {
  const auto header = progressive_colour_header(12000, 12000);  // 1.44e8 pixels: under the pixel limit
  ASSERT_LT(int64_t{12000} * 12000, kMaxJpegPixels);
  const std::string text = test::input_error_message([&] { decode_jpeg(header.data(), header.size(), "prog.jpg"); });
  EXPECT_NE(text.find(fmt::format("prog.jpg: JPEG of 12000x12000 pixels needs more than the {} bytes of decoder memory",
                                  kMaxJpegDecoderBytes)),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
}

TEST(ImagenetTransforms, SpecParsing) {
  const TransformSpec plain = parse_transform_spec("", "");
  EXPECT_FALSE(plain.has_resolution());
  const TransformSpec comma = parse_transform_spec("center-crop", "48,32");
  EXPECT_EQ(comma.transform, ImageTransform::center_crop);
  EXPECT_EQ(comma.width, 48);
  EXPECT_EQ(comma.height, 32);
  const auto message = [](const std::string& t, const std::string& r) {
    return test::input_error_message([&] { parse_transform_spec(t, r); });
  };
  EXPECT_NE(message("center-crop-wide", "64x64").find("--transform: unknown mode 'center-crop-wide'"), std::string::npos);
  EXPECT_NE(message("", "64").find("--resolution: '64' is not WxH"), std::string::npos);
  EXPECT_NE(message("", "64x0").find("is not WxH"), std::string::npos);
  EXPECT_NE(message("", "x64").find("is not WxH"), std::string::npos);
  EXPECT_NE(message("center-crop", "").find("--transform center-crop needs --resolution WxH"), std::string::npos);
  EXPECT_NE(message("center-crop-dhariwal", "64x32").find("needs a square --resolution"), std::string::npos);
}

}  // namespace
}  // namespace cmbench
