#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "test_util.h"

using namespace cmbench;

namespace {

template <class T>
NpyArray ramp(std::vector<int64_t> shape) {
  NpyArray a(dtype_of<T>(), shape);
  T* p = a.data<T>();
  for (int64_t i = 0; i < a.numel(); ++i) p[i] = static_cast<T>((i * 37) % 251) - static_cast<T>(i % 3 == 0 ? 0 : 1);
  return a;
}

void expect_equal(const NpyArray& a, const NpyArray& b) {
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.bytes, b.bytes);
}

}  // namespace

TEST(Npy, RoundTripEveryDtype) {
  test::TempDir dir;
  const std::vector<NpyArray> arrays = {ramp<uint8_t>({2, 3, 4}), ramp<int32_t>({5}),  ramp<int64_t>({3, 2}),
                                        ramp<float>({4, 4}),      ramp<double>({2, 2, 2}), ramp<int64_t>({})};
  for (size_t i = 0; i < arrays.size(); ++i) {
    const std::string path = dir.file(fmt::format("a{}.npy", i));
    write_npy(path, arrays[i]);
    expect_equal(read_npy(path), arrays[i]);
  }
}

TEST(Npy, HeaderIsNumpyLayout) {
  const auto bytes = serialize_npy(ramp<float>({2, 3}));
  const std::string header(bytes.begin() + 10, bytes.begin() + 10 + (bytes[8] | bytes[9] << 8));
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u);
  EXPECT_EQ((10 + header.size()) % 64, 0u);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_NE(std::string(reinterpret_cast<const char*>(serialize_npy(ramp<uint8_t>({7})).data()) + 10, 60)
                .find("'shape': (7,)"),
            std::string::npos);
}

TEST(Npz, RoundTripStoredAndDeflated) {
  test::TempDir dir;
  NpzMap arrays;
  arrays["images"] = ramp<uint8_t>({4, 8, 8, 3});
  arrays["labels"] = ramp<int64_t>({4});
  arrays["i32"] = ramp<int32_t>({3, 3});
  arrays["noise"] = ramp<float>({4, 3, 8, 8});
  arrays["mu"] = ramp<double>({16});
  for (auto mode : {NpzCompression::stored, NpzCompression::deflated}) {
    const std::string path = dir.file(mode == NpzCompression::stored ? "s.npz" : "d.npz");
    write_npz(path, arrays, mode);
    const auto back = read_npz(path);
    ASSERT_EQ(back.size(), arrays.size());
    for (const auto& [k, v] : arrays) expect_equal(back.at(k), v);
    const auto only = read_npz(path, {"labels"});
    ASSERT_EQ(only.size(), 1u);
    expect_equal(only.at("labels"), arrays["labels"]);
  }
  // Deflated ramps compress; stored ones hold the raw bytes.
  EXPECT_LT(std::filesystem::file_size(dir.file("d.npz")), std::filesystem::file_size(dir.file("s.npz")));
}

