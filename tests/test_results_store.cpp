#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "core/hdf5.h"
#include "results/column_table.h"
#include "results/grid.h"
#include "results/store.h"
#include "test_results_fixture.h"
#include "test_util.h"

using namespace cmbench;
using namespace cmbench::results;

namespace {

void expect_same_run(const RunRecord& a, const RunRecord& b) {
  EXPECT_EQ(a.suite, b.suite);
  EXPECT_EQ(a.stage, b.stage);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.dataset, b.dataset);
  EXPECT_EQ(a.network, b.network);
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.config_json, b.config_json);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.code_version, b.code_version);
  EXPECT_EQ(a.torch_version, b.torch_version);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.threads, b.threads);
  EXPECT_EQ(a.start_time, b.start_time);
  EXPECT_EQ(a.end_time, b.end_time);
  EXPECT_EQ(a.wall_seconds, b.wall_seconds);
  EXPECT_EQ(a.images_seen, b.images_seen);
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) {
    EXPECT_EQ(a.curve[i].step, b.curve[i].step);
    EXPECT_EQ(a.curve[i].loss, b.curve[i].loss);
    EXPECT_EQ(a.curve[i].grad_norm, b.curve[i].grad_norm);
    EXPECT_EQ(a.curve[i].lr, b.curve[i].lr);
    EXPECT_EQ(a.curve[i].images_per_second, b.curve[i].images_per_second);
  }
  ASSERT_EQ(a.evaluations.size(), b.evaluations.size());
  for (size_t i = 0; i < a.evaluations.size(); ++i) {
    const auto &x = a.evaluations[i], &y = b.evaluations[i];
    EXPECT_EQ(x.step, y.step);
    EXPECT_EQ(x.nfe, y.nfe);
    EXPECT_EQ(x.metric, y.metric);
    EXPECT_EQ(x.value, y.value);
    EXPECT_EQ(x.num_samples, y.num_samples);
    EXPECT_EQ(x.seed_set, y.seed_set);
    EXPECT_EQ(x.reference, y.reference);
    EXPECT_EQ(x.detector, y.detector);
  }
  ASSERT_EQ(a.grids.size(), b.grids.size());
  for (size_t i = 0; i < a.grids.size(); ++i) {
    EXPECT_EQ(a.grids[i].nfe, b.grids[i].nfe);
    EXPECT_EQ(a.grids[i].png, b.grids[i].png);
  }
}

// A run big enough that writing the store takes a while, so that a kill lands mid-write.
RunRecord numbered_run(int i, int curve_points) {
  auto run = test::sample_run("stress", "run-" + std::to_string(i), "ect", i);
  run.curve.clear();
  for (int s = 0; s < curve_points; ++s) run.curve.push_back({s, 1.0 / (s + 1 + i), 0.0, 1e-4, 1.0});
  return run;
}

size_t count_runs_or_zero(const std::string& path) {
  try {
    return std::filesystem::exists(path) ? read_store(path).runs.size() : 0;
  } catch (const InputError&) {
    return 0;
  }
}

}  // namespace

TEST(ResultStore, RoundTripsEveryField) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  auto run = test::sample_run("smoke", "ect", "ect");
  std::vector<uint8_t> pixels(3 * 4 * 4 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  run.grids.push_back({1, encode_grid_png(pixels.data(), 3, 4, 4, 3)});
  run.grids.push_back({2, encode_grid_png(pixels.data(), 2, 4, 4, 3)});
  append_run(path, run);
  put_suite(path, test::sample_suite("smoke"));
  append_run(path, test::sample_run("smoke", "cd", "cd", 1.0));

  const auto store = read_store(path);
  ASSERT_EQ(store.runs.size(), 2u);
  expect_same_run(store.runs[0], run);
  expect_same_run(store.runs[1], test::sample_run("smoke", "cd", "cd", 1.0));
  ASSERT_EQ(store.suites.size(), 1u);
  const auto& suite = store.suites[0];
  const auto expected = test::sample_suite("smoke");
  EXPECT_EQ(suite.name, "smoke");
  ASSERT_EQ(suite.metrics.size(), 2u);
  EXPECT_EQ(suite.metrics[1].metric, "swd");
  EXPECT_EQ(suite.metrics[1].atol, 0.001);
  EXPECT_EQ(suite.metrics[0].aggregate, "min");
  ASSERT_EQ(suite.references.size(), 3u);
  EXPECT_EQ(suite.references[2].label, "EDM");
  EXPECT_EQ(suite.references[2].nfe, 35);
  EXPECT_EQ(suite.references[2].value, 1.97);
  EXPECT_EQ(suite.references[2].citation, expected.references[2].citation);
}

