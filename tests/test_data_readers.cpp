// Every image-source kind on fixtures generated here: pixels, labels, geometry, and bad input.
#include <gtest/gtest.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "data/cifar10.h"
#include "data/edm_zip_writer.h"
#include "data/image_source.h"
#include "data/npy_lazy.h"
#include "core/png.h"
#include "data/summary.h"
#include "test_util.h"

namespace cmbench {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

torch::Tensor random_images(int64_t n, int64_t h, int64_t w, int64_t c, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randint(0, 256, {n, h, w, c}, gen, torch::TensorOptions().dtype(torch::kInt64)).to(torch::kUInt8);
}

torch::Tensor random_labels(int64_t n, int64_t classes, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randint(0, classes, {n}, gen, torch::TensorOptions().dtype(torch::kInt64));
}

void write_pngs(const std::string& folder, const torch::Tensor& images) {
  fs::create_directories(folder);
  for (int64_t i = 0; i < images.size(0); ++i) {
    const auto png = encode_png(images[i].contiguous().data_ptr<uint8_t>(), images.size(1), images.size(2), images.size(3));
    std::ofstream(folder + "/" + fmt::format("img{:03d}.png", i), std::ios::binary)
        .write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  }
}

// A zip with the given members (name, bytes) in the given archive order, written with libzip.
using ZipMembers = std::vector<std::pair<std::string, std::vector<uint8_t>>>;
void write_zip(const std::string& path, const ZipMembers& members) {
  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(z, nullptr);
  for (const auto& [name, bytes] : members) {
    zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    ASSERT_GE(zip_file_add(z, name.c_str(), src, 0), 0);
  }
  ASSERT_EQ(zip_close(z), 0);
}

std::vector<uint8_t> bytes_of(const std::string& text) { return std::vector<uint8_t>(text.begin(), text.end()); }

void expect_input_error(const std::string& spec, const std::string& fragment) {
  try {
    auto source = open_image_source(spec);
    source->read(0, source->size());
    ADD_FAILURE() << spec << ": no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

TEST(DataReaders, NpzImagesWithLabels) {
  TempDir dir;
  const auto images = random_images(7, 5, 6, 3, 1);
  const auto labels = random_labels(7, 4, 2);
  write_npz(dir.file("a.npz"), {{"images", from_tensor(images)}, {"labels", from_tensor(labels)}});
  const auto source = open_image_source(dir.file("a.npz"));
  EXPECT_EQ(source->size(), 7);
  EXPECT_EQ(source->height(), 5);
  EXPECT_EQ(source->width(), 6);
  EXPECT_EQ(source->channels(), 3);
  EXPECT_TRUE(torch::equal(source->read(0, 7), images));
  EXPECT_TRUE(torch::equal(source->read(2, 5), images.slice(0, 2, 5)));
  EXPECT_TRUE(torch::equal(source->labels(), labels));
  EXPECT_TRUE(torch::equal(source->read_indices({6, 0, 1, 2, 4}), images.index_select(0, torch::tensor({6, 0, 1, 2, 4}))));
  EXPECT_THROW(source->read(3, 8), InputError);
  EXPECT_THROW(source->read_indices({0, 7}), InputError);
  EXPECT_THROW(source->read_indices({-1}), InputError);
}

TEST(DataReaders, NpzDeflatedArr0AndNpy) {
  TempDir dir;
  const auto images = random_images(4, 3, 3, 3, 3);
  write_npz(dir.file("b.npz"), {{"arr_0", from_tensor(images)}}, NpzCompression::deflated);
  const auto source = open_image_source(dir.file("b.npz"));
  EXPECT_TRUE(torch::equal(source->read(0, 4), images));
  EXPECT_FALSE(source->has_labels());
  write_npy(dir.file("c.npy"), from_tensor(images));
  EXPECT_TRUE(torch::equal(open_image_source(dir.file("c.npy"))->read(1, 3), images.slice(0, 1, 3)));
}

TEST(DataReaders, ContentChecksumIsSha256OfNhwcBytes) {
  TempDir dir;
  const auto images = random_images(3000, 4, 4, 3, 4);
  write_npy(dir.file("d.npy"), from_tensor(images));
  const auto source = open_image_source(dir.file("d.npy"));
  const auto expected = digest_hex(Digest::Kind::sha256, images.data_ptr<uint8_t>(), static_cast<size_t>(images.numel()));
  EXPECT_EQ(content_sha256(*source, false, 1024), expected);
  EXPECT_EQ(content_sha256(*source, false, 7), expected);
}

TEST(DataReaders, PngFolderSortedWithDatasetJson) {
  TempDir dir;
  const auto images = random_images(5, 8, 6, 3, 5);
  write_pngs(dir.file("pngs"), images);
  test::write_text(dir.file("pngs/dataset.json"),
                   R"({"labels": [["img004.png", 1], ["img000.png", 3], ["img001.png", 0], ["img002.png", 2], ["img003.png", 9]]})");
  const auto source = open_image_source(dir.file("pngs"));
  EXPECT_EQ(source->size(), 5);
  EXPECT_EQ(source->height(), 8);
  EXPECT_EQ(source->width(), 6);
  EXPECT_TRUE(torch::equal(source->read(0, 5), images));
  EXPECT_TRUE(torch::equal(source->labels(), torch::tensor({3, 0, 2, 9, 1}, torch::kInt64)));
}

TEST(DataReaders, GrayscalePngFolder) {
  TempDir dir;
  const auto images = random_images(2, 4, 4, 1, 6);
  write_pngs(dir.file("gray"), images);
  const auto source = open_image_source(dir.file("gray"));
  EXPECT_EQ(source->channels(), 1);
  EXPECT_TRUE(torch::equal(source->read(0, 2), images));
}

TEST(DataReaders, EdmZipRoundTripWithLabels) {
  TempDir dir;
  const auto images = random_images(12, 6, 6, 3, 7);
  const auto labels = random_labels(12, 10, 8);
  write_npz(dir.file("src.npz"), {{"images", from_tensor(images)}, {"labels", from_tensor(labels)}});
  write_edm_zip(*open_image_source(dir.file("src.npz")), dir.file("out.zip"), false);
  const auto source = open_image_source(dir.file("out.zip"));
  EXPECT_EQ(source->size(), 12);
  EXPECT_TRUE(torch::equal(source->read(0, 12), images));
  EXPECT_TRUE(torch::equal(source->labels(), labels));
  EXPECT_EQ(edm_zip_entry_name(1234), "00001/img00001234.png");
  // Deterministic: converting twice gives the same bytes.
  write_edm_zip(*open_image_source(dir.file("src.npz")), dir.file("again.zip"), false);
  EXPECT_EQ(file_digest_hex(Digest::Kind::sha256, dir.file("out.zip")), file_digest_hex(Digest::Kind::sha256, dir.file("again.zip")));
  // Without labels: dataset.json says null.
  write_npz(dir.file("nolabels.npz"), {{"images", from_tensor(images)}});
  write_edm_zip(*open_image_source(dir.file("nolabels.npz")), dir.file("nolabels.zip"), false);
  EXPECT_FALSE(open_image_source(dir.file("nolabels.zip"))->has_labels());
}

TEST(DataReaders, EdmZipWrittenByOtherTools) {
  TempDir dir;
  const auto images = random_images(3, 4, 5, 3, 9);
  // dataset.json first and the images in reverse name order: the reader sorts by name (as EDM's
  // dataset.py does), so the archive order must not matter.
  ZipMembers members;
  members.emplace_back("dataset.json", bytes_of(R"({"labels": [["00000/img00000002.png", 7], ["00000/img00000000.png", 5], ["00000/img00000001.png", 6]]})"));
  for (int64_t i = 2; i >= 0; --i) {
    members.emplace_back(fmt::format("00000/img{:08d}.png", i), encode_png(images[i].contiguous().data_ptr<uint8_t>(), 4, 5, 3));
  }
  write_zip(dir.file("z.zip"), members);
  const auto source = open_image_source(dir.file("z.zip"));
  EXPECT_TRUE(torch::equal(source->read(0, 3), images));
  EXPECT_TRUE(torch::equal(source->read(2, 3), images.slice(0, 2, 3)));
  EXPECT_TRUE(torch::equal(source->labels(), torch::tensor({5, 6, 7}, torch::kInt64)));
}

TEST(DataReaders, ImagenetNpzBatchesArePlanarAndOneBased) {
  TempDir dir;
  const int64_t side = 4;
  const auto images = random_images(6, side, side, 3, 10);
  const auto planar = images.permute({0, 3, 1, 2}).reshape({6, 3 * side * side}).contiguous();
  const auto labels = torch::tensor({1, 1000, 5, 2, 3, 4}, torch::kInt64);
  fs::create_directories(dir.file("in64"));
  // Two batches, named so that plain string order would be wrong.
  write_npz(dir.file("in64/train_data_batch_10.npz"),
            {{"data", from_tensor(planar.slice(0, 4, 6))}, {"labels", from_tensor(labels.slice(0, 4, 6))}});
  write_npz(dir.file("in64/train_data_batch_9.npz"),
            {{"data", from_tensor(planar.slice(0, 0, 4))}, {"labels", from_tensor(labels.slice(0, 0, 4))},
             {"mean", from_tensor(torch::zeros({3 * side * side}, torch::kFloat64))}});
  const auto one = open_image_source(dir.file("in64/train_data_batch_9.npz"));
  EXPECT_EQ(one->size(), 4);
  EXPECT_TRUE(torch::equal(one->read(0, 4), images.slice(0, 0, 4)));
  const auto all = open_image_source(dir.file("in64"));
  EXPECT_EQ(all->size(), 6);
  EXPECT_EQ(all->height(), side);
  EXPECT_TRUE(torch::equal(all->read(0, 6), images));
  EXPECT_TRUE(torch::equal(all->read(3, 5), images.slice(0, 3, 5)));
  EXPECT_TRUE(torch::equal(all->labels(), labels - 1));

  write_npz(dir.file("bad.npz"), {{"data", from_tensor(planar)}, {"labels", from_tensor(torch::zeros({6}, torch::kInt64))}});
  expect_input_error(dir.file("bad.npz"), "outside 1..1000");
}

TEST(DataReaders, Cifar10BinaryRoot) {
  TempDir dir;
  const std::string folder = dir.file(cifar10::kFolder);
  fs::create_directories(folder);
  // Record i of each batch: label i % 10, pixel bytes from a pattern that differs per plane.
  std::vector<uint8_t> batch(static_cast<size_t>(cifar10::kBatchBytes));
  for (size_t b = 0; b < cifar10::kBatches.size(); ++b) {
    for (int64_t i = 0; i < cifar10::kImagesPerBatch; ++i) {
      uint8_t* record = batch.data() + i * cifar10::kRecordBytes;
      record[0] = static_cast<uint8_t>((i + static_cast<int64_t>(b)) % 10);
      for (int64_t k = 0; k < 3 * cifar10::kPlane; ++k) record[1 + k] = static_cast<uint8_t>(i * 7 + k * 3 + static_cast<int64_t>(b));
    }
    std::ofstream(folder + "/" + cifar10::kBatches[b].file, std::ios::binary)
        .write(reinterpret_cast<const char*>(batch.data()), static_cast<std::streamsize>(batch.size()));
  }
  for (const std::string& spec : {dir.path(), dir.path() + ":train", folder + ":train"}) {
    const auto train = open_image_source(spec);
    ASSERT_EQ(train->size(), 50000);
    EXPECT_EQ(train->height(), 32);
    // Image 10003 = batch 2, record 3: pixel (0, 1) channel G is plane byte 1024 + 1.
    const auto image = train->read(10003, 10004);
    EXPECT_EQ(image[0][0][1][1].item<int64_t>(), static_cast<uint8_t>(3 * 7 + (1024 + 1) * 3 + 1));
    EXPECT_EQ(image[0][0][0][0].item<int64_t>(), static_cast<uint8_t>(3 * 7 + 1));
    EXPECT_EQ(train->labels()[10003].item<int64_t>(), 4);
    // Gathered reads (what the loader asks for): runs of consecutive indices across batch files.
    EXPECT_TRUE(torch::equal(train->read_indices({10003, 5, 6, 7, 9999, 10000, 49999}),
                             torch::cat({image, train->read(5, 8), train->read(9999, 10001), train->read(49999, 50000)})));
  }
  const auto test = open_image_source(dir.path() + ":test");
  EXPECT_EQ(test->size(), 10000);
  EXPECT_EQ(test->labels()[0].item<int64_t>(), 5);
  EXPECT_EQ(test->read(9999, 10000)[0][31][31][2].item<int64_t>(), static_cast<uint8_t>(9999 * 7 + (3 * 1024 - 1) * 3 + 5));

  // cifar10:SPLIT resolves under $CMBENCH_DATA.
  ::setenv("CMBENCH_DATA", dir.path().c_str(), 1);
  EXPECT_EQ(open_image_source("cifar10:test")->size(), 10000);
  ::unsetenv("CMBENCH_DATA");

  // A truncated batch and a bad label byte are named.
  fs::resize_file(folder + "/test_batch.bin", cifar10::kBatchBytes - 5);
  expect_input_error(dir.path() + ":test", "test_batch.bin: wrong size");
  batch[0] = 17;
  std::ofstream(folder + "/test_batch.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(batch.data()), static_cast<std::streamsize>(batch.size()));
  expect_input_error(dir.path() + ":test", "label 17");
}

TEST(DataReaders, BadInputsNameTheFileAndProblem) {
  TempDir dir;
  expect_input_error(dir.file("missing.npz"), "no such file");
  test::write_text(dir.file("x.txt"), "hello");
  expect_input_error(dir.file("x.txt"), "unknown image source kind");

  const auto images = random_images(4, 3, 3, 3, 11);
  write_npy(dir.file("ok.npy"), from_tensor(images));
  fs::copy_file(dir.file("ok.npy"), dir.file("short.npy"));
  fs::resize_file(dir.file("short.npy"), fs::file_size(dir.file("ok.npy")) - 10);
  expect_input_error(dir.file("short.npy"), "truncated");
  test::write_text(dir.file("garbage.npy"), "not an array at all");
  expect_input_error(dir.file("garbage.npy"), "bad magic");
  write_npy(dir.file("float.npy"), from_tensor(images.to(torch::kFloat32)));
  expect_input_error(dir.file("float.npy"), "must be uint8");
  write_npy(dir.file("shape.npy"), from_tensor(images.reshape({4, 27})));
  expect_input_error(dir.file("shape.npy"), "must have shape");
  write_npz(dir.file("stats.npz"), {{"mu", from_tensor(torch::zeros({4}, torch::kFloat64))},
                                    {"sigma", from_tensor(torch::zeros({4, 4}, torch::kFloat64))}});
  expect_input_error(dir.file("stats.npz"), "statistics file");
  write_npz(dir.file("neglabel.npz"), {{"images", from_tensor(images)}, {"labels", from_tensor(torch::tensor({0, 1, -1, 2}, torch::kInt64))}});
  expect_input_error(dir.file("neglabel.npz"), "out of range");
  write_npz(dir.file("fewlabels.npz"), {{"images", from_tensor(images)}, {"labels", from_tensor(torch::tensor({0, 1}, torch::kInt64))}});
  expect_input_error(dir.file("fewlabels.npz"), "2 labels for 4 images");

  // Zips: no images, mixed resolutions, a corrupted PNG, a truncated archive, a missing label.
  write_zip(dir.file("empty.zip"), {{"dataset.json", bytes_of(R"({"labels": null})")}});
  expect_input_error(dir.file("empty.zip"), "no PNG images");
  const auto small = encode_png(images[0].contiguous().data_ptr<uint8_t>(), 3, 3, 3);
  const auto wide = encode_png(random_images(1, 3, 4, 3, 12).data_ptr<uint8_t>(), 3, 4, 3);
  write_zip(dir.file("mixed.zip"), {{"a.png", small}, {"b.png", wide}});
  expect_input_error(dir.file("mixed.zip"), "mixed resolutions");
  auto broken = small;
  for (size_t i = 40; i < broken.size() - 12; ++i) broken[i] ^= 0x5a;
  write_zip(dir.file("corrupt.zip"), {{"a.png", small}, {"b.png", broken}});
  expect_input_error(dir.file("corrupt.zip"), "b.png");
  write_edm_zip(*open_image_source(dir.file("ok.npy")), dir.file("ok.zip"), false);
  fs::copy_file(dir.file("ok.zip"), dir.file("cut.zip"));
  fs::resize_file(dir.file("cut.zip"), fs::file_size(dir.file("ok.zip")) / 2);
  expect_input_error(dir.file("cut.zip"), "cut.zip");
  write_zip(dir.file("nolabel.zip"), {{"a.png", small}, {"dataset.json", bytes_of(R"({"labels": [["x.png", 1]]})")}});
  expect_input_error(dir.file("nolabel.zip"), "no label for 'a.png'");
  write_zip(dir.file("badjson.zip"), {{"a.png", small}, {"dataset.json", bytes_of("{labels")}});
  expect_input_error(dir.file("badjson.zip"), "malformed JSON");

  fs::create_directories(dir.file("emptydir"));
  expect_input_error(dir.file("emptydir"), "no PNG images");
}

TEST(DataReaders, HeadersCannotMakeHugeAllocations) {
  TempDir dir;
  const auto png = encode_png(random_images(1, 3, 3, 3, 13).data_ptr<uint8_t>(), 3, 3, 3);
  const auto with_size = [&](uint32_t width, uint32_t height) {
    auto bytes = png;  // IHDR width and height, big-endian at bytes 16 and 20
    for (int i = 0; i < 4; ++i) {
      bytes[16 + i] = static_cast<uint8_t>(width >> (24 - 8 * i));
      bytes[20 + i] = static_cast<uint8_t>(height >> (24 - 8 * i));
    }
    return bytes;
  };
  write_zip(dir.file("huge.zip"), {{"a.png", with_size(65535, 65535)}});
  expect_input_error(dir.file("huge.zip"), "huge.zip:a.png: PNG of 65535x65535 pixels is larger than the 268435456 pixels");
  write_zip(dir.file("thin.zip"), {{"a.png", with_size(16384, 16384)}});
  expect_input_error(dir.file("thin.zip"), "thin.zip:a.png: PNG declares 16384x16384 pixels, more than its");

  write_npz(dir.file("batch.npz"), {{"data", from_tensor(torch::zeros({1, 48}, torch::kUInt8))},
                                    {"labels", NpyArray::from<uint64_t>({1}, std::vector<uint64_t>{~uint64_t{0}}.data())}});
  expect_input_error(dir.file("batch.npz"), "label 18446744073709551615 of image 0 does not fit in int64");
}


// A reader that refuses a file closes it: fuzz_npz stopped after ~1000 bad .npy headers because
// each refusal kept its descriptor (fuzz/regressions/npz/lazy_bad_header_keeps_no_descriptor.npy).
TEST(DataReaders, RefusedFilesLeaveNoDescriptorOpen) {
  test::TempDir dir;
  const auto path = dir.file("bad.npy");
  test::write_text(path, std::string("\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'", 24));
  const auto open_descriptors = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/fd"), std::filesystem::directory_iterator());
  };
  const auto before = open_descriptors();
  for (int i = 0; i < 64; ++i) EXPECT_THROW(LazyNpy::open_file(path), InputError);
  EXPECT_EQ(open_descriptors(), before);
}

}  // namespace
}  // namespace cmbench
