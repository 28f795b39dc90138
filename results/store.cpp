#include "results/store.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hdf5.h"
#include "core/hdf5_heap_check.h"
#include "results/record_fields.h"
#include "results/store_lock.h"

namespace cmbench::results {

namespace {

const char* const kFormat = "cmbench-results";

std::string text(const H5::H5Object& object, const std::string& name) { return h5::get_string_attribute(object, name); }
int64_t integer(const H5::H5Object& object, const std::string& name) { return h5::get_int_attribute(object, name); }

// The schema: each table and attribute set described once, for write_store and read_store alike.
const Fields<RunRecord> kRunAttributes = {
    {"suite", &RunRecord::suite, "", "suite name"},
    {"stage", &RunRecord::stage, "", "stage name within the suite"},
    {"method", &RunRecord::method, "", "training method (edm, cd, ct, ict, ect, sct)"},
    {"dataset", &RunRecord::dataset, "", "training dataset"},
    {"network", &RunRecord::network, "", "network preset or architecture"},
    {"parameters", &RunRecord::parameters, "1", "trainable parameters of the network"},
    {"config", &RunRecord::config_json, "", "full resolved configuration (JSON)"},
    {"seed", &RunRecord::seed, "1", "run seed"},
    {"code_version", &RunRecord::code_version, "", "cmbench version and git description"},
    {"torch_version", &RunRecord::torch_version, "", "LibTorch version"},
    {"device", &RunRecord::device, "", "device the run used"},
    {"threads", &RunRecord::threads, "1", "intra-op CPU threads"},
    {"start_time", &RunRecord::start_time, "", "start of the run, ISO 8601 UTC"},
    {"end_time", &RunRecord::end_time, "", "end of the run, ISO 8601 UTC"},
    {"wall_seconds", &RunRecord::wall_seconds, "s", "wall-clock time of training and evaluation"},
    {"images_seen", &RunRecord::images_seen, "images", "training images seen (steps x batch)"},
};

const Fields<TrainingPoint> kCurveColumns = {
    {"step", &TrainingPoint::step, "steps", "training step after the update"},
    {"loss", &TrainingPoint::loss, "1", "training loss (method's weighted loss, batch mean)"},
    {"grad_norm", &TrainingPoint::grad_norm, "1", "global L2 norm of the gradient before clipping"},
    {"lr", &TrainingPoint::lr, "1", "learning rate of the step"},
    {"images_per_second", &TrainingPoint::images_per_second, "images/s", "training throughput"},
};

const Fields<EvaluationRow> kEvaluationColumns = {
    {"step", &EvaluationRow::step, "steps", "training step of the evaluated weights"},
    {"nfe", &EvaluationRow::nfe, "evaluations", "network function evaluations per sample"},
    {"metric", &EvaluationRow::metric, "", "metric name (fid, is_mean, is_std, swd; METRICS.md)"},
    {"value", &EvaluationRow::value, "1", "metric value (FID/IS/SWD are dimensionless)"},
    {"num_samples", &EvaluationRow::num_samples, "images", "generated samples the value is computed from"},
    {"seed_set", &EvaluationRow::seed_set, "", "sample seed range A-B"},
    {"reference", &EvaluationRow::reference, "", "reference statistics or data the metric compares against"},
    {"detector", &EvaluationRow::detector, "", "feature detector (weights) used, empty when none"},
    // Added with issue 14; stores written before read them as empty.
    {"detector_sha256", &EvaluationRow::detector_sha256, "", "sha256 of the detector weights, empty when none", true},
    {"reference_sha256", &EvaluationRow::reference_sha256, "", "sha256 of the reference features compared against",
     true},
    {"protocol_mismatch", &EvaluationRow::protocol_mismatch, "",
     "protocol differences compared across (allow_protocol_mismatch), empty when none", true},
    // Added with issue 15.
    {"ema", &EvaluationRow::ema, "", "EMA profile evaluated, empty for the checkpoint's default weights", true},
};

const Fields<SuiteRecord> kSuiteAttributes = {
    {"dataset", &SuiteRecord::dataset, "", "dataset of the suite"},
};

const Fields<MetricPolicy> kMetricColumns = {
    {"metric", &MetricPolicy::metric, "", "metric name"},
    {"direction", &MetricPolicy::direction, "", "which way is better: lower or higher"},
    {"rtol", &MetricPolicy::rtol, "1", "relative tolerance of `cmbench compare`"},
    {"atol", &MetricPolicy::atol, "metric units", "absolute tolerance of `cmbench compare`"},
    {"aggregate", &MetricPolicy::aggregate, "", "how values over seed sets combine: mean, min or max"},
};

const Fields<ReferenceRow> kReferenceColumns = {
    {"method", &ReferenceRow::method, "", "stage method the published number compares with"},
    {"label", &ReferenceRow::label, "", "the method as the paper names it"},
    {"nfe", &ReferenceRow::nfe, "evaluations", "network function evaluations per sample"},
    {"metric", &ReferenceRow::metric, "", "metric name"},
    {"value", &ReferenceRow::value, "1", "published value"},
    {"num_samples", &ReferenceRow::num_samples, "images", "samples behind the published value"},
    {"citation", &ReferenceRow::citation, "", "source of the number"},
    {"stage", &ReferenceRow::stage, "", "the stage it compares with, empty for every stage of its method", true},
};

// A finding as one row of /suites/NAME/findings (added with issue 16; stores written before have
// none). Its lists are JSON arrays in text columns, so the table stays a compound dataset that h5py
// and pandas read (json.loads gives the lists back).
struct FindingRow {
  std::string id, claim, kind, stages, others, metrics, nfe;
  double threshold = 0, rtol = 0;
  std::string ema, why;
};

const Fields<FindingRow> kFindingColumns = {
    {"id", &FindingRow::id, "", "finding name, unique within the suite"},
    {"claim", &FindingRow::claim, "", "the paper's claim the finding checks"},
    {"kind", &FindingRow::kind, "", "check: below, decreasing, reaches_first, nfe_improves or curve_not_worse"},
    {"stages", &FindingRow::stages, "", "stages compared (JSON array of stage names, in order)"},
    {"others", &FindingRow::others, "", "reaches_first: the stages that must reach the threshold later (JSON array)"},
    {"metrics", &FindingRow::metrics, "", "metric names the finding reads (JSON array)"},
    {"nfe", &FindingRow::nfe, "", "NFE of the rows read (JSON array of integers; nfe_improves: from, to)"},
    {"threshold", &FindingRow::threshold, "metric units", "reaches_first: the value to reach"},
    {"rtol", &FindingRow::rtol, "1", "relative slack of each comparison (times |value compared with|)"},
    {"ema", &FindingRow::ema, "", "EMA profile of the rows read, empty for the default weights"},
    {"why", &FindingRow::why, "", "the suite's note on what the finding tests"},
};

FindingRow finding_row(const FindingSpec& spec) {
  return {spec.id,
          spec.claim,
          spec.kind,
          nlohmann::json(spec.stages).dump(),
          nlohmann::json(spec.others).dump(),
          nlohmann::json(spec.metrics).dump(),
          nlohmann::json(spec.nfe).dump(),
          spec.threshold,
          spec.rtol,
          spec.ema,
          spec.why};
}

template <class T>
std::vector<T> json_list(const std::string& text, const std::string& where, const char* column) {
  const auto parsed = nlohmann::json::parse(text, nullptr, false);
  try {
    if (parsed.is_array()) return parsed.get<std::vector<T>>();
  } catch (const nlohmann::json::exception&) {
  }
  throw InputError(fmt::format("{}: findings column '{}' holds '{}', not a JSON array of the right type", where,
                               column, text));
}

FindingSpec finding_spec(const FindingRow& row, const std::string& where) {
  FindingSpec spec;
  spec.id = row.id;
  spec.claim = row.claim;
  spec.kind = row.kind;
  spec.stages = json_list<std::string>(row.stages, where, "stages");
  spec.others = json_list<std::string>(row.others, where, "others");
  spec.metrics = json_list<std::string>(row.metrics, where, "metrics");
  spec.nfe = json_list<int64_t>(row.nfe, where, "nfe");
  spec.threshold = row.threshold;
  spec.rtol = row.rtol;
  spec.ema = row.ema;
  spec.why = row.why;
  return spec;
}

void write_bytes(H5::Group& group, const std::string& name, const std::vector<uint8_t>& bytes) {
  const hsize_t dims[1] = {bytes.size()};
  H5::DataSet data =
      group.createDataSet(name, H5::PredType::NATIVE_UINT8, H5::DataSpace(1, dims), h5::untimed_dataset_properties());
  if (!bytes.empty()) data.write(bytes.data(), H5::PredType::NATIVE_UINT8);
  h5::set_attribute(data, "format", std::string("png"));
  h5::set_attribute(data, "meaning", std::string("PNG file bytes of an 8x8 grid of generated samples"));
}

std::vector<uint8_t> read_bytes(const H5::Group& group, const std::string& name) {
  H5::DataSet data = group.openDataSet(name);
  const auto where = fmt::format("{}: grid '{}'", group.getFileName(), name);
  if (data.getSpace().getSimpleExtentNdims() != 1) throw InputError(where + " is not 1-D");
  const auto size = h5::checked_element_count(data, where);
  std::vector<uint8_t> bytes(size);
  if (size > 0) data.read(bytes.data(), H5::PredType::NATIVE_UINT8);
  return bytes;
}

void write_run(H5::Group& g, const RunRecord& run) {
  h5::set_attribute(g, "meaning", std::string("one training + evaluation run of one suite stage"));
  write_attributes(g, run, kRunAttributes);
  write_table(g, "training_curve", "training curve, one row per logged step", run.curve, kCurveColumns);
  write_table(g, "evaluation", "evaluation rows, one per NFE x metric x seed set", run.evaluations, kEvaluationColumns);

  H5::Group grids = h5::require_group(g, "grids");
  h5::set_attribute(grids, "meaning", std::string("8x8 sample grids (PNG) per number of function evaluations"));
  for (const auto& grid : run.grids) write_bytes(grids, fmt::format("nfe_{}", grid.nfe), grid.png);
}

RunRecord read_run(const H5::Group& g) {
  RunRecord run;
  read_attributes(g, run, kRunAttributes);
  run.curve = read_table(g, "training_curve", kCurveColumns);
  run.evaluations = read_table(g, "evaluation", kEvaluationColumns);
  if (h5::has_child(g, "grids")) {
    H5::Group grids = g.openGroup("grids");
    for (const auto& name : h5::child_names(grids)) {
      if (name.rfind("nfe_", 0) != 0) continue;
      const auto digits = name.substr(4);
      int64_t nfe = 0;
      const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), nfe);
      if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || nfe < 0)
        throw InputError(fmt::format("{}: grid '{}' does not name a number of function evaluations", g.getFileName(), name));
      run.grids.push_back({nfe, read_bytes(grids, name)});
    }
    std::sort(run.grids.begin(), run.grids.end(), [](const SampleGrid& a, const SampleGrid& b) { return a.nfe < b.nfe; });
  }
  return run;
}

