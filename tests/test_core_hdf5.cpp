#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/hdf5.h"
#include "test_util.h"

using namespace cmbench;

namespace {

void write_sample(const std::string& path) {
  h5::write_atomic(path, [](H5::H5File& file) {
    h5::set_attribute(file, "format", std::string("test-1"));
    h5::set_attribute(file, "step", int64_t{12});
    h5::set_attribute(file, "lr", 2.5e-4);
    auto group = h5::require_group(file, "model");
    h5::write_tensor(group, "enc.conv.weight", torch::arange(24, torch::kFloat32).reshape({2, 3, 4}));
    h5::write_tensor(group, "counts", torch::tensor({1, 2, 3}, torch::kInt64));
    h5::write_tensor(group, "scalar", torch::tensor(3.25, torch::kFloat64));
    h5::write_tensor(group, "bytes", torch::tensor({7, 8}, torch::kUInt8));
  });
}

}  // namespace

TEST(Hdf5, TensorsAndAttributesRoundTrip) {
  test::TempDir dir;
  const auto path = dir.file("a.h5");
  write_sample(path);
  auto file = h5::open_read(path);
  EXPECT_EQ(h5::get_string_attribute(file, "format"), "test-1");
  EXPECT_EQ(h5::get_int_attribute(file, "step"), 12);
  EXPECT_DOUBLE_EQ(h5::get_double_attribute(file, "lr"), 2.5e-4);
  EXPECT_TRUE(h5::has_child(file, "model"));
  auto group = file.openGroup("model");
  EXPECT_EQ(h5::child_names(group), (std::vector<std::string>{"bytes", "counts", "enc.conv.weight", "scalar"}));
  const auto w = h5::read_tensor(group, "enc.conv.weight");
  EXPECT_EQ(w.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(w, torch::arange(24, torch::kFloat32).reshape({2, 3, 4})));
  EXPECT_TRUE(torch::equal(h5::read_tensor(group, "counts"), torch::tensor({1, 2, 3}, torch::kInt64)));
  EXPECT_EQ(h5::read_tensor(group, "scalar").dim(), 0);
  EXPECT_EQ(h5::read_tensor(group, "scalar").item<double>(), 3.25);
  EXPECT_TRUE(torch::equal(h5::read_tensor(group, "bytes"), torch::tensor({7, 8}, torch::kUInt8)));
  EXPECT_EQ(h5::dataset_shape(group, "enc.conv.weight"), (std::vector<int64_t>{2, 3, 4}));
}

TEST(Hdf5, EqualContentGivesEqualBytes) {
  test::TempDir dir;
  write_sample(dir.file("a.h5"));
  write_sample(dir.file("b.h5"));
  EXPECT_EQ(test::read_text(dir.file("a.h5")), test::read_text(dir.file("b.h5")));
}

// Files are built in memory (core driver, whose buffer grows in 4 MiB steps) and written after they
// are closed: what lands on disk ends where the file's allocated space ends, and reads back whole.
TEST(Hdf5, WrittenFileEndsAtItsLastAllocatedByte) {
  test::TempDir dir;
  const auto small = dir.file("small.h5");
  write_sample(small);
  const auto big = dir.file("big.h5");
  const auto weights = torch::arange(int64_t{3} << 20, torch::kFloat32);  // 12 MiB: three buffer steps
  h5::write_atomic(big, [&](H5::H5File& file) {
    auto group = h5::require_group(file, "model");
    h5::write_tensor(group, "weight", weights);
  });
  for (const auto& path : {small, big}) {
    auto file = h5::open_read(path);
    EXPECT_EQ(H5Fget_file_image(file.getId(), nullptr, 0), static_cast<ssize_t>(std::filesystem::file_size(path)))
        << path;
  }
  EXPECT_LT(std::filesystem::file_size(small), size_t{64} << 10);
  auto file = h5::open_read(big);
  auto group = file.openGroup("model");
  EXPECT_TRUE(torch::equal(h5::read_tensor(group, "weight"), weights));
}

TEST(Hdf5, FailedWriteKeepsPreviousFile) {
  test::TempDir dir;
  const auto path = dir.file("a.h5");
  write_sample(path);
  const auto before = test::read_text(path);
  EXPECT_THROW(h5::write_atomic(path,
                                [](H5::H5File& file) {
                                  h5::set_attribute(file, "format", std::string("half"));
                                  throw InputError("simulated failure");
                                }),
               InputError);
  EXPECT_EQ(test::read_text(path), before);
}

