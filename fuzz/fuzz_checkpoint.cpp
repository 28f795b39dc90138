// HDF5 network checkpoints as `cmbench sample` reads them (core/checkpoint.h, nets/checkpoint_io.h):
// the groups, the root attributes, the `config` JSON, the network it declares and its weights.
#include "core/checkpoint.h"
#include "fuzz/util.h"
#include "nets/checkpoint_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cmbench::fuzz::init_once();
  const auto path = cmbench::fuzz::write_hdf5_input(data, size);
  if (path.empty()) return 0;
  cmbench::fuzz::expect_contract([&] {
    const auto group = cmbench::default_weights_group(cmbench::checkpoint_groups(path), path);
    const auto checkpoint = cmbench::read_checkpoint(path, {group});
    (void)cmbench::network_from_checkpoint(checkpoint, group, path);
  });
  cmbench::fuzz::expect_contract([&] { (void)cmbench::read_checkpoint(path); });
  return 0;
}