void write_suite(H5::Group& suites, const SuiteRecord& suite) {
  H5::Group g = h5::require_group(suites, suite.name);
  h5::set_attribute(g, "meaning", std::string("suite-level data written by `cmbench run` from the suite file"));
  write_attributes(g, suite, kSuiteAttributes);
  write_table(g, "metrics", "per-metric direction, regression tolerance and seed-set aggregation", suite.metrics,
              kMetricColumns);
  write_table(g, "references", "published reference numbers (METHODS.md section 9)", suite.references,
              kReferenceColumns);
  std::vector<FindingRow> findings;
  for (const auto& spec : suite.findings) findings.push_back(finding_row(spec));
  write_table(g, "findings", "the suite's findings: claims checked on the rows by `cmbench findings`", findings,
              kFindingColumns);
}

SuiteRecord read_suite(const H5::Group& g, const std::string& name) {
  SuiteRecord suite;
  suite.name = name;
  read_attributes(g, suite, kSuiteAttributes);
  suite.metrics = read_table(g, "metrics", kMetricColumns);
  suite.references = read_table(g, "references", kReferenceColumns);
  if (h5::has_child(g, "findings")) {
    const auto where = fmt::format("{}: /suites/{}/findings", g.getFileName(), name);
    for (const auto& row : read_table(g, "findings", kFindingColumns)) suite.findings.push_back(finding_spec(row, where));
  }
  return suite;
}