TEST(ResultStore, IsSelfDescribing) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  append_run(path, test::sample_run("smoke", "ect", "ect"));
  auto file = h5::open_read(path);
  EXPECT_EQ(h5::get_string_attribute(file, "format"), "cmbench-results");
  EXPECT_EQ(h5::get_int_attribute(file, "schema_version"), kStoreSchemaVersion);
  auto run = file.openGroup("runs/000001");
  EXPECT_EQ(h5::get_string_attribute(run, "wall_seconds.unit"), "s");
  EXPECT_FALSE(h5::get_string_attribute(run, "parameters.meaning").empty());
  auto eval = run.openDataSet("evaluation");
  EXPECT_EQ(eval.getTypeClass(), H5T_COMPOUND);
  EXPECT_EQ(h5::get_string_attribute(eval, "num_samples.unit"), "images");
  auto curve = run.openDataSet("training_curve");
  EXPECT_EQ(h5::get_string_attribute(curve, "images_per_second.unit"), "images/s");
  const auto table = ColumnTable::read(run, "evaluation");
  EXPECT_EQ(table.rows(), 8u);
  EXPECT_EQ(table.texts("metric")[1], "swd");
}

// Every column of every table carries a meaning (numbers also a unit), and so does every attribute.
TEST(ResultStore, EveryColumnAndAttributeIsDescribed) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  append_run(path, test::sample_run("smoke", "ect", "ect"));
  put_suite(path, test::sample_suite("smoke"));
  auto file = h5::open_read(path);
  const auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  auto expect_described_attributes = [&](const H5::H5Object& object, const std::string& where) {
    int described = 0;
    for (int i = 0; i < object.getNumAttrs(); ++i) {
      const auto name = object.openAttribute(static_cast<unsigned>(i)).getName();
      if (name == "meaning" || ends_with(name, ".meaning") || ends_with(name, ".unit")) continue;
      EXPECT_TRUE(h5::has_attribute(object, name + ".meaning")) << where << " " << name;
      ++described;
    }
    EXPECT_GT(described, 0) << where;
  };
  auto expect_described_columns = [&](const H5::Group& group, const std::string& dataset, size_t columns) {
    const auto data = group.openDataSet(dataset);
    EXPECT_FALSE(h5::get_string_attribute(data, "meaning").empty()) << dataset;
    const auto type = data.getCompType();
    ASSERT_EQ(static_cast<size_t>(type.getNmembers()), columns) << dataset;
    for (int i = 0; i < type.getNmembers(); ++i) {
      const auto name = type.getMemberName(static_cast<unsigned>(i));
      EXPECT_FALSE(h5::get_string_attribute(data, name + ".meaning").empty()) << dataset << "." << name;
      EXPECT_EQ(h5::has_attribute(data, name + ".unit"), type.getMemberClass(static_cast<unsigned>(i)) != H5T_STRING)
          << dataset << "." << name;
    }
  };
  const auto run = file.openGroup("runs/000001");
  expect_described_attributes(run, "run");
  expect_described_columns(run, "training_curve", 5);
  expect_described_columns(run, "evaluation", 12);
  const auto suite = file.openGroup("suites/smoke");
  expect_described_attributes(suite, "suite");
  expect_described_columns(suite, "metrics", 5);
  expect_described_columns(suite, "references", 8);
}

TEST(ResultStore, RefusesNewerSchema) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  h5::write_atomic(path, [](H5::H5File& file) {
    h5::set_attribute(file, "format", std::string("cmbench-results"));
    h5::set_attribute(file, "schema_version", kStoreSchemaVersion + 1);
  });
  try {
    read_store(path);
    FAIL() << "a newer schema was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos);
  }
  const auto before = test::read_text(path);
  EXPECT_THROW(append_run(path, test::sample_run("smoke", "ect", "ect")), InputError);
  EXPECT_EQ(test::read_text(path), before);
}

