// `cmbench data convert` of an ILSVRC-like folder tree (EDM2 dataset_tool's folder walk, labels and
// transforms), its bad inputs, PIL reading the result as EDM2's dataset.py does, and the named
// ImageNet-64 sources under the data root.
#include <gtest/gtest.h>
#include <zip.h>

// jpeglib.h needs size_t and FILE declared first.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include <jpeglib.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/npy.h"
#include "core/png.h"
#include "data/image_folder_source.h"
#include "data/image_source.h"
#include "data/imagenet_sources.h"
#include "data/imagenet_transforms.h"
#include "test_util.h"

namespace cmbench {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// A smooth pattern with some texture, different per seed.
DecodedImage pattern(int64_t height, int64_t width, int64_t channels, int seed) {
  DecodedImage image(height, width, channels);
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t v = (x * (3 + c) + y * (5 + seed) + ((x * y + seed * 7 + c * 11) % 23) * 4) % 256;
        image.pixels[static_cast<size_t>((y * width + x) * channels + c)] = static_cast<uint8_t>(v);
      }
    }
  }
  return image;
}

std::vector<uint8_t> encode_jpeg(const DecodedImage& image, bool subsample) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(image.width);
  cinfo.image_height = static_cast<JDIMENSION>(image.height);
  cinfo.input_components = static_cast<int>(image.channels);
  cinfo.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 90, TRUE);
  if (image.channels == 3 && !subsample) {
    for (int c = 0; c < 3; ++c) cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
  }
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(&image.pixels[cinfo.next_scanline * image.width * image.channels]);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<uint8_t> bytes(buffer, buffer + size);
  std::free(buffer);
  jpeg_destroy_compress(&cinfo);
  return bytes;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

// The tree in an unsorted creation order; sorted it is n01/a, n01/z (gray), n02/b, n03/c.png.
void write_tree(const std::string& root) {
  write_bytes(root + "/n02/n02_b.JPEG", encode_jpeg(pattern(60, 80, 3, 1), true));
  write_bytes(root + "/n01/n01_z.JPEG", encode_jpeg(pattern(70, 50, 1, 2), true));
  write_bytes(root + "/n03/n03_c.png", encode_png(pattern(64, 40, 3, 3).pixels.data(), 64, 40, 3));
  write_bytes(root + "/n01/n01_a.JPEG", encode_jpeg(pattern(90, 90, 3, 4), false));
  test::write_text(root + "/n01/notes.txt", "not an image\n");
}

const std::vector<std::string> kSorted = {"n01/n01_a.JPEG", "n01/n01_z.JPEG", "n02/n02_b.JPEG", "n03/n03_c.png"};
const std::vector<int64_t> kLabels = {0, 0, 1, 2};