// The runs of an appended store live in files beside it: STORE.h5.runs/NNNNNN.h5, each a complete
// run (the group /runs/NNNNNN of a packed store, at the file's root). STORE.h5 is the index: its
// /runs/NNNNNN are HDF5 external links to those files, which h5py and HDF5 follow transparently
// (relative to the index's folder), and /suites. An append writes one run file and a new index of
// links, so it costs what it writes rather than the store's size (issue 17.5).
std::string runs_folder_name(const std::string& path) {
  return std::filesystem::path(path).filename().string() + ".runs";
}

std::filesystem::path store_folder(const std::string& path) {
  const std::filesystem::path p(path);
  return p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
}

// Opens a store for reading after checking that it is one this version reads.
H5::H5File open_store(const std::string& path) {
  if (!std::filesystem::exists(path)) throw InputError(fmt::format("{}: no such result store", path));
  if (!H5::H5File::isHdf5(path)) {
    throw InputError(fmt::format("{}: not an HDF5 file (corrupted result store?); left untouched", path));
  }
  h5::check_global_heaps(path);
  H5::H5File file(path, H5F_ACC_RDONLY);
  if (!h5::has_attribute(file, "format") || text(file, "format") != kFormat) {
    throw InputError(fmt::format("{}: not a cmbench result store (no format = \"{}\" attribute)", path, kFormat));
  }
  const int64_t version = integer(file, "schema_version");
  if (version > kStoreSchemaVersion) {
    throw InputError(fmt::format(
        "{}: result store schema version {} is newer than this cmbench reads ({}); use a newer cmbench", path,
        version, kStoreSchemaVersion));
  }
  return file;
}