TEST(ResultStore, CorruptedStoreIsAnErrorAndNeverOverwritten) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  append_run(path, test::sample_run("smoke", "ect", "ect"));
  auto bytes = test::read_text(path);
  bytes.resize(bytes.size() / 2);  // a truncated copy
  test::write_text(path, bytes);
  try {
    read_store(path);
    FAIL() << "a truncated store was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
  EXPECT_THROW(append_run(path, test::sample_run("smoke", "cd", "cd")), InputError);
  EXPECT_EQ(test::read_text(path), bytes);

  test::write_text(path, "not hdf5 at all");
  EXPECT_THROW(append_run(path, test::sample_run("smoke", "cd", "cd")), InputError);
  EXPECT_EQ(test::read_text(path), "not hdf5 at all");
}

TEST(ResultStore, ForeignHdf5FileIsNotAStore) {
  test::TempDir dir;
  const auto path = dir.file("other.h5");
  h5::write_atomic(path, [](H5::H5File& file) { h5::set_attribute(file, "format", std::string("checkpoint")); });
  EXPECT_THROW(read_store(path), InputError);
  EXPECT_THROW(read_store(dir.file("missing.h5")), InputError);
}

TEST(ResultStore, SigkillMidWriteKeepsEveryEarlierRun) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  const int points = 200000;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (int i = 0;; ++i) append_run(path, numbered_run(i, points));
  }
  // Wait (bounded) until a few appends finished, then kill the writer in the middle of its next one.
  for (int i = 0; i < 6000 && count_runs_or_zero(path) < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

  const auto store = read_store(path);
  ASSERT_GE(store.runs.size(), 3u);
  for (size_t i = 0; i < store.runs.size(); ++i) expect_same_run(store.runs[i], numbered_run(static_cast<int>(i), points));
  // The lock died with the writer: the next append goes through and keeps everything.
  append_run(path, test::sample_run("smoke", "after", "ect"));
  const auto after = read_store(path);
  ASSERT_EQ(after.runs.size(), store.runs.size() + 1);
  EXPECT_EQ(after.runs.back().stage, "after");
  // The killed writer's temporary file is gone: only the store, its lock file and its run files remain
  // (at most one of them not yet linked, the killed append's, which the next append replaced).
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"results.h5", "results.h5.lock", "results.h5.runs"}));
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("results.h5.runs"))) {
    EXPECT_EQ(entry.path().extension(), ".h5") << entry.path();
    EXPECT_NE(entry.path().filename().string()[0], '.') << "a temporary file was left: " << entry.path();
  }
}

// Issue 17.5: an append writes its run to a file of its own and a new index of links, so the index
// stays small however many runs the store holds, and earlier run files are never rewritten.
TEST(ResultStore, AppendWritesOneRunFileAndAnIndexOfLinks) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  for (int i = 0; i < 3; ++i) append_run(path, numbered_run(i, 20000));
  const auto runs = dir.file("results.h5.runs");
  ASSERT_TRUE(std::filesystem::exists(runs + "/000001.h5"));
  ASSERT_TRUE(std::filesystem::exists(runs + "/000003.h5"));
  const auto first_bytes = test::read_text(runs + "/000001.h5");
  EXPECT_LT(std::filesystem::file_size(path), std::filesystem::file_size(runs + "/000001.h5") / 10);
  append_run(path, numbered_run(3, 20000));
  put_suite(path, test::sample_suite("stress"));
  EXPECT_EQ(test::read_text(runs + "/000001.h5"), first_bytes);
  const auto store = read_store(path);
  ASSERT_EQ(store.runs.size(), 4u);
  for (int i = 0; i < 4; ++i) expect_same_run(store.runs[i], numbered_run(i, 20000));
  ASSERT_EQ(store.suites.size(), 1u);
}

