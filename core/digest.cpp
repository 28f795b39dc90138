#include "core/digest.h"

#include <openssl/evp.h>

#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

struct Digest::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Digest::Digest(Kind kind) : state_(std::make_unique<State>()) {
  const EVP_MD* md = kind == Kind::md5 ? EVP_md5() : kind == Kind::sha1 ? EVP_sha1() : EVP_sha256();
  state_->ctx = EVP_MD_CTX_new();
  if (!state_->ctx || EVP_DigestInit_ex(state_->ctx, md, nullptr) != 1) throw std::runtime_error("EVP digest init failed");
}
Digest::~Digest() = default;
Digest::Digest(Digest&&) noexcept = default;
Digest& Digest::operator=(Digest&&) noexcept = default;

void Digest::update(const void* data, size_t size) { EVP_DigestUpdate(state_->ctx, data, size); }

std::string Digest::hex() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(state_->ctx, out, &length);
  std::string text;
  for (unsigned int i = 0; i < length; ++i) text += fmt::format("{:02x}", out[i]);
  return text;
}

std::string digest_hex(Digest::Kind kind, const void* data, size_t size) {
  Digest d(kind);
  d.update(data, size);
  return d.hex();
}

std::string file_digest_hex(Digest::Kind kind, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open file", path));
  Digest d(kind);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    d.update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw InputError(fmt::format("{}: read failed", path));
  return d.hex();
}

}  // namespace cmbench
