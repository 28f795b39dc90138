// The HDF5 result store (DESIGN.md "Formats", "Store safety").
//
// Layout (schema version 1), every object carrying a "meaning" attribute and units where numeric;
// the attributes and columns of each are listed once, in store.cpp (kRunAttributes, kCurveColumns, ...):
//   /                      format = "cmbench-results", schema_version
//   /runs/NNNNNN           one group per run, in append order; provenance as attributes
//     training_curve       compound, one row per logged step
//     evaluation           compound, one row per NFE x metric x seed set
//     grids/nfe_K          PNG bytes (uint8) of the 8x8 sample grid at K function evaluations
//   /suites/NAME           per suite: metrics (direction, tolerances, aggregation) and references
//                          (published numbers with their citation), both compound
//
// Appends (append_run, put_suite) keep each run in a file of its own, STORE.h5.runs/NNNNNN.h5, and
// STORE.h5 as the index whose /runs/NNNNNN are HDF5 external links to them (h5py follows them): an
// append costs what it writes. It takes an exclusive lock on STORE.h5.lock, writes the run file
// atomically (temporary file, fsync, rename), then a new index the same way, so a reader sees the
// old store or the new one, and a killed writer loses nothing earlier. write_store writes a packed
// store (every run inside the one file), as `cmbench pack` does for sharing; both layouts read the
// same. A store that cannot be read (corrupted, a missing run file, a newer schema) is an InputError
// and is never overwritten.
#pragma once

#include <string>

#include "results/records.h"

namespace cmbench::results {

constexpr int64_t kStoreSchemaVersion = 1;

// Reads a whole store. InputError naming the file when it is missing, corrupted, not a result
// store, or written by a newer schema version.
StoreContents read_store(const std::string& path);

// Writes `contents` as one packed, self-contained store at `path` (atomic; no lock).
void write_store(const std::string& path, const StoreContents& contents);

// Under the store's lock, each appends one run file and a new index.
void append_run(const std::string& path, const RunRecord& run);
// Adds or replaces the suite record with the same name.
void put_suite(const std::string& path, const SuiteRecord& suite);

}  // namespace cmbench::results