TEST(Hdf5, BadFilesGiveClearErrors) {
  test::TempDir dir;
  try {
    h5::open_read(dir.file("missing.h5"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), dir.file("missing.h5") + ": no such file");
  }
  test::write_text(dir.file("text.h5"), "not hdf5");
  try {
    h5::open_read(dir.file("text.h5"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), dir.file("text.h5") + ": not an HDF5 file");
  }
  write_sample(dir.file("a.h5"));
  auto file = h5::open_read(dir.file("a.h5"));
  EXPECT_THROW(h5::get_string_attribute(file, "absent"), InputError);
  EXPECT_THROW(h5::get_string_attribute(file, "step"), InputError);
}

// A dataset's declared size is checked against the bytes the file holds before anything is allocated:
// an unwritten 16 GiB dataset in a file of a few KB is an InputError, not an allocation.
TEST(Hdf5, DeclaredSizeBeyondTheFileIsRefusedBeforeAllocation) {
  test::TempDir dir;
  const auto path = dir.file("huge.h5");
  h5::write_atomic(path, [](H5::H5File& file) {
    const hsize_t dims[2] = {hsize_t{1} << 16, hsize_t{1} << 16};
    file.createDataSet("huge", H5::PredType::NATIVE_FLOAT, H5::DataSpace(2, dims), h5::untimed_dataset_properties());
  });
  EXPECT_EQ(test::input_error_message([&] { h5::read_tensor(h5::open_read(path), "huge"); }),
            path + ":/huge: dataset declares 17179869184 bytes but the file holds 0 bytes of it");
  const hsize_t over_the_limit[1] = {(hsize_t{1} << 40) + 1};
  h5::write_atomic(path, [&](H5::H5File& f) {
    f.createDataSet("huge", H5::PredType::NATIVE_UINT8, H5::DataSpace(1, over_the_limit), h5::untimed_dataset_properties());
  });
  EXPECT_NE(test::input_error_message([&] { h5::read_tensor(h5::open_read(path), "huge"); })
                .find("dataset declares more than the limit of 1099511627776 bytes"),
            std::string::npos);
}

// The attribute getters read one value: an attribute holding several is an InputError (it used to be
// read into one int64_t, writing past it).
TEST(Hdf5, AttributeWithSeveralValuesIsRefused) {
  test::TempDir dir;
  const auto path = dir.file("array.h5");
  h5::write_atomic(path, [](H5::H5File& file) {
    const hsize_t dims[1] = {64};
    const std::vector<int64_t> values(64, 7);
    file.createAttribute("step", H5::PredType::NATIVE_INT64, H5::DataSpace(1, dims))
        .write(H5::PredType::NATIVE_INT64, values.data());
  });
  auto file = h5::open_read(path);
  EXPECT_THROW(h5::get_int_attribute(file, "step"), InputError);
  EXPECT_THROW(h5::get_double_attribute(file, "step"), InputError);
}

// Text from a file becomes JSON, tables and HTML: bytes that are not UTF-8 are refused where they
// are read, naming the attribute (fuzz/regressions/store/stage_not_utf8.h5 made `compare --json` throw).
TEST(Hdf5, StringAttributeThatIsNotUtf8IsRefused) {
  test::TempDir dir;
  const auto path = dir.file("text.h5");
  h5::write_atomic(path, [](H5::H5File& file) {
    h5::set_attribute(file, "stage", std::string("ect\xa7"));
    h5::set_attribute(file, "name", std::string("r\xc3\xa9sum\xc3\xa9"));
  });
  auto file = h5::open_read(path);
  try {
    h5::get_string_attribute(file, "stage");
    FAIL() << "invalid UTF-8 was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("attribute 'stage' is not UTF-8 text"), std::string::npos) << e.what();
  }
  EXPECT_EQ(h5::get_string_attribute(file, "name"), "r\xc3\xa9sum\xc3\xa9");
}

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void put_u64(std::string& bytes, size_t at, uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

// A file with a variable-length string attribute, as h5py writes strings: its text lives in a
// global heap collection. Returns the collection's offset in the file. In the earliest file format
// (libhdf5 2.x writes checksummed object headers by default), so that tests can change its bytes.
size_t write_variable_length_string(const std::string& path) {
  {
    H5::FileAccPropList access;
    access.setLibverBounds(H5F_LIBVER_EARLIEST, H5F_LIBVER_LATEST);
    H5::H5File file(path, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, access);
    const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
    const std::string text = "{\"net\": \"ddpmpp\"}";
    file.createAttribute("config", type, H5::DataSpace(H5S_SCALAR)).write(type, text);
  }
  const auto at = read_bytes(path).find(std::string("GCOL\x01\0\0\0", 8));
  EXPECT_NE(at, std::string::npos);
  return at;
}

// What open_read says of `intact` with the 8 bytes at `offset` set to `value`, after the file's name.
std::string open_refusal(const test::TempDir& dir, const std::string& intact, size_t offset, uint64_t value) {
  std::string bytes = intact;
  put_u64(bytes, offset, value);
  const auto damaged = dir.file("damaged.h5");
  write_bytes(damaged, bytes);
  const auto message = test::input_error_message([&] { h5::open_read(damaged); });
  return message.substr(std::min(message.size(), damaged.size() + 2));
}

}  // namespace

