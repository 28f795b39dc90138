// HDF5 result stores (results/store.h read_store) and what `cmbench table` and `cmbench compare`
// make of them.
#include "fuzz/util.h"
#include "results/compare.h"
#include "results/store.h"
#include "results/table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cmbench::fuzz::init_once();
  const auto path = cmbench::fuzz::write_hdf5_input(data, size);
  if (path.empty()) return 0;
  cmbench::fuzz::expect_contract([&] {
    namespace results = cmbench::results;
    const auto store = results::read_store(path);
    results::TableInput input;
    input.stores = {store};
    input.store_names = {path};
    for (const char* format : {"md", "latex", "csv", "html"})
      (void)results::render_table(input, results::parse_table_format(format));
    const auto comparison = results::compare_stores(store, store, {});
    (void)results::comparison_text(comparison);
    (void)results::comparison_json(comparison, path, path).dump();
  });
  return 0;
}