// The file a run's external link points to, relative to the store's folder; empty when the run is a
// group inside the store itself (a packed store).
std::string linked_file(const H5::Group& runs, const std::string& name, const std::string& path) {
  H5L_info_t info;
  if (H5Lget_info(runs.getId(), name.c_str(), &info, H5P_DEFAULT) < 0 || info.type == H5L_TYPE_HARD) return "";
  if (info.type != H5L_TYPE_EXTERNAL) {
    throw InputError(fmt::format("{}: /runs/{} is a kind of link a result store does not use", path, name));
  }
  std::vector<char> value(info.u.val_size);
  const char* file = nullptr;
  const char* object = nullptr;
  unsigned flags = 0;
  if (H5Lget_val(runs.getId(), name.c_str(), value.data(), value.size(), H5P_DEFAULT) < 0 ||
      H5Lunpack_elink_val(value.data(), value.size(), &flags, &file, &object) < 0 || file == nullptr ||
      object == nullptr) {
    throw InputError(fmt::format("{}: /runs/{} is an unreadable link", path, name));
  }
  const std::string target(file);
  // Only the store's own run files: a crafted store must not make cmbench open any file on disk.
  const auto expected_prefix = runs_folder_name(path) + "/";
  const auto number = target.substr(std::min(target.size(), expected_prefix.size()));
  if (target.rfind(expected_prefix, 0) != 0 || number.size() != 9 || number.substr(6) != ".h5" ||
      !std::all_of(number.begin(), number.begin() + 6, [](char c) { return c >= '0' && c <= '9'; }) ||
      std::string(object) != "/") {
    throw InputError(fmt::format("{}: /runs/{} links to '{}:{}', not to a run file {}NNNNNN.h5 of this store "
                                 "(a renamed store: `cmbench pack` it under its old name)",
                                 path, name, target, object, expected_prefix));
  }
  if (!std::filesystem::exists(store_folder(path) / target)) {
    throw InputError(fmt::format("{}: run {} is stored in {}, which is missing (a store is the file and its {} "
                                 "folder; `cmbench pack` makes one self-contained file)",
                                 path, name, (store_folder(path) / target).string(), runs_folder_name(path)));
  }
  return target;
}