// A packed store (write_store, `cmbench pack`, stores of earlier versions) reads the same and takes
// appends: its runs move to files of their own once, at the first append.
TEST(ResultStore, PackedStoreReadsTheSameAndTakesAppends) {
  test::TempDir dir;
  const auto linked = dir.file("linked/results.h5");
  std::filesystem::create_directories(dir.file("linked"));
  append_run(linked, numbered_run(0, 100));
  put_suite(linked, test::sample_suite("stress"));
  append_run(linked, numbered_run(1, 100));
  const auto packed = dir.file("packed.h5");
  write_store(packed, read_store(linked));
  std::filesystem::remove_all(dir.file("linked"));  // packed is self-contained
  auto store = read_store(packed);
  ASSERT_EQ(store.runs.size(), 2u);
  expect_same_run(store.runs[1], numbered_run(1, 100));

  append_run(packed, numbered_run(2, 100));
  EXPECT_TRUE(std::filesystem::exists(dir.file("packed.h5.runs/000001.h5")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("packed.h5.runs/000003.h5")));
  store = read_store(packed);
  ASSERT_EQ(store.runs.size(), 3u);
  for (int i = 0; i < 3; ++i) expect_same_run(store.runs[i], numbered_run(i, 100));
  EXPECT_EQ(store.suites.size(), 1u);
}

// A store copied without its runs folder: one line naming the missing run file and the way out; the
// index is never overwritten.
TEST(ResultStore, MissingRunFileIsNamedAndNothingIsOverwritten) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  append_run(path, numbered_run(0, 10));
  append_run(path, numbered_run(1, 10));
  std::filesystem::remove(dir.file("results.h5.runs/000002.h5"));
  const auto before = test::read_text(path);
  try {
    read_store(path);
    FAIL() << "a store with a missing run file was read";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("000002.h5"), std::string::npos) << message;
    EXPECT_NE(message.find("cmbench pack"), std::string::npos) << message;
  }
  EXPECT_THROW(append_run(path, numbered_run(2, 10)), InputError);
  EXPECT_EQ(test::read_text(path), before);
}

// A crafted store cannot make cmbench open other files: only STORE.h5.runs/NNNNNN.h5 are followed.
TEST(ResultStore, LinksOutsideTheRunsFolderAreRefused) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  append_run(path, numbered_run(0, 10));
  const auto other = dir.file("other.h5");
  std::filesystem::copy_file(path, other);
  EXPECT_THROW(read_store(other), InputError);  // renamed: its links name results.h5.runs
  for (const auto& target : {dir.file("results.h5.runs/000001.h5"), std::string("../x.h5.runs/000001.h5"),
                                   std::string("crafted.h5.runs/000001.h5x")}) {
    const auto crafted = dir.file("crafted.h5");
    h5::write_atomic(crafted, [&](H5::H5File& file) {
      h5::set_attribute(file, "format", std::string("cmbench-results"));
      h5::set_attribute(file, "schema_version", kStoreSchemaVersion);
      H5::Group runs = h5::require_group(file, "runs");
      ASSERT_GE(H5Lcreate_external(target.c_str(), "/", runs.getId(), "000001", H5P_DEFAULT, H5P_DEFAULT), 0);
    });
    try {
      read_store(crafted);
      FAIL() << "followed a link to " << target;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("not to a run file"), std::string::npos) << e.what();
    }
  }
}

// h5py follows the index's links: Python users read a linked store as they read a packed one.
TEST(ResultStore, PythonReadsTheLinkedStore) {
  const auto python = test::python_importing("h5py");
  if (python.empty()) GTEST_SKIP() << "no python3 with h5py (Debian: apt install python3-h5py)";
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  append_run(path, numbered_run(0, 5));
  append_run(path, numbered_run(1, 7));
  test::write_text(dir.file("read.py"), R"(import h5py, sys
f = h5py.File(sys.argv[1], "r")
for name in f["runs"]:
    run = f["runs"][name]
    stage = run.attrs["stage"]
    print(name, stage.decode() if isinstance(stage, bytes) else stage, len(run["training_curve"]["step"]))
)");
  const auto r = test::run_shell(test::shell_quoted(python) + " " + test::shell_quoted(dir.file("read.py")) + " " +
                                 test::shell_quoted(path));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "000001 run-0 5\n000002 run-1 7\n");
}