// Both inputs made libhdf5 (1.10.8 and 2.2) loop forever reading the root attribute `config`; the
// walk of the global heap refuses them before libhdf5 sees them.
TEST(Hdf5GlobalHeap, FreeSpaceOfZeroBytesIsRefusedBeforeLibhdf5ReadsTheFile) {
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"global_heap_free_space_of_0_bytes.h5", "at byte 31208: its free space at byte 32208 declares 0 bytes"},
      {"global_heap_free_space_of_0_bytes_after_three_objects.h5",
       "at byte 5664: its free space at byte 6416 declares 0 bytes"}};
  for (const auto& [name, what] : inputs) {
    const auto path = test::source_path("fuzz/regressions/checkpoint/" + name);
    EXPECT_EQ(test::input_error_message([&] { h5::open_read(path); }),
              path + ": damaged HDF5 global heap collection " + what + " (libhdf5 would not return on it)");
  }
}

// The fuzzer moved the superblock's base address by 64 bytes: libhdf5 then moves the end of
// allocation 64 bytes earlier, into the collection, and libhdf5 2.2 (Debian testing, built with
// assertions) aborted reading `config` (H5HGcache.c: image_len == H5HG_MINSIZE).
TEST(Hdf5GlobalHeap, ACollectionPastTheEndOfAllocationIsRefused) {
  const auto path = test::source_path("fuzz/regressions/checkpoint/global_heap_past_end_of_allocation.h5");
  EXPECT_EQ(test::input_error_message([&] { h5::open_read(path); }),
            path + ": damaged HDF5 global heap collection at byte 5664: it ends at byte 9760, past the end of "
                   "allocation its superblock declares (byte 9696) (libhdf5 with assertions aborts on it)");

  test::TempDir dir;
  const auto intact_path = dir.file("vlen.h5");
  const size_t at = write_variable_length_string(intact_path);
  const std::string intact = read_bytes(intact_path);
  const auto with = [&](size_t offset, uint64_t value) { return open_refusal(dir, intact, offset, value); };
  // libhdf5 1.10 writes a version 0 superblock, 2.x version 2 or 3 (8-byte offsets in both).
  const int version = intact[8];
  ASSERT_TRUE(version == 0 || version == 2 || version == 3) << version;
  const size_t base_address = version == 0 ? 24 : 12, end_of_file_address = base_address + 16;
  const auto collection_end = std::to_string(at + 4096);
  const auto refusal = [&](uint64_t end) {
    return "damaged HDF5 global heap collection at byte " + std::to_string(at) + ": it ends at byte " + collection_end +
           ", past the end of allocation its superblock declares (byte " + std::to_string(end) +
           ") (libhdf5 with assertions aborts on it)";
  };
  ASSERT_GE(intact.size(), at + 4096);
  EXPECT_EQ(with(end_of_file_address, at + 4095), refusal(at + 4095));
  EXPECT_EQ(with(base_address, 64), refusal(intact.size() - 64));
}

// The fuzzer's second input has no collection near the end; the reference of `config` points 64
// bytes before it. libhdf5 2.2 with assertions aborted there (H5HGcache.c: image_len == H5HG_MINSIZE).
TEST(Hdf5GlobalHeap, AReferenceIntoTheLast4096BytesIsRefusedBeforeLibhdf5ReadsIt) {
  const auto path = test::source_path("fuzz/regressions/checkpoint/global_heap_reference_near_end_of_allocation.h5");
  const auto message = test::input_error_message([&] { (void)read_checkpoint(path); });
  EXPECT_EQ(message.rfind(path + ":", 0), 0u) << message;
  if (H5_VERS_MAJOR < 2) {  // libhdf5 2.x already fails listing this file's attributes
    EXPECT_NE(message.find(": attribute 'config' refers to a global heap collection at byte 5664, but the file's "
                           "allocation ends at byte 9696 (a collection takes at least 4096 bytes; libhdf5 with "
                           "assertions aborts on it)"),
              std::string::npos)
        << message;
  }

  test::TempDir dir;
  const auto intact_path = dir.file("vlen.h5");
  const size_t at = write_variable_length_string(intact_path);
  const std::string intact = read_bytes(intact_path);
  // The attribute's value on disk: the text's length, the collection's address, the object's index.
  std::string reference(16, '\0');
  reference[0] = 17;
  put_u64(reference, 4, at);
  reference[12] = 1;
  const auto where = intact.find(reference);
  ASSERT_NE(where, std::string::npos);
  ASSERT_EQ(intact.find(reference, where + 1), std::string::npos);
  for (const uint64_t collection : {uint64_t{intact.size() - 4095}, uint64_t{intact.size() + 1}, ~uint64_t{0} - 7}) {
    std::string bytes = intact;
    put_u64(bytes, where + 4, collection);
    const auto damaged = dir.file("damaged.h5");
    write_bytes(damaged, bytes);
    EXPECT_EQ(test::input_error_message([&] { h5::get_string_attribute(h5::open_read(damaged), "config"); }),
              damaged + ":/: attribute 'config' refers to a global heap collection at byte " + std::to_string(collection) +
                  ", but the file's allocation ends at byte " + std::to_string(intact.size()) +
                  " (a collection takes at least 4096 bytes; libhdf5 with assertions aborts on it)");
  }
  // With room for 4096 bytes the reference is left to libhdf5: no collection there, and it says so.
  ASSERT_GE(intact.size(), at + 4096);
  std::string bytes = intact;
  put_u64(bytes, where + 4, at - 8);
  const auto moved = dir.file("moved.h5");
  write_bytes(moved, bytes);
  EXPECT_THROW(h5::get_string_attribute(h5::open_read(moved), "config"), H5::Exception);
}

