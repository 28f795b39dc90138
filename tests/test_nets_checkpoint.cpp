// Checkpoint HDF5 I/O: bit-exact round trip, reproducible bytes, strict and non-strict loading,
// wrong shapes, corrupted and foreign files, weight-only files as h5py exports them, and a file
// written by h5py itself (the Python side of the interchange format) loading and sampling.
#include <gtest/gtest.h>

#include <H5Cpp.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/hdf5.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "nets/checkpoint_io.h"
#include "nets/factory.h"
#include "test_util.h"

namespace cmbench {
namespace {

DenoiserPtr tiny(uint64_t seed) { return make_preset_network("cifar10-ncsnpp-tiny", seed); }

Checkpoint training_checkpoint(Denoiser& model, Denoiser& ema) {
  Checkpoint c;
  c.config = network_config(model, {{"method", "ect"}});
  c.groups["model"] = model.state();
  c.groups["ema"] = ema.state();
  c.groups["ema.0.9999"] = ema.state();
  c.groups["optimizer"] = {{"exp_avg.map_layer0.weight", torch::randn({4, 3}, torch::kFloat64)},
                           {"step", torch::tensor(int64_t{12})}};
  c.groups["rng"] = {{"cpu", torch::randint(0, 255, {5056}, torch::kUInt8)}};
  c.attributes["step"] = int64_t{1234};
  c.attributes["images_seen"] = 1.5e6;
  c.attributes["note"] = "resume test";
  return c;
}

bool same(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size()) return false;
  std::map<std::string, torch::Tensor> by_name(b.begin(), b.end());
  for (const auto& [name, t] : a)
    if (!by_name.count(name) || !torch::equal(t, by_name.at(name))) return false;
  return true;
}

TEST(NetsCheckpoint, RoundTripIsBitExact) {
  test::TempDir dir;
  auto model = tiny(1), ema = tiny(2);
  const auto path = dir.file("ckpt.h5");
  const auto written = training_checkpoint(*model, *ema);
  write_checkpoint(path, written);
  const auto read = read_checkpoint(path);
  EXPECT_EQ(read.config, written.config);
  EXPECT_EQ(read.attributes.at("step").get<int64_t>(), 1234);
  EXPECT_DOUBLE_EQ(read.attributes.at("images_seen").get<double>(), 1.5e6);
  EXPECT_EQ(read.attributes.at("note").get<std::string>(), "resume test");
  ASSERT_EQ(read.groups.size(), written.groups.size());
  for (const auto& [name, tensors] : written.groups) EXPECT_TRUE(same(tensors, read.group(name))) << name;
  EXPECT_EQ(read.group("optimizer").front().second.scalar_type(), torch::kFloat64);
  EXPECT_EQ(checkpoint_groups(path), (std::vector<std::string>{"ema", "ema.0.9999", "model", "optimizer", "rng"}));

  // The network rebuilt from the file computes exactly what the EMA network computes.
  auto loaded = load_network(path);
  loaded->eval();
  ema->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 32, 32});
  EXPECT_TRUE(torch::equal(loaded->forward(x, torch::full({2}, 1.5)), ema->forward(x, torch::full({2}, 1.5))));
  auto raw = load_network(path, "model");
  EXPECT_TRUE(same(raw->state(), model->state()));
}

TEST(NetsCheckpoint, EqualContentGivesEqualBytes) {
  test::TempDir dir;
  auto model = tiny(1);
  Checkpoint c;
  c.config = network_config(*model);
  c.groups["ema"] = model->state();
  write_checkpoint(dir.file("a.h5"), c);
  // A clock second apart: HDF5 2's root group stored its creation time unless told not to.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  write_checkpoint(dir.file("b.h5"), c);
  EXPECT_EQ(test::read_text(dir.file("a.h5")), test::read_text(dir.file("b.h5")));
}

