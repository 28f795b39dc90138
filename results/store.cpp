#include "results/store.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "core/hdf5.h"
#include "results/column_table.h"
#include "results/store_lock.h"

namespace cmbench::results {

namespace {

const char* const kFormat = "cmbench-results";

std::string text(const H5::H5Object& object, const std::string& name) { return h5::get_string_attribute(object, name); }
int64_t integer(const H5::H5Object& object, const std::string& name) { return h5::get_int_attribute(object, name); }
double real(const H5::H5Object& object, const std::string& name) { return h5::get_double_attribute(object, name); }

void set_text(H5::H5Object& object, const std::string& name, const std::string& value, const std::string& meaning) {
  h5::set_attribute(object, name, value);
  h5::set_attribute(object, name + ".meaning", meaning);
}
void set_integer(H5::H5Object& object, const std::string& name, int64_t value, const std::string& unit,
                 const std::string& meaning) {
  h5::set_attribute(object, name, value);
  h5::set_attribute(object, name + ".unit", unit);
  h5::set_attribute(object, name + ".meaning", meaning);
}
void set_real(H5::H5Object& object, const std::string& name, double value, const std::string& unit,
              const std::string& meaning) {
  h5::set_attribute(object, name, value);
  h5::set_attribute(object, name + ".unit", unit);
  h5::set_attribute(object, name + ".meaning", meaning);
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
  hsize_t size = 0;
  H5::DataSpace space = data.getSpace();
  if (space.getSimpleExtentNdims() != 1) throw InputError(fmt::format("{}: grid '{}' is not 1-D", group.getFileName(), name));
  space.getSimpleExtentDims(&size);
  std::vector<uint8_t> bytes(size);
  if (size > 0) data.read(bytes.data(), H5::PredType::NATIVE_UINT8);
  return bytes;
}

void write_run(H5::Group& runs, const std::string& name, const RunRecord& run) {
  H5::Group g = h5::require_group(runs, name);
  h5::set_attribute(g, "meaning", std::string("one training + evaluation run of one suite stage"));
  set_text(g, "suite", run.suite, "suite name");
  set_text(g, "stage", run.stage, "stage name within the suite");
  set_text(g, "method", run.method, "training method (edm, cd, ct, ict, ect, sct)");
  set_text(g, "dataset", run.dataset, "training dataset");
  set_text(g, "network", run.network, "network preset or architecture");
  set_integer(g, "parameters", run.parameters, "1", "trainable parameters of the network");
  set_text(g, "config", run.config_json, "full resolved configuration (JSON)");
  set_integer(g, "seed", run.seed, "1", "run seed");
  set_text(g, "code_version", run.code_version, "cmbench version and git description");
  set_text(g, "torch_version", run.torch_version, "LibTorch version");
  set_text(g, "device", run.device, "device the run used");
  set_integer(g, "threads", run.threads, "1", "intra-op CPU threads");
  set_text(g, "start_time", run.start_time, "start of the run, ISO 8601 UTC");
  set_text(g, "end_time", run.end_time, "end of the run, ISO 8601 UTC");
  set_real(g, "wall_seconds", run.wall_seconds, "s", "wall-clock time of training and evaluation");
  set_integer(g, "images_seen", run.images_seen, "images", "training images seen (steps x batch)");

  ColumnTable curve;
  std::vector<int64_t> steps;
  std::vector<double> loss, grad_norm, lr, rate;
  for (const auto& p : run.curve) {
    steps.push_back(p.step);
    loss.push_back(p.loss);
    grad_norm.push_back(p.grad_norm);
    lr.push_back(p.lr);
    rate.push_back(p.images_per_second);
  }
  curve.add_integers("step", steps, "steps", "training step after the update");
  curve.add_reals("loss", loss, "1", "training loss (method's weighted loss, batch mean)");
  curve.add_reals("grad_norm", grad_norm, "1", "global L2 norm of the gradient before clipping");
  curve.add_reals("lr", lr, "1", "learning rate of the step");
  curve.add_reals("images_per_second", rate, "images/s", "training throughput");
  curve.write(g, "training_curve", "training curve, one row per logged step");

  ColumnTable eval;
  std::vector<int64_t> estep, nfe, num;
  std::vector<std::string> metric, seed_set, reference, detector;
  std::vector<double> value;
  for (const auto& e : run.evaluations) {
    estep.push_back(e.step);
    nfe.push_back(e.nfe);
    metric.push_back(e.metric);
    value.push_back(e.value);
    num.push_back(e.num_samples);
    seed_set.push_back(e.seed_set);
    reference.push_back(e.reference);
    detector.push_back(e.detector);
  }
  eval.add_integers("step", estep, "steps", "training step of the evaluated weights");
  eval.add_integers("nfe", nfe, "evaluations", "network function evaluations per sample");
  eval.add_texts("metric", metric, "metric name (fid, is_mean, is_std, swd; METRICS.md)");
  eval.add_reals("value", value, "1", "metric value (FID/IS/SWD are dimensionless)");
  eval.add_integers("num_samples", num, "images", "generated samples the value is computed from");
  eval.add_texts("seed_set", seed_set, "sample seed range A-B");
  eval.add_texts("reference", reference, "reference statistics or data the metric compares against");
  eval.add_texts("detector", detector, "feature detector (weights) used, empty when none");
  eval.write(g, "evaluation", "evaluation rows, one per NFE x metric x seed set");

  H5::Group grids = h5::require_group(g, "grids");
  h5::set_attribute(grids, "meaning", std::string("8x8 sample grids (PNG) per number of function evaluations"));
  for (const auto& grid : run.grids) write_bytes(grids, fmt::format("nfe_{}", grid.nfe), grid.png);
}

RunRecord read_run(const H5::Group& g) {
  RunRecord run;
  run.suite = text(g, "suite");
  run.stage = text(g, "stage");
  run.method = text(g, "method");
  run.dataset = text(g, "dataset");
  run.network = text(g, "network");
  run.parameters = integer(g, "parameters");
  run.config_json = text(g, "config");
  run.seed = integer(g, "seed");
  run.code_version = text(g, "code_version");
  run.torch_version = text(g, "torch_version");
  run.device = text(g, "device");
  run.threads = integer(g, "threads");
  run.start_time = text(g, "start_time");
  run.end_time = text(g, "end_time");
  run.wall_seconds = real(g, "wall_seconds");
  run.images_seen = integer(g, "images_seen");

  const auto curve = ColumnTable::read(g, "training_curve");
  for (size_t i = 0; i < curve.rows(); ++i) {
    run.curve.push_back({curve.integers("step")[i], curve.reals("loss")[i], curve.reals("grad_norm")[i],
                         curve.reals("lr")[i], curve.reals("images_per_second")[i]});
  }
  const auto eval = ColumnTable::read(g, "evaluation");
  for (size_t i = 0; i < eval.rows(); ++i) {
    run.evaluations.push_back({eval.integers("step")[i], eval.integers("nfe")[i], eval.texts("metric")[i],
                               eval.reals("value")[i], eval.integers("num_samples")[i], eval.texts("seed_set")[i],
                               eval.texts("reference")[i], eval.texts("detector")[i]});
  }
  if (h5::has_child(g, "grids")) {
    H5::Group grids = g.openGroup("grids");
    for (const auto& name : h5::child_names(grids)) {
      if (name.rfind("nfe_", 0) != 0) continue;
      run.grids.push_back({std::stoll(name.substr(4)), read_bytes(grids, name)});
    }
    std::sort(run.grids.begin(), run.grids.end(), [](const SampleGrid& a, const SampleGrid& b) { return a.nfe < b.nfe; });
  }
  return run;
}

void write_suite(H5::Group& suites, const SuiteRecord& suite) {
  H5::Group g = h5::require_group(suites, suite.name);
  h5::set_attribute(g, "meaning", std::string("suite-level data written by `cmbench run` from the suite file"));
  set_text(g, "dataset", suite.dataset, "dataset of the suite");

  ColumnTable metrics;
  std::vector<std::string> name, direction, aggregate;
  std::vector<double> rtol, atol;
  for (const auto& m : suite.metrics) {
    name.push_back(m.metric);
    direction.push_back(m.direction);
    rtol.push_back(m.rtol);
    atol.push_back(m.atol);
    aggregate.push_back(m.aggregate);
  }
  metrics.add_texts("metric", name, "metric name");
  metrics.add_texts("direction", direction, "which way is better: lower or higher");
  metrics.add_reals("rtol", rtol, "1", "relative tolerance of `cmbench compare`");
  metrics.add_reals("atol", atol, "metric units", "absolute tolerance of `cmbench compare`");
  metrics.add_texts("aggregate", aggregate, "how values over seed sets combine: mean, min or max");
  metrics.write(g, "metrics", "per-metric direction, regression tolerance and seed-set aggregation");

  ColumnTable refs;
  std::vector<std::string> method, label, metric, citation;
  std::vector<int64_t> nfe, num;
  std::vector<double> value;
  for (const auto& r : suite.references) {
    method.push_back(r.method);
    label.push_back(r.label);
    nfe.push_back(r.nfe);
    metric.push_back(r.metric);
    value.push_back(r.value);
    num.push_back(r.num_samples);
    citation.push_back(r.citation);
  }
  refs.add_texts("method", method, "stage method the published number compares with");
  refs.add_texts("label", label, "the method as the paper names it");
  refs.add_integers("nfe", nfe, "evaluations", "network function evaluations per sample");
  refs.add_texts("metric", metric, "metric name");
  refs.add_reals("value", value, "1", "published value");
  refs.add_integers("num_samples", num, "images", "samples behind the published value");
  refs.add_texts("citation", citation, "source of the number");
  refs.write(g, "references", "published reference numbers (METHODS.md section 9)");
}

SuiteRecord read_suite(const H5::Group& g, const std::string& name) {
  SuiteRecord suite;
  suite.name = name;
  suite.dataset = text(g, "dataset");
  const auto metrics = ColumnTable::read(g, "metrics");
  for (size_t i = 0; i < metrics.rows(); ++i) {
    suite.metrics.push_back({metrics.texts("metric")[i], metrics.texts("direction")[i], metrics.reals("rtol")[i],
                             metrics.reals("atol")[i], metrics.texts("aggregate")[i]});
  }
  const auto refs = ColumnTable::read(g, "references");
  for (size_t i = 0; i < refs.rows(); ++i) {
    suite.references.push_back({refs.texts("method")[i], refs.texts("label")[i], refs.integers("nfe")[i],
                                refs.texts("metric")[i], refs.reals("value")[i], refs.integers("num_samples")[i],
                                refs.texts("citation")[i]});
  }
  return suite;
}

}  // namespace

StoreContents read_store(const std::string& path) {
  if (!std::filesystem::exists(path)) throw InputError(fmt::format("{}: no such result store", path));
  try {
    if (!H5::H5File::isHdf5(path)) {
      throw InputError(fmt::format("{}: not an HDF5 file (corrupted result store?); left untouched", path));
    }
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
    StoreContents contents;
    if (h5::has_child(file, "runs")) {
      H5::Group runs = file.openGroup("runs");
      for (const auto& name : h5::child_names(runs)) contents.runs.push_back(read_run(runs.openGroup(name)));
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
    h5::set_attribute(file, "format", std::string(kFormat));
    h5::set_attribute(file, "schema_version", kStoreSchemaVersion);
    h5::set_attribute(file, "meaning",
                      std::string("cmbench result store: runs/NNNNNN per run (append order), suites/NAME per suite"));
    H5::Group runs = h5::require_group(file, "runs");
    for (size_t i = 0; i < contents.runs.size(); ++i) write_run(runs, fmt::format("{:06d}", i + 1), contents.runs[i]);
    H5::Group suites = h5::require_group(file, "suites");
    auto sorted = contents.suites;
    std::sort(sorted.begin(), sorted.end(), [](const SuiteRecord& a, const SuiteRecord& b) { return a.name < b.name; });
    for (const auto& suite : sorted) write_suite(suites, suite);
  });
}

// Temporary files of writers that were killed mid-write (core/atomic_file.h names them
// ".NAME.tmp.PID"). Only called under the lock, when no other writer can be using one.
void remove_stale_temporaries(const std::string& path) {
  const std::filesystem::path target(path);
  const auto folder = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  const std::string prefix = fmt::format(".{}.tmp.", target.filename().string());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) std::filesystem::remove(entry.path(), ec);
  }
}

void update_store(const std::string& path, const std::function<void(StoreContents&)>& change) {
  StoreLock lock(path);
  remove_stale_temporaries(path);
  StoreContents contents;
  if (std::filesystem::exists(path)) contents = read_store(path);
  change(contents);
  write_store(path, contents);
}

void append_run(const std::string& path, const RunRecord& run) {
  update_store(path, [&](StoreContents& contents) { contents.runs.push_back(run); });
}

void put_suite(const std::string& path, const SuiteRecord& suite) {
  update_store(path, [&](StoreContents& contents) {
    auto& suites = contents.suites;
    suites.erase(std::remove_if(suites.begin(), suites.end(), [&](const SuiteRecord& s) { return s.name == suite.name; }),
                 suites.end());
    suites.push_back(suite);
  });
}

}  // namespace cmbench::results
