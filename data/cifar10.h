// CIFAR-10 in its official binary layout (cifar-10-batches-bin/): five training batches and one test
// batch of 10,000 records each; a record is 1 label byte then the R, G and B planes (32x32 row-major).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace cmbench::cifar10 {

constexpr int64_t kImagesPerBatch = 10000;
constexpr int64_t kSide = 32;
constexpr int64_t kPlane = kSide * kSide;
constexpr int64_t kRecordBytes = 1 + 3 * kPlane;
constexpr int64_t kBatchBytes = kImagesPerBatch * kRecordBytes;
constexpr int64_t kNumClasses = 10;

constexpr const char* kFolder = "cifar-10-batches-bin";

struct BatchFile {
  const char* file;  // inside kFolder
  const char* md5;   // official
};
constexpr std::array<BatchFile, 6> kBatches = {{
    {"data_batch_1.bin", "5dd7e06a14cb22eb9f671a540d1b7c25"},
    {"data_batch_2.bin", "5ea93a67294ea407fff1d09f752e9692"},
    {"data_batch_3.bin", "942cd6a4bcdd0dd3c604fbe906cb4421"},
    {"data_batch_4.bin", "ae636b3ba5c66a11e91e8cb52e771fcb"},
    {"data_batch_5.bin", "53f37980c15c3d472c316c40844f3f0d"},
    {"test_batch.bin", "803d5f7f4d78ea53de84dbe85f74fb6d"},
}};
constexpr std::array<const char*, 10> kClassNames = {"airplane", "automobile", "bird", "cat", "deer",
                                                     "dog",      "frog",       "horse", "ship", "truck"};

// sha256 of the uint8 NHWC bytes of each split, in order.
constexpr const char* kTrainContentSha256 = "47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a";
constexpr const char* kTestContentSha256 = "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04";

// The folder holding the batch files for a user-given root: `root` itself when it holds
// data_batch_1.bin or test_batch.bin, else root/cifar-10-batches-bin.
std::string batches_folder(const std::string& root);

}  // namespace cmbench::cifar10