TEST(NetsCheckpoint, StrictLoadingReportsEveryMismatchAtOnce) {
  test::TempDir dir;
  auto model = tiny(1);
  auto state = model->state();
  NamedTensors altered;
  for (auto [name, t] : state) {
    if (name == "map_layer0.weight") t = torch::zeros({7, 7});
    if (name == "dec.32x32_aux_conv.bias") t = torch::zeros({4});
    if (name == "enc.32x32_conv.bias") continue;  // missing
    altered.emplace_back(name, t);
  }
  altered.emplace_back("extra.weight", torch::zeros({2}));
  Checkpoint c;
  c.config = network_config(*model);
  c.groups["ema"] = altered;
  const auto path = dir.file("bad.h5");
  write_checkpoint(path, c);
  auto target = tiny(5);
  const auto before = target->state().front().second.clone();
  try {
    load_weights(*target, read_checkpoint(path), "ema", true, path);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("map_layer0.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("dec.32x32_aux_conv.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("enc.32x32_conv.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("extra.weight"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
  EXPECT_TRUE(torch::equal(target->state().front().second, before));  // nothing half-loaded
  // Non-strict: names are skipped and listed, but a wrong shape is still an error.
  EXPECT_THROW(load_weights(*target, read_checkpoint(path), "ema", false, path), InputError);
}

// Found by fuzz/fuzz_checkpoint: a `config` declaring a network far larger than the weights in the
// file (here about 40 GB of parameters over a tiny network's) was built before the weights were
// compared, and the allocation failed with a c10::Error. The shapes are now compared first on the
// meta device, so it is the usual mismatch InputError and nothing is allocated.
TEST(NetsCheckpoint, ConfigLargerThanTheWeightsIsRefusedBeforeAllocation) {
  test::TempDir dir;
  auto model = tiny(1);
  Checkpoint c;
  c.config = network_config(*model);
  c.config["net"]["model_channels"] = 16384;
  c.groups["ema"] = model->state();
  const auto path = dir.file("huge_config.h5");
  write_checkpoint(path, c);
  const auto message = test::input_error_message([&] { network_from_checkpoint(read_checkpoint(path), "ema", path); });
  EXPECT_NE(message.find(path + ":/ema: "), std::string::npos) << message;
  EXPECT_NE(message.find("mismatch"), std::string::npos) << message;
}

TEST(NetsCheckpoint, NonStrictListsSkippedNames) {
  auto model = tiny(1), target = tiny(2);
  auto state = model->state();
  NamedTensors partial(state.begin() + 1, state.end());
  partial.emplace_back("logvar_linear.weight", torch::zeros({1, 8}));
  Checkpoint c;
  c.groups["model"] = partial;
  const auto report = load_weights(*target, c, "model", false, "mem");
  EXPECT_EQ(report.missing, std::vector<std::string>{state.front().first});
  EXPECT_EQ(report.unexpected, std::vector<std::string>{"logvar_linear.weight"});
  EXPECT_TRUE(torch::equal(target->state().back().second, state.back().second));
  EXPECT_THROW(load_weights(*target, c, "model", true, "mem"), InputError);
}

TEST(NetsCheckpoint, CorruptedAndForeignFilesAreInputErrors) {
  test::TempDir dir;
  auto model = tiny(1);
  Checkpoint c;
  c.config = network_config(*model);
  c.groups["ema"] = model->state();
  const auto good = dir.file("good.h5");
  write_checkpoint(good, c);
  const auto bytes = test::read_text(good);

  test::write_text(dir.file("truncated.h5"), bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW(read_checkpoint(dir.file("truncated.h5")), InputError);
  EXPECT_THROW(load_network(dir.file("truncated.h5")), InputError);
  test::write_text(dir.file("text.h5"), "not an hdf5 file at all");
  EXPECT_THROW(read_checkpoint(dir.file("text.h5")), InputError);
  EXPECT_THROW(read_checkpoint(dir.file("absent.h5")), InputError);
  EXPECT_THROW(read_checkpoint(good, {"target"}), InputError);

  h5::write_atomic(dir.file("foreign.h5"), [](H5::H5File& f) { h5::set_attribute(f, "format", std::string("other-2")); });
  EXPECT_THROW(read_checkpoint(dir.file("foreign.h5")), InputError);
}

TEST(NetsCheckpoint, WeightsOnlyFileLoadsWithAGivenNetwork) {
  // As an h5py export of EDM's weights: only /ema with EDM names, no format and no config.
  test::TempDir dir;
  auto model = tiny(9);
  const auto path = dir.file("export.h5");
  h5::write_atomic(path, [&](H5::H5File& f) {
    auto g = h5::require_group(f, "ema");
    for (const auto& [name, t] : model->state()) h5::write_tensor(g, name, t.detach().contiguous());
  });
  EXPECT_THROW(load_network(path), InputError);  // no config: the network must be named
  auto loaded = load_network(path, "", true, model->config());
  EXPECT_TRUE(same(loaded->state(), model->state()));
}

// The interchange format from the Python side: h5py writes only /ema (one float32 dataset per EDM
// tensor name) and the root attributes format and config, as a user exporting EDM weights would.
// `cmbench sample` loads it and gives the same images and raw outputs as the original checkpoint.
TEST(NetsCheckpoint, H5pyWrittenFileLoadsAndSamples) {
  const std::string python = "/usr/bin/python3";  // Debian's, where python3-h5py installs
  if (std::system((python + " -c 'import h5py, numpy' >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << "needs Debian's python3-h5py (scripts/install-deps installs it)";
  test::TempDir dir;
  auto net = tiny(8);
  Checkpoint original;
  original.config = network_config(*net, {{"method", "ect"}});  // a hand-written config names the method
  original.groups["ema"] = net->state();
  write_checkpoint(dir.file("original.h5"), original);

  NpzMap tensors;
  for (const auto& [name, tensor] : net->state()) tensors[name] = from_tensor(tensor);
  write_npz(dir.file("tensors.npz"), tensors);
  test::write_text(dir.file("config.json"), original.config.dump());
  test::write_text(dir.file("export.py"), R"(import sys, numpy, h5py
tensors = numpy.load(sys.argv[1])
with h5py.File(sys.argv[3], "w") as f:
    f.attrs["format"] = "cmbench-checkpoint-1"
    f.attrs["config"] = open(sys.argv[2]).read()
    ema = f.create_group("ema")
    for name in tensors.files:
        ema.create_dataset(name, data=tensors[name].astype(numpy.float32))
)");
  const std::string command = python + " " + dir.file("export.py") + " " + dir.file("tensors.npz") + " " +
                              dir.file("config.json") + " " + dir.file("h5py.h5");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  for (const std::string ckpt : {"original", "h5py"}) {
    const auto r = test::run_cli({"sample", "--ckpt", dir.file(ckpt + ".h5"), "--num", "3", "--steps", "1", "--raw",
                                  "--out", dir.file(ckpt + "-samples.npz")});
    ASSERT_EQ(r.exit_code, 0) << ckpt << ": " << r.err;
  }
  const auto a = read_npz(dir.file("original-samples.npz"));
  const auto b = read_npz(dir.file("h5py-samples.npz"));
  for (const char* key : {"images", "raw"}) {
    ASSERT_TRUE(a.count(key) && b.count(key)) << key;
    EXPECT_TRUE(torch::equal(to_tensor(a.at(key)), to_tensor(b.at(key)))) << key;
  }
}

}  // namespace
}  // namespace cmbench
