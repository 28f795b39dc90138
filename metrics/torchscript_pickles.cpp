#include "metrics/torchscript_pickles.h"

#include <fmt/format.h>
#include <zip.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/npy_zip.h"

namespace cmbench {
namespace {

uint64_t little_endian(const uint8_t* p, unsigned bytes) {
  uint64_t value = 0;
  for (unsigned i = 0; i < bytes; ++i) value |= uint64_t{p[i]} << (8 * i);
  return value;
}

// What follows an opcode (pickletools' argument descriptors, protocols 0 to 5).
enum class Argument { none, fixed, length_prefixed, lines, memo_index };
struct OpcodeArgument {
  Argument kind = Argument::none;
  unsigned bytes = 0;  // fixed: its size; length_prefixed and memo_index: the size field's size; lines: how many
};

bool describe_opcode(uint8_t opcode, OpcodeArgument& argument) {
  switch (opcode) {
    // No argument.
    case '(': case '.': case '0': case '1': case '2': case 'N': case 'Q': case 'R': case 'a': case 'b':
    case 'd': case '}': case 'e': case 'l': case ']': case 'o': case 's': case 't': case ')': case 'u':
    case 0x81: case 0x85: case 0x86: case 0x87: case 0x88: case 0x89: case 0x8f: case 0x90: case 0x91:
    case 0x92: case 0x93: case 0x94: case 0x97: case 0x98:
      argument = {Argument::none, 0}; return true;
    case 'K': case 'h': case 0x80: case 0x82: argument = {Argument::fixed, 1}; return true;  // BININT1 BINGET PROTO EXT1
    case 'M': case 0x83: argument = {Argument::fixed, 2}; return true;                      // BININT2 EXT2
    case 'J': case 'j': case 0x84: argument = {Argument::fixed, 4}; return true;            // BININT LONG_BINGET EXT4
    case 'G': case 0x95: argument = {Argument::fixed, 8}; return true;                      // BINFLOAT FRAME
    case 'U': case 'C': case 0x8c: case 0x8a:                                                // SHORT_BIN*, LONG1
      argument = {Argument::length_prefixed, 1}; return true;
    case 'T': case 'X': case 'B': case 0x8b:                                                 // BINSTRING BINUNICODE BINBYTES LONG4
      argument = {Argument::length_prefixed, 4}; return true;
    case 0x8d: case 0x8e: case 0x96:                                                         // BINUNICODE8 BINBYTES8 BYTEARRAY8
      argument = {Argument::length_prefixed, 8}; return true;
    case 'F': case 'I': case 'L': case 'P': case 'S': case 'V': case 'g': case 'p':         // text, to a newline
      argument = {Argument::lines, 1}; return true;
    case 'c': case 'i': argument = {Argument::lines, 2}; return true;                       // GLOBAL INST
    case 'q': argument = {Argument::memo_index, 1}; return true;                            // BINPUT
    case 'r': argument = {Argument::memo_index, 4}; return true;                            // LONG_BINPUT
    default: return false;
  }
}

void walk_pickle(const std::vector<uint8_t>& pickle, const std::string& member, const std::string& label) {
  const uint64_t size = pickle.size();
  const auto refuse = [&](uint64_t at, const std::string& what) {
    return InputError(fmt::format("{}: {} in this TorchScript archive: {} at byte {} (the pickle holds {} bytes); not loaded",
                                  label, member, what, at, size));
  };
  uint64_t p = 0;
  while (p < size) {
    const uint64_t at = p;
    const uint8_t opcode = pickle[p++];
    if (opcode == '.') return;  // STOP
    OpcodeArgument argument;
    if (!describe_opcode(opcode, argument)) return;
    const uint64_t left = size - p;
    switch (argument.kind) {
      case Argument::none: break;
      case Argument::fixed:
        if (argument.bytes > left) throw refuse(at, fmt::format("opcode 0x{:02x} ends early", opcode));
        p += argument.bytes;
        break;
      case Argument::memo_index: {
        if (argument.bytes > left) throw refuse(at, fmt::format("opcode 0x{:02x} ends early", opcode));
        const uint64_t index = little_endian(pickle.data() + p, argument.bytes);
        if (index >= size) throw refuse(at, fmt::format("a memo index {} larger than the pickle", index));
        p += argument.bytes;
        break;
      }
      case Argument::length_prefixed: {
        if (argument.bytes > left) throw refuse(at, fmt::format("opcode 0x{:02x} ends early", opcode));
        const uint64_t length = little_endian(pickle.data() + p, argument.bytes);
        p += argument.bytes;
        if (length > size - p) throw refuse(at, fmt::format("a {}-byte value of which {} bytes follow", length, size - p));
        p += length;
        break;
      }
      case Argument::lines:
        for (unsigned line = 0; line < argument.bytes; ++line) {
          const void* newline = std::memchr(pickle.data() + p, '\n', size - p);
          if (newline == nullptr) throw refuse(at, fmt::format("opcode 0x{:02x} has no end of line", opcode));
          p = static_cast<uint64_t>(static_cast<const uint8_t*>(newline) - pickle.data()) + 1;
        }
        break;
    }
  }
}

struct ZipDiscard {
  void operator()(zip_t* z) const {
    if (z) zip_discard(z);
  }
};

}  // namespace

void check_torchscript_pickles(const std::string& path, const std::string& label) {
  int error = 0;
  const std::unique_ptr<zip_t, ZipDiscard> zip(zip_open(path.c_str(), ZIP_RDONLY, &error));
  if (!zip) {
    if (error == ZIP_ER_NOZIP) return;  // torch::jit::load refuses it with its own words (and a hint for pickles)
    zip_error_t ze;
    zip_error_init_with_code(&ze, error);
    const std::string message = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw InputError(fmt::format("{}: not a TorchScript archive (zip): {}", label, message));
  }
  const zip_int64_t members = zip_get_num_entries(zip.get(), 0);
  for (zip_int64_t i = 0; i < members; ++i) {
    const char* name = zip_get_name(zip.get(), static_cast<zip_uint64_t>(i), 0);
    if (name == nullptr) continue;
    const std::string member(name);
    const bool is_pickle = (member.size() > 4 && member.compare(member.size() - 4, 4, ".pkl") == 0) ||
                           (member.size() > 10 && member.compare(member.size() - 10, 10, ".debug_pkl") == 0);
    if (!is_pickle) continue;
    walk_pickle(read_zip_member(zip.get(), static_cast<zip_uint64_t>(i), path, label + ": " + member), member, label);
  }
}

}  // namespace cmbench