TEST(Hdf5GlobalHeap, EveryDamageOfACollectionIsNamedAndIntactOnesAreRead) {
  test::TempDir dir;
  const auto path = dir.file("vlen.h5");
  const size_t at = write_variable_length_string(path);
  EXPECT_EQ(h5::get_string_attribute(h5::open_read(path), "config"), "{\"net\": \"ddpmpp\"}");
  const std::string intact = read_bytes(path);
  const size_t first_object = at + 16, free_space = first_object + 16 + 24;  // the 17-byte text, padded to 24
  ASSERT_EQ(intact[first_object], 1);
  ASSERT_EQ(intact[free_space], 0);
  const auto refusal = [&](size_t offset, uint64_t value) { return open_refusal(dir, intact, offset, value); };
  const auto collection = "damaged HDF5 global heap collection at byte " + std::to_string(at) + ": ";
  const auto tail = " (libhdf5 would not return on it)";
  EXPECT_EQ(refusal(free_space + 8, 0),
            collection + "its free space at byte " + std::to_string(free_space) + " declares 0 bytes" + tail);
  EXPECT_EQ(refusal(free_space + 8, 1u << 20), collection + "object 0 at byte " + std::to_string(free_space) +
                                                   " ends past the collection" + tail);
  EXPECT_EQ(refusal(first_object + 8, ~uint64_t{0} - 3),
            collection + "object 1 of 18446744073709551612 bytes ends past the collection" + tail);
  EXPECT_EQ(refusal(at + 8, 100), collection + "it declares 100 bytes, outside 4096.." +
                                      std::to_string(intact.size() - at) + tail);
  EXPECT_EQ(refusal(at + 8, uint64_t{1} << 40), collection + "it declares 1099511627776 bytes, outside 4096.." +
                                                    std::to_string(intact.size() - at) + tail);
}

// libhdf5 itself does not return on some damaged files; a read deadline turns that into one line and
// exit status 2. open_read refuses this file (above), so libhdf5 is given it directly here.
TEST(Hdf5ReadDeadline, ReadOfALibhdf5HangStopsWithOneLineNamingTheFile) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto path = test::source_path("fuzz/regressions/checkpoint/global_heap_free_space_of_0_bytes.h5");
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  EXPECT_EXIT(
      {
        const h5::ReadDeadline deadline(path, std::chrono::seconds(2));
        const H5::H5File file(path, H5F_ACC_RDONLY);
        h5::get_string_attribute(file, "config");
        std::_Exit(0);  // libhdf5 returned: the file no longer hangs it
      },
      testing::ExitedWithCode(2), "cmbench: error: .*global_heap_free_space_of_0_bytes.h5: reading this HDF5 file "
                                  "did not end within 2 s");
}

TEST(Hdf5ReadDeadline, ReadsThatEndInTimeAreUntouched) {
  test::TempDir dir;
  const auto path = dir.file("a.h5");
  write_sample(path);
  for (int i = 0; i < 100; ++i) {
    const h5::ReadDeadline deadline(path, std::chrono::seconds(30));
    auto file = h5::open_read(path);
    EXPECT_EQ(h5::get_int_attribute(file, "step"), 12);
  }
  EXPECT_EQ(h5::ReadDeadline::limit_for(0), std::chrono::seconds(60));
  EXPECT_EQ(h5::ReadDeadline::limit_for(uint64_t{2'000'000'000}), std::chrono::seconds(160));
}