// What an append rewrites: each run's file (relative to the store's folder), and the suites.
struct StoreIndex {
  std::vector<std::string> run_files;
  std::vector<SuiteRecord> suites;
};

std::string run_file_name(const std::string& path, size_t number) {
  return fmt::format("{}/{:06d}.h5", runs_folder_name(path), number);
}

void write_run_file(const std::string& path, const std::string& file, const RunRecord& run) {
  const auto full = store_folder(path) / file;
  std::filesystem::create_directories(full.parent_path());
  h5::write_atomic(full.string(), [&](H5::H5File& out) {
    H5::Group root = out.openGroup("/");
    write_run(root, run);
  });
}

// Reads the index of a store; a run kept inside the store (packed, as write_store and stores of
// earlier versions keep them) is moved to a file of its own, once.
StoreIndex read_index(const std::string& path) {
  StoreIndex index;
  const h5::ReadDeadline deadline(path);
  H5::H5File file = open_store(path);
  if (h5::has_child(file, "runs")) {
    H5::Group runs = file.openGroup("runs");
    for (const auto& name : h5::child_names(runs)) {
      auto target = linked_file(runs, name, path);
      if (target.empty()) {
        target = run_file_name(path, index.run_files.size() + 1);
        write_run_file(path, target, read_run(runs.openGroup(name)));
      }
      index.run_files.push_back(target);
    }
  }
  if (h5::has_child(file, "suites")) {
    H5::Group suites = file.openGroup("suites");
    for (const auto& name : h5::child_names(suites)) index.suites.push_back(read_suite(suites.openGroup(name), name));
  }
  return index;
}

void write_root(H5::H5File& file, const std::vector<SuiteRecord>& suites) {
  h5::set_attribute(file, "format", std::string(kFormat));
  h5::set_attribute(file, "schema_version", kStoreSchemaVersion);
  h5::set_attribute(file, "meaning",
                    std::string("cmbench result store: runs/NNNNNN per run (append order), suites/NAME per suite"));
  H5::Group suites_group = h5::require_group(file, "suites");
  auto sorted = suites;
  std::sort(sorted.begin(), sorted.end(), [](const SuiteRecord& a, const SuiteRecord& b) { return a.name < b.name; });
  for (const auto& suite : sorted) write_suite(suites_group, suite);
}