TEST(Npz, ReadsShippedVectors) {
  const auto arrays = read_npz(test::vector_path("frechet_d64.npz"));
  ASSERT_TRUE(arrays.count("sigma1"));
  EXPECT_EQ(arrays.at("sigma1").dtype, DType::f64);
  EXPECT_EQ(arrays.at("sigma1").shape, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(arrays.at("mu1").shape, (std::vector<int64_t>{64}));
}

TEST(Npz, TensorConversionRoundTrip) {
  auto t = torch::arange(24, torch::kFloat64).reshape({2, 3, 4});
  auto back = to_tensor(from_tensor(t));
  EXPECT_TRUE(torch::equal(t, back));
  auto u = torch::arange(10, torch::kUInt8);
  EXPECT_TRUE(torch::equal(u, to_tensor(from_tensor(u))));
}

TEST(NpyErrors, BadInputsNameTheFile) {
  test::TempDir dir;
  const std::string bad_magic = dir.file("bad_magic.npy");
  test::write_text(bad_magic, "NOTNUMPY0123456789");
  EXPECT_EQ(test::input_error_message([&] { read_npy(bad_magic); }), bad_magic + ": not an npy file (bad magic)");

  auto good = serialize_npy(ramp<float>({4, 4}));
  const std::string truncated = dir.file("truncated.npy");
  test::write_text(truncated, std::string(good.begin(), good.end() - 5));
  EXPECT_EQ(test::input_error_message([&] { read_npy(truncated); }),
            truncated + ": truncated npy data: shape (4, 4) needs 64 bytes, found 59");

  auto patch = [&](const std::string& from, const std::string& to, const std::string& name) {
    std::string text(good.begin(), good.end());
    text.replace(text.find(from), from.size(), to);
    const std::string path = dir.file(name);
    test::write_text(path, text);
    return path;
  };
  const auto fortran = patch("False", "True ", "fortran.npy");
  EXPECT_EQ(test::input_error_message([&] { read_npy(fortran); }), fortran + ": Fortran-order arrays are not supported");
  const auto big_endian = patch("'<f4'", "'>f4'", "big.npy");
  EXPECT_EQ(test::input_error_message([&] { read_npy(big_endian); }),
            big_endian + ": big-endian npy dtype '>f4' is not supported");
  const auto complex = patch("'<f4'", "'<c8'", "complex.npy");
  EXPECT_EQ(test::input_error_message([&] { read_npy(complex); }), complex + ": unsupported npy dtype '<c8'");
  const auto no_shape = patch("'shape'", "'shope'", "noshape.npy");
  EXPECT_EQ(test::input_error_message([&] { read_npy(no_shape); }), no_shape + ": malformed npy header");
  EXPECT_EQ(test::input_error_message([&] { read_npy(dir.file("missing.npy")); }), dir.file("missing.npy") + ": cannot open file");
}

TEST(NpzErrors, BadArchives) {
  test::TempDir dir;
  const std::string not_zip = dir.file("not_zip.npz");
  test::write_text(not_zip, "this is not a zip archive at all, just text");
  EXPECT_NE(test::input_error_message([&] { read_npz(not_zip); }).find(not_zip + ": not a valid npz (zip) archive"),
            std::string::npos);
  EXPECT_EQ(test::input_error_message([&] { read_npz(dir.file("none.npz")); }), dir.file("none.npz") + ": cannot open file");

  NpzMap arrays;
  arrays["x"] = ramp<float>({64, 64});
  const std::string good = dir.file("good.npz");
  write_npz(good, arrays, NpzCompression::deflated);
  EXPECT_EQ(test::input_error_message([&] { read_npz(good, {"y"}); }), good + ": missing array 'y'");

  // Corrupt the compressed payload: the member fails its CRC or inflate check.
  std::string bytes = test::read_text(good);
  for (size_t i = 60; i < 90 && i < bytes.size(); ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  const std::string corrupt = dir.file("corrupt.npz");
  test::write_text(corrupt, bytes);
  const auto message = test::input_error_message([&] { read_npz(corrupt); });
  EXPECT_NE(message.find(corrupt), std::string::npos) << message;
}

TEST(NpzErrors, FailedWriteKeepsOldFile) {
  test::TempDir dir;
  const std::string path = dir.file("keep.npz");
  NpzMap arrays;
  arrays["x"] = ramp<int32_t>({3});
  write_npz(path, arrays);
  const std::string before = test::read_text(path);
  // A folder that does not exist: the write fails and nothing is left behind.
  EXPECT_THROW(write_npz(dir.file("no/such/folder/x.npz"), arrays), InputError);
  EXPECT_EQ(test::read_text(path), before);
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1u);
}

namespace {

// Sets the uncompressed size of every entry, in its local and its central header.
std::string with_declared_size(std::string zip, uint32_t size) {
  for (const auto& [signature, offset] : {std::pair<std::string, size_t>{"PK\x03\x04", 22}, {"PK\x01\x02", 24}}) {
    for (size_t at = zip.find(signature); at != std::string::npos; at = zip.find(signature, at + 4)) {
      for (size_t i = 0; i < 4; ++i) zip[at + offset + i] = static_cast<char>((size >> (8 * i)) & 0xff);
    }
  }
  return zip;
}

}  // namespace

TEST(NpzErrors, DeclaredSizesAreCheckedBeforeAllocation) {
  test::TempDir dir;
  NpzMap arrays;
  arrays["x"] = ramp<uint8_t>({4});
  for (const auto compression : {NpzCompression::stored, NpzCompression::deflated}) {
    const std::string good = dir.file("good.npz");
    write_npz(good, arrays, compression);
    const std::string lying = dir.file("lying.npz");
    test::write_text(lying, with_declared_size(test::read_text(good), 0xFFFFFFF0u));
    const auto message = test::input_error_message([&] { read_npz(lying); });
    const std::string expected = compression == NpzCompression::stored
                                     ? "[x]: stored entry declares 4294967280 bytes but holds "
                                     : "[x]: entry declares 4294967280 bytes, more than its ";
    EXPECT_NE(message.find(lying + expected), std::string::npos) << message;
  }
}

TEST(NpyErrors, ShapesThatOverflowAreRefused) {
  const auto parse = [](const std::string& shape) {
    std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': " + shape + ", }\n";
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
    return test::input_error_message(
        [&] { parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "big.npy"); });
  };
  EXPECT_EQ(parse("(4294967296, 4294967296)"), "big.npy: npy shape is too large (over 2^63 bytes)");
  EXPECT_EQ(parse("(0, 4294967296, 4294967296)"), "big.npy: npy shape is too large (over 2^63 bytes)");
  EXPECT_EQ(parse("(99999999999999999999,)"),
            "big.npy: npy shape dimension '99999999999999999999' is not a number below 10^18");
}
