// Content digests (OpenSSL EVP): SHA-256 for dataset and weight checksums, MD5 for CIFAR-10's
// official per-file sums.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace cmbench {

class Digest {
 public:
  enum class Kind { md5, sha1, sha256 };
  explicit Digest(Kind kind);
  ~Digest();
  Digest(Digest&&) noexcept;
  Digest& operator=(Digest&&) noexcept;
  void update(const void* data, size_t size);
  std::string hex();  // finishes the digest

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string digest_hex(Digest::Kind kind, const void* data, size_t size);
std::string file_digest_hex(Digest::Kind kind, const std::string& path);  // InputError when unreadable

}  // namespace cmbench