void write_index(const std::string& path, const StoreIndex& index) {
  h5::write_atomic(path, [&](H5::H5File& file) {
    write_root(file, index.suites);
    H5::Group runs = h5::require_group(file, "runs");
    h5::set_attribute(runs, "meaning", std::string("runs in append order, each a link to its file in " +
                                                   runs_folder_name(path)));
    for (size_t i = 0; i < index.run_files.size(); ++i) {
      const auto name = fmt::format("{:06d}", i + 1);
      if (H5Lcreate_external(index.run_files[i].c_str(), "/", runs.getId(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0) {
        throw InputError(fmt::format("{}: cannot link run {} to {}", path, name, index.run_files[i]));
      }
    }
  });
}

// Temporary files of writers that were killed mid-write (core/atomic_file.h names them
// ".NAME.tmp.PID"), beside the store and in its runs folder. Only called under the lock, when no
// other writer can be using one.
void remove_stale_temporaries(const std::string& path) {
  const std::filesystem::path target(path);
  const auto folder = store_folder(path);
  std::error_code ec;
  const auto remove_matching = [&](const std::filesystem::path& dir, const std::string& prefix) {
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const auto name = entry.path().filename().string();
      if (name.rfind(prefix, 0) == 0 && name.find(".tmp.") != std::string::npos) std::filesystem::remove(entry.path(), ec);
    }
  };
  remove_matching(folder, fmt::format(".{}.tmp.", target.filename().string()));
  remove_matching(folder / runs_folder_name(path), ".");
}

// Under the store's lock: reads its index (an empty one when the file does not exist), lets `change`
// modify it and writes the new index atomically.
void update_index(const std::string& path, const std::function<void(StoreIndex&)>& change) {
  StoreLock lock(path);
  remove_stale_temporaries(path);
  StoreIndex index;
  try {
    if (std::filesystem::exists(path)) index = read_index(path);
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: corrupted or unreadable result store ({}: {}); left untouched", path,
                                 e.getFuncName(), e.getDetailMsg()));
  }
  change(index);
  write_index(path, index);
}

}  // namespace

StoreContents read_store(const std::string& path) {
  try {
    // Each file read has its own deadline, so that a store of many runs takes as long as it needs.
    std::optional<h5::ReadDeadline> deadline(std::in_place, path);
    H5::H5File file = open_store(path);
    StoreContents contents;
    if (h5::has_child(file, "runs")) {
      H5::Group runs = file.openGroup("runs");
      for (const auto& name : h5::child_names(runs)) {
        // A missing run file is named, not an HDF5 error.
        const auto target = linked_file(runs, name, path);
        const std::string run_path = target.empty() ? path : (store_folder(path) / target).string();
        if (!target.empty()) h5::check_global_heaps(run_path);
        deadline.reset();
        deadline.emplace(run_path);
        contents.runs.push_back(read_run(runs.openGroup(name)));
      }
      deadline.reset();
      deadline.emplace(path);
    }
    if (h5::has_child(file, "suites")) {
      H5::Group suites = file.openGroup("suites");
      for (const auto& name : h5::child_names(suites)) contents.suites.push_back(read_suite(suites.openGroup(name), name));
    }
    return contents;
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: corrupted or unreadable result store ({}: {}); left untouched", path,
                                 e.getFuncName(), e.getDetailMsg()));
  }
}

void write_store(const std::string& path, const StoreContents& contents) {
  h5::write_atomic(path, [&](H5::H5File& file) {
    write_root(file, contents.suites);
    H5::Group runs = h5::require_group(file, "runs");
    for (size_t i = 0; i < contents.runs.size(); ++i) {
      H5::Group g = h5::require_group(runs, fmt::format("{:06d}", i + 1));
      write_run(g, contents.runs[i]);
    }
  });
}

void append_run(const std::string& path, const RunRecord& run) {
  update_index(path, [&](StoreIndex& index) {
    const auto file = run_file_name(path, index.run_files.size() + 1);
    write_run_file(path, file, run);
    index.run_files.push_back(file);
  });
}

void put_suite(const std::string& path, const SuiteRecord& suite) {
  update_index(path, [&](StoreIndex& index) {
    auto& suites = index.suites;
    suites.erase(std::remove_if(suites.begin(), suites.end(), [&](const SuiteRecord& s) { return s.name == suite.name; }),
                 suites.end());
    suites.push_back(suite);
  });
}

}  // namespace cmbench::results
