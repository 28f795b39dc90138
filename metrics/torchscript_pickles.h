// The pickles of a TorchScript archive, checked before torch::jit::load unpickles them.
#pragma once

#include <string>

namespace cmbench {

// torch::jit::load's unpickler reserves what a pickle declares before reading it: a string's or a
// byte string's length (Unpickler::readBytes) and room for twice a memo index (BINPUT,
// LONG_BINPUT), so a 41-byte data.pkl asked for 1.7 GB (fuzz/regressions/torchscript). Every
// *.pkl member of the archive at `path` is walked opcode by opcode first: a declared length must
// fit in the bytes left of its pickle, a memo index must be below the pickle's size. InputError
// starting with `label`, naming the member, the byte and the sizes, otherwise, or when libzip cannot
// read the archive (a file that is no zip at all is left to torch::jit::load's own refusal). The
// walk stops at STOP or at an opcode it does not know (torch refuses those).
void check_torchscript_pickles(const std::string& path, const std::string& label);

}  // namespace cmbench