std::string zip_member(const std::string& path, const std::string& name) {
  int error = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (!zip) return "";
  std::string text;
  if (zip_file_t* file = zip_fopen(zip, name.c_str(), 0)) {
    char buffer[4096];
    zip_int64_t n = 0;
    while ((n = zip_fread(file, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
    zip_fclose(file);
  }
  zip_close(zip);
  return text;
}

int count_lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(ImagenetFolder, ListingIsSortedWithTopLevelLabels) {
  TempDir dir;
  write_tree(dir.file("train"));
  const ImageFolderListing listing = list_image_folder(dir.file("train"));
  EXPECT_EQ(listing.files, kSorted);
  EXPECT_EQ(listing.labels, kLabels);
  // One top-level name only: no labels (dataset_tool needs more than one).
  TempDir flat;
  write_bytes(flat.file("x/b.jpg"), encode_jpeg(pattern(8, 8, 3, 0), true));
  write_bytes(flat.file("x/a.jpg"), encode_jpeg(pattern(8, 8, 3, 1), true));
  EXPECT_TRUE(list_image_folder(flat.path()).labels.empty());
  // dataset.json beside the images wins over the folder names.
  test::write_text(flat.file("dataset.json"), R"({"labels": [["x/a.jpg", 7], ["x/b.jpg", 3]]})");
  EXPECT_EQ(list_image_folder(flat.path()).labels, (std::vector<int64_t>{7, 3}));
}

TEST(ImagenetFolder, ConvertWritesSortedLabelledTransformedZip) {
  TempDir dir;
  const std::string tree = dir.file("train");
  write_tree(tree);
  const std::string out = dir.file("img32.zip");
  const auto result = test::run_cli(
      {"data", "convert", tree, "--to", "edm-zip", out, "--transform", "center-crop-dhariwal", "--resolution", "32x32"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("4 images 32x32 with labels"), std::string::npos) << result.out;

  const nlohmann::json meta = nlohmann::json::parse(zip_member(out, "dataset.json"));
  ASSERT_TRUE(meta["labels"].is_array()) << meta.dump();
  ASSERT_EQ(meta["labels"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(meta["labels"][i][0], fmt::format("00000/img{:08d}.png", i));
    EXPECT_EQ(meta["labels"][i][1], kLabels[i]);
  }
  const auto source = open_image_source(out);
  ASSERT_EQ(source->size(), 4);
  ASSERT_EQ(source->channels(), 3);
  const torch::Tensor images = source->read(0, 4);
  const TransformSpec spec = parse_transform_spec("center-crop-dhariwal", "32x32");
  for (size_t i = 0; i < kSorted.size(); ++i) {
    const DecodedImage want = apply_transform(decode_image_file(tree + "/" + kSorted[i]), spec);
    const torch::Tensor expected =
        torch::from_blob(const_cast<uint8_t*>(want.pixels.data()), {32, 32, 3}, torch::kUInt8);
    EXPECT_TRUE(torch::equal(images[static_cast<int64_t>(i)], expected)) << kSorted[i];
  }
  // The grayscale JPEG became RGB with equal bands.
  EXPECT_TRUE(torch::equal(images[1].select(2, 0), images[1].select(2, 2)));
}

TEST(ImagenetFolder, ConvertWithoutTransformKeepsOrScalesSize) {
  TempDir dir;
  write_bytes(dir.file("src/a/1.jpg"), encode_jpeg(pattern(16, 16, 3, 5), true));
  write_bytes(dir.file("src/b/2.jpg"), encode_jpeg(pattern(16, 16, 1, 6), true));
  // A JPEG folder is walked as dataset_tool does even without --transform: size kept, labels from folders.
  auto result = test::run_cli({"data", "convert", dir.file("src"), "--to", "edm-zip", dir.file("keep.zip")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("2 images 16x16 with labels"), std::string::npos) << result.out;
  result = test::run_cli({"data", "convert", dir.file("src"), "--to", "edm-zip", dir.file("s8.zip"), "--resolution", "8x8"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto scaled = open_image_source(dir.file("s8.zip"));
  const DecodedImage want = apply_transform(decode_image_file(dir.file("src/a/1.jpg")), parse_transform_spec("", "8x8"));
  EXPECT_TRUE(torch::equal(scaled->read(0, 1)[0],
                           torch::from_blob(const_cast<uint8_t*>(want.pixels.data()), {8, 8, 3}, torch::kUInt8)));
  // Mixed sizes without a resolution: refused, naming the image.
  write_bytes(dir.file("src/b/3.jpg"), encode_jpeg(pattern(16, 12, 3, 7), true));
  result = test::run_cli({"data", "convert", dir.file("src"), "--to", "edm-zip", dir.file("bad.zip")},
                         {"CMBENCH_NO_PROGRESS=1"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("3.jpg: is 12x16 after the transform, the dataset's images 16x16"), std::string::npos)
      << result.err;
  // A square power-of-two output is required, as dataset_tool.
  result = test::run_cli({"data", "convert", dir.file("src"), "--to", "edm-zip", dir.file("bad.zip"), "--resolution", "12x12"},
                         {"CMBENCH_NO_PROGRESS=1"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("must be a power of two, got 12"), std::string::npos) << result.err;
}

TEST(ImagenetFolder, ExistingSourcesTakeTheTransformToo) {
  TempDir dir;
  const auto images = torch::randint(0, 256, {3, 16, 16, 3}, torch::kInt64).to(torch::kUInt8).contiguous();
  NpzMap arrays;
  arrays["images"] = NpyArray::from<uint8_t>({3, 16, 16, 3}, images.data_ptr<uint8_t>());
  write_npz(dir.file("in.npz"), arrays);
  const auto result = test::run_cli({"data", "convert", dir.file("in.npz"), "--to", "edm-zip", dir.file("out.zip"),
                                     "--transform", "center-crop", "--resolution", "8x8"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto out = open_image_source(dir.file("out.zip"));
  ASSERT_EQ(out->size(), 3);
  DecodedImage second(16, 16, 3);
  std::memcpy(second.pixels.data(), images[1].data_ptr<uint8_t>(), second.pixels.size());
  const DecodedImage want = center_crop_edm(second, 8, 8);
  EXPECT_TRUE(torch::equal(out->read(1, 2)[0],
                           torch::from_blob(const_cast<uint8_t*>(want.pixels.data()), {8, 8, 3}, torch::kUInt8)));
}

TEST(ImagenetFolder, BadInputsAreOneLineAndExitTwo) {
  TempDir dir;
  write_tree(dir.file("good"));
  fs::create_directories(dir.file("empty"));
  write_bytes(dir.file("corrupt/n01/x.JPEG"), {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x42});
  write_bytes(dir.file("corrupt/n02/y.JPEG"), encode_jpeg(pattern(8, 8, 3, 0), true));
  test::write_text(dir.file("plain.txt"), "x\n");
  const std::string out = dir.file("out.zip");
  const std::vector<std::string> env = {"CMBENCH_NO_PROGRESS=1"};
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{dir.file("missing"), "--transform", "center-crop", "--resolution", "32x32"}, "missing: no such file or folder"},
      {{dir.file("plain.txt"), "--transform", "center-crop", "--resolution", "32x32"}, "plain.txt: unknown image source kind"},
      {{dir.file("empty"), "--transform", "center-crop", "--resolution", "32x32"}, "empty: no image files"},
      {{dir.file("corrupt"), "--transform", "center-crop", "--resolution", "32x32"}, "x.JPEG: cannot decode JPEG"},
      {{dir.file("good"), "--transform", "center-crop-wide", "--resolution", "32x32"}, "--transform: unknown mode 'center-crop-wide'"},
      {{dir.file("good"), "--transform", "center-crop", "--resolution", "32"}, "--resolution: '32' is not WxH"},
      {{dir.file("good"), "--transform", "center-crop"}, "--transform center-crop needs --resolution WxH"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"data", "convert"};
    args.push_back(c.args[0]);
    args.insert(args.end(), {"--to", "edm-zip", out});
    args.insert(args.end(), c.args.begin() + 1, c.args.end());
    const auto result = test::run_cli(args, env);
    EXPECT_EQ(result.exit_code, 2) << c.expected << ": " << result.err;
    EXPECT_NE(result.err.find(c.expected), std::string::npos) << result.err;
    EXPECT_EQ(count_lines(result.err), 1) << result.err;
    EXPECT_FALSE(fs::exists(out)) << c.expected;
  }
}

TEST(ImagenetFolder, PilReadsTheZipAsEdm2DatasetDoes) {
  // Debian's python3-pil belongs to /usr/bin/python3, which another python3 on PATH may hide.
  const std::string python = test::python_importing("PIL.Image");
  if (python.empty()) GTEST_SKIP() << "no python3 with PIL (Debian: apt install python3-pil)";
  TempDir dir;
  write_tree(dir.file("train"));
  const std::string out = dir.file("img32.zip");
  ASSERT_EQ(test::run_cli({"data", "convert", dir.file("train"), "--to", "edm-zip", out, "--transform",
                           "center-crop-dhariwal", "--resolution", "32x32"})
                .exit_code,
            0);
  // EDM2 training/dataset.py ImageFolderDataset on a zip: image names with a PIL extension, sorted;
  // labels = dict(dataset.json's 'labels') looked up per name; PIL.Image.open of each member.
  test::write_text(dir.file("read.py"), R"(import io, json, sys, zipfile
import PIL.Image
PIL.Image.init()
z = zipfile.ZipFile(sys.argv[1])
names = sorted(n for n in z.namelist() if '.' + n.split('.')[-1].lower() in PIL.Image.EXTENSION)
labels = dict(json.loads(z.read('dataset.json'))['labels'])
rows = []
for name in names:
    image = PIL.Image.open(io.BytesIO(z.read(name)))
    rows.append([name, image.mode, image.size[0], image.size[1], sum(image.tobytes()), labels[name]])
json.dump(rows, open(sys.argv[2], 'w'))
# The source files sorted, through PIL's decode and the center-crop-dhariwal steps (BOX halvings,
# BICUBIC to the short side, centre crop), as raw RGB bytes.
size, out = 32, open(sys.argv[4], 'wb')
for name in sys.argv[5:]:
    image = PIL.Image.open(sys.argv[3] + '/' + name).convert('RGB')
    while min(image.size) >= 2 * size:
        image = image.resize(tuple(x // 2 for x in image.size), resample=PIL.Image.Resampling.BOX)
    scale = size / min(image.size)
    image = image.resize(tuple(round(x * scale) for x in image.size), resample=PIL.Image.Resampling.BICUBIC)
    left, top = (image.size[0] - size) // 2, (image.size[1] - size) // 2
    out.write(image.crop((left, top, left + size, top + size)).tobytes())
)");
  std::string command = fmt::format("{} '{}' '{}' '{}' '{}' '{}'", python, dir.file("read.py"), out, dir.file("rows.json"),
                                    dir.file("train"), dir.file("pil.raw"));
  for (const auto& name : kSorted) command += " '" + name + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const nlohmann::json rows = nlohmann::json::parse(test::read_text(dir.file("rows.json")));
  const torch::Tensor images = open_image_source(out)->read(0, 4);
  ASSERT_EQ(rows.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(rows[i][0], fmt::format("00000/img{:08d}.png", i));
    EXPECT_EQ(rows[i][1], "RGB");
    EXPECT_EQ(rows[i][2], 32);
    EXPECT_EQ(rows[i][3], 32);
    EXPECT_EQ(rows[i][4].get<int64_t>(), images[static_cast<int64_t>(i)].to(torch::kInt64).sum().item<int64_t>());
    EXPECT_EQ(rows[i][5], kLabels[i]);
  }
  // PIL's own decode and transform of the source files equal the zip's pixels.
  const auto pil = read_file_bytes(dir.file("pil.raw"));
  ASSERT_EQ(static_cast<int64_t>(pil.size()), images.numel());
  EXPECT_EQ(std::memcmp(pil.data(), images.contiguous().data_ptr<uint8_t>(), pil.size()), 0);
}

TEST(ImagenetSources, NamesResolveUnderTheDataRoot) {
  EXPECT_EQ(imagenet_source_path("imagenet64:train", "/d"), "/d/imagenet/imagenet-64x64-dhariwal-train.zip");
  EXPECT_EQ(imagenet_source_path("imagenet64:val", "/d"), "/d/imagenet/imagenet-64x64-dhariwal-val.zip");
  EXPECT_EQ(imagenet_source_path("imagenet64-edm:train", "/d"), "/d/imagenet/imagenet-64x64-edm-train.zip");
  EXPECT_EQ(imagenet_source_path("imagenet64-downsampled:val", "/d"), "/d/imagenet/downsampled-64x64/val");
  EXPECT_TRUE(is_imagenet_source_name("imagenet64-edm:val"));
  EXPECT_FALSE(is_imagenet_source_name("imagenet64.zip"));
  EXPECT_NE(test::input_error_message([] { imagenet_source_path("imagenet64:test", "/d"); })
                .find("imagenet64:test: unknown split 'test' (train or val)"),
            std::string::npos);
}

TEST(ImagenetSources, MissingFileSaysHowToMakeIt) {
  TempDir root;
  const std::vector<std::string> env = {"CMBENCH_DATA=" + root.path()};
  auto result = test::run_cli({"data", "info", "imagenet64:train"}, env);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(count_lines(result.err), 1) << result.err;
  const std::string zip = root.path() + "/imagenet/imagenet-64x64-dhariwal-train.zip";
  EXPECT_NE(result.err.find(zip + " not found"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("image-net.org"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("cmbench data convert ILSVRC/Data/CLS-LOC/train --to edm-zip " + zip +
                            " --transform center-crop-dhariwal --resolution 64x64"),
            std::string::npos)
      << result.err;
  result = test::run_cli({"data", "info", "imagenet64-edm:val"}, env);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--transform center-crop --resolution 64x64"), std::string::npos) << result.err;
  result = test::run_cli({"data", "info", "imagenet64-downsampled:train"}, env);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find(root.path() + "/imagenet/downsampled-64x64/train"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("Imagenet64_train_npz.zip"), std::string::npos) << result.err;
}

TEST(ImagenetSources, PresentFilesOpen) {
  TempDir root;
  const std::vector<std::string> env = {"CMBENCH_DATA=" + root.path(), "CMBENCH_NO_PROGRESS=1"};
  write_tree(root.file("raw"));
  const std::string zip = imagenet_source_path("imagenet64:train", root.path());
  ASSERT_EQ(test::run_cli({"data", "convert", root.file("raw"), "--to", "edm-zip", zip, "--transform",
                           "center-crop-dhariwal", "--resolution", "64x64"},
                          env)
                .exit_code,
            0);
  auto result = test::run_cli({"data", "info", "imagenet64:train", "--json"}, env);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto info = nlohmann::json::parse(result.out);
  EXPECT_EQ(info["count"], 4);
  EXPECT_EQ(info["width"], 64);
  EXPECT_EQ(info["num_classes"], 3);

  const std::string folder = imagenet_source_path("imagenet64-downsampled:val", root.path());
  fs::create_directories(folder);
  std::vector<uint8_t> data(2 * 3 * 8 * 8);
  std::iota(data.begin(), data.end(), uint8_t{0});
  const std::vector<int64_t> labels = {1, 1000};
  NpzMap arrays;
  arrays["data"] = NpyArray::from<uint8_t>({2, 192}, data.data());
  arrays["labels"] = NpyArray::from<int64_t>({2}, labels.data());
  write_npz(folder + "/val_data.npz", arrays);
  result = test::run_cli({"data", "info", "imagenet64-downsampled:val", "--json"}, env);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(nlohmann::json::parse(result.out)["count"], 2);
}

}  // namespace
}  // namespace cmbench