TEST(ResultStore, ConcurrentWritersLoseNothing) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  const int per_writer = 6;
  std::vector<pid_t> children;
  for (int w = 0; w < 2; ++w) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      int code = 0;
      try {
        for (int i = 0; i < per_writer; ++i) {
          append_run(path, test::sample_run("writer" + std::to_string(w), "stage-" + std::to_string(i), "ct", i));
        }
      } catch (...) {
        code = 3;
      }
      _exit(code);
    }
    children.push_back(child);
  }
  for (pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  const auto store = read_store(path);
  ASSERT_EQ(store.runs.size(), 2u * per_writer);
  for (int w = 0; w < 2; ++w) {
    int next = 0;
    for (const auto& run : store.runs) {
      if (run.suite != "writer" + std::to_string(w)) continue;
      EXPECT_EQ(run.stage, "stage-" + std::to_string(next));  // each writer's runs in its own order
      ++next;
    }
    EXPECT_EQ(next, per_writer);
  }
}

// Issue 15's columns: the EMA profile of an evaluation row and the stage a published row is bound to.
TEST(ResultStore, RoundTripsProfilesAndBoundReferences) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  auto run = test::sample_run("smoke", "ect", "ect", 0, 1);
  run.evaluations[1].ema = "posthoc-0.050";
  append_run(path, run);
  auto suite = test::sample_suite("smoke");
  suite.references[0].stage = "ect";
  put_suite(path, suite);
  const auto store = read_store(path);
  ASSERT_EQ(store.runs.size(), 1u);
  EXPECT_EQ(store.runs[0].evaluations[0].ema, "");
  EXPECT_EQ(store.runs[0].evaluations[1].ema, "posthoc-0.050");
  EXPECT_EQ(store.suites.at(0).references[0].stage, "ect");
  EXPECT_EQ(store.suites.at(0).references[1].stage, "");
}

// Found by fuzz/fuzz_store: a grid named nfe_x (or with a number beyond int64) escaped read_store as
// std::invalid_argument from std::stoll, and a grid or table declaring more bytes than the file holds
// was allocated (std::bad_alloc). Both are InputErrors naming the file now.
TEST(ResultStore, MalformedGridsAndTablesAreInputErrors) {
  test::TempDir dir;
  const auto path = dir.file("store.h5");
  auto run = test::sample_run("s", "a", "edm");
  run.grids.push_back({2, {1, 2, 3}});
  write_store(path, {{run}, {}});
  {
    H5::H5File file(path, H5F_ACC_RDWR);
    H5Lmove(file.getId(), "runs/000001/grids/nfe_2", file.getId(), "runs/000001/grids/nfe_x", H5P_DEFAULT,
            H5P_DEFAULT);
  }
  const auto message = test::input_error_message([&] { read_store(path); });
  EXPECT_NE(message.find("grid 'nfe_x' does not name a number"), std::string::npos) << message;
  {
    H5::H5File file(path, H5F_ACC_RDWR);
    H5Ldelete(file.getId(), "runs/000001/grids/nfe_x", H5P_DEFAULT);
    H5::Group grids = file.openGroup("runs/000001/grids");
    const hsize_t huge[1] = {hsize_t{1} << 40};
    grids.createDataSet("nfe_9", H5::PredType::NATIVE_UINT8, H5::DataSpace(1, huge));
  }
  const auto huge = test::input_error_message([&] { read_store(path); });
  EXPECT_NE(huge.find("declares 1099511627776 bytes but the file holds 0"), std::string::npos) << huge;
}

// `cmbench pack`: one self-contained file (a baseline to commit, a file to share) that reads the same.
TEST(ResultStore, PackCommandMakesOneSelfContainedFile) {
  test::TempDir dir;
  const auto path = dir.file("run/results.h5");
  std::filesystem::create_directories(dir.file("run"));
  append_run(path, numbered_run(0, 50));
  append_run(path, numbered_run(1, 50));
  put_suite(path, test::sample_suite("stress"));
  const auto packed = dir.file("baseline.h5");
  const auto result = test::run_cli({"pack", path, packed});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("2 runs, 1 suites"), std::string::npos) << result.out;
  std::filesystem::remove_all(dir.file("run"));
  const auto store = read_store(packed);
  ASSERT_EQ(store.runs.size(), 2u);
  expect_same_run(store.runs[1], numbered_run(1, 50));
  EXPECT_FALSE(std::filesystem::exists(packed + ".runs"));
  const auto missing = test::run_cli({"pack", dir.file("none.h5"), dir.file("out.h5")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("none.h5"), std::string::npos) << missing.err;
}
