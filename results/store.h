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
// An update takes an exclusive lock on STORE.h5.lock, reads the whole store, writes a complete new
// store to a temporary file, fsyncs it and renames it over the old one. A store that cannot be read
// (corrupted, or a newer schema) is an InputError and is never overwritten.
#pragma once

#include <functional>
#include <string>

#include "results/records.h"

namespace cmbench::results {

constexpr int64_t kStoreSchemaVersion = 1;

// Reads a whole store. InputError naming the file when it is missing, corrupted, not a result
// store, or written by a newer schema version.
StoreContents read_store(const std::string& path);

// Writes `contents` as a complete store at `path` (atomic; no lock: see update_store).
void write_store(const std::string& path, const StoreContents& contents);

// Under the store's lock: reads the store (an empty one when the file does not exist), lets
// `change` modify it and writes the result atomically.
void update_store(const std::string& path, const std::function<void(StoreContents&)>& change);

void append_run(const std::string& path, const RunRecord& run);
// Adds or replaces the suite record with the same name.
void put_suite(const std::string& path, const SuiteRecord& suite);

}  // namespace cmbench::results
