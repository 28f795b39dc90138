// The pr50k3 VGG16 detector (metrics/vgg16_detector.h) on a fake TorchScript VGG16 with NVIDIA's
// calling convention, batched and sharded extraction, the weights spec; and scripts/convert-edm-detector
// on a pickle of a scripted fake Inception (skipped without a python3 that has torch).
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <sys/wait.h>
#include <zip.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <optional>

#include "core/digest.h"
#include "core/error.h"
#include "core/launch_env.h"
#include "core/process_group.h"
#include "metrics/detector.h"
#include "metrics/vgg16_detector.h"
#include "test_util.h"

namespace cmbench {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Features of the fakes: the per-channel means of the uint8 NCHW input, tiled to `width`.
torch::Tensor channel_means_tiled(const torch::Tensor& images_nhwc, int64_t width) {
  auto means = images_nhwc.to(torch::kFloat32).mean({1, 2});
  if (means.size(1) == 1) means = means.expand({-1, 3});
  return means.repeat({1, (width + 2) / 3}).slice(1, 0, width).contiguous();
}

// A TorchScript module shaped like NVIDIA's vgg16.pt: forward(img, resize_images, return_lpips,
// return_features); it insists on uint8 NCHW with 3 channels, as the reference feeds it.
const char* const kFakeVgg16 = R"(
    def forward(self, img, resize_images: bool = True, return_lpips: bool = False, return_features: bool = False):
        assert img.dtype == 0  # torch.uint8 (the name cannot be resolved here)
        assert img.size(1) == 3
        features = img.float().mean(dim=[2, 3]).repeat([1, 1366])[:, :4096]
        if return_features:
            return features
        return features[:, :16]
)";

std::string write_torchscript(const test::TempDir& dir, const std::string& name, const std::string& source) {
  torch::jit::Module module("FakeVgg16");
  module.define(source);
  const auto path = dir.file(name);
  module.save(path);
  return path;
}

std::string write_fake_vgg16(const test::TempDir& dir) { return write_torchscript(dir, "vgg16-fake.pt", kFakeVgg16); }

// The images of a tensor, as an ImageSource.
class TensorImages : public ImageSource {
 public:
  explicit TensorImages(torch::Tensor images) : images_(std::move(images)) {}
  const std::string& name() const override { return name_; }
  int64_t size() const override { return images_.size(0); }
  int64_t height() const override { return images_.size(1); }
  int64_t width() const override { return images_.size(2); }
  int64_t channels() const override { return images_.size(3); }
  torch::Tensor read(int64_t begin, int64_t end) const override { return images_.slice(0, begin, end).contiguous(); }
  bool has_labels() const override { return false; }
  torch::Tensor labels() const override { return {}; }

 private:
  torch::Tensor images_;
  std::string name_ = "test-images";
};

// Sets (or with nullopt unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) saved_ = old;
    if (value) ::setenv(name_.c_str(), value->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ~ScopedEnv() {
    if (saved_) ::setenv(name_.c_str(), saved_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> saved_;
};

TEST(Vgg16Detector, FakeModuleGivesChannelMeanFeatures) {
  test::TempDir dir;
  const auto path = write_fake_vgg16(dir);
  Vgg16Detector detector(Vgg16DetectorOptions().weights(path));
  const auto rgb = torch::randint(0, 256, {3, 9, 7, 3}, torch::kUInt8);
  const auto features = detector.run(rgb);
  EXPECT_EQ(features.scalar_type(), torch::kFloat32);
  EXPECT_EQ(features.device(), torch::Device(torch::kCPU));
  EXPECT_EQ(features.sizes().vec(), (std::vector<int64_t>{3, kVgg16FeatureWidth}));
  EXPECT_TRUE(torch::allclose(features, channel_means_tiled(rgb, kVgg16FeatureWidth)));
  // Grayscale is repeated to three channels, as StyleGAN2-ADA's metric_utils does.
  const auto gray = torch::randint(0, 256, {2, 5, 6, 1}, torch::kUInt8);
  EXPECT_TRUE(torch::allclose(detector.run(gray), channel_means_tiled(gray, kVgg16FeatureWidth)));

  const auto meta = detector.describe();
  EXPECT_EQ(meta.at("detector"), "vgg16-torchscript");
  EXPECT_EQ(meta.at("weights"), path);
  EXPECT_EQ(meta.at("weights_sha256"), file_digest_hex(Digest::Kind::sha256, path));
  EXPECT_EQ(make_vgg16_detector(Vgg16DetectorOptions().weights(path))->describe(), meta);

  const auto message = test::input_error_message([&] { detector.run(torch::zeros({1, 4, 4, 3}, torch::kFloat32)); });
  EXPECT_TRUE(contains(message, "uint8")) << message;
  EXPECT_TRUE(contains(test::input_error_message([&] { detector.run(torch::zeros({1, 4, 4, 2}, torch::kUInt8)); }),
                       "(N, H, W, 1 or 3)"));
}

TEST(Vgg16Detector, BadFilesGiveOneLineErrorsNamingTheFile) {
  test::TempDir dir;
  const auto missing = dir.file("absent.pt");
  auto message = test::input_error_message([&] { make_vgg16_detector(Vgg16DetectorOptions().weights(missing)); });
  EXPECT_EQ(message.rfind("--vgg16 " + missing + ": no such file", 0), 0u) << message;
  EXPECT_TRUE(contains(message, kVgg16Url)) << message;

  const auto text = dir.file("vgg16.pt");
  test::write_text(text, "not a TorchScript archive\n");
  message = test::input_error_message([&] { make_vgg16_detector(Vgg16DetectorOptions().weights(text)); });
  EXPECT_EQ(message.rfind("--vgg16 " + text + ": not a loadable TorchScript VGG16", 0), 0u) << message;
  EXPECT_FALSE(contains(message, "\n")) << message;

  // StyleGAN3's name for the file: the message says how to convert it.
  const auto pickle = dir.file("vgg16.pkl");
  test::write_text(pickle, "\x80\x04 not really a pickle either");
  message = test::input_error_message([&] { make_vgg16_detector(Vgg16DetectorOptions().weights(pickle)); });
  EXPECT_TRUE(contains(message, "scripts/convert-edm-detector")) << message;

  const auto narrow = write_torchscript(dir, "narrow.pt", R"(
    def forward(self, img, return_features: bool = False):
        return img.float().mean(dim=[2, 3]).repeat([1, 683])[:, :2048]
  )");
  Vgg16Detector narrow_detector(Vgg16DetectorOptions().weights(narrow));
  message = test::input_error_message([&] { narrow_detector.run(torch::zeros({2, 8, 8, 3}, torch::kUInt8)); });
  EXPECT_EQ(message, narrow + ": the VGG16 detector returned features of shape [2, 2048], expected [2, 4096]");

  // A module without NVIDIA's return_features keyword is not the detector.
  const auto other = write_torchscript(dir, "other.pt", R"(
    def forward(self, img):
        return img.float().mean(dim=[2, 3]).repeat([1, 1366])[:, :4096]
  )");
  Vgg16Detector other_detector(Vgg16DetectorOptions().weights(other));
  message = test::input_error_message([&] { other_detector.run(torch::zeros({1, 8, 8, 3}, torch::kUInt8)); });
  EXPECT_EQ(message.rfind(other + ": the VGG16 detector failed on a batch of shape [1, 3, 8, 8]", 0), 0u) << message;
  EXPECT_FALSE(contains(message, "\n")) << message;
}

// Found by fuzz/fuzz_torchscript: torch::jit::load sizes a storage by the element count its pickle
// declares, so a 65535 x 65535 parameter over a 16-byte data record loads, and any use of it reads far
// out of bounds; and TorchScript code that does not compile escaped as torch::jit::ErrorReport, not
// c10::Error. Both detectors' loaders refuse such files with one line naming the file.
TEST(TorchScriptDetectors, MalformedModulesAreInputErrors) {
  const auto beyond = test::source_path("fuzz/regressions/torchscript/tensor_beyond_its_storage.pt");
  const std::string claim = ": a tensor storage declares 8589934588 bytes but the archive's data records hold at most ";
  const auto vgg16 = test::input_error_message([&] { make_vgg16_detector(Vgg16DetectorOptions().weights(beyond)); });
  EXPECT_EQ(vgg16.rfind("--vgg16 " + beyond + claim, 0), 0u) << vgg16;
  const auto inception = test::input_error_message([&] { make_detector(DetectorOptions().weights(beyond)); });
  EXPECT_EQ(inception.rfind(beyond + claim, 0), 0u) << inception;
  const auto bad_code = test::source_path("fuzz/regressions/torchscript/code_syntax_error.pt");
  const auto message = test::input_error_message([&] { make_detector(DetectorOptions().weights(bad_code)); });
  EXPECT_EQ(message.rfind(bad_code + ": not a loadable TorchScript detector", 0), 0u) << message;
}

// A valid module's archive at `dir`/`name` with its constants.pkl replaced by `pickle`; and that
// member's name (the archive's folder is named by the file in torch 1.13, "archive" in 2.x).
std::pair<std::string, std::string> fake_vgg16_with_constants(const test::TempDir& dir, const std::string& name,
                                                              const std::string& pickle) {
  const auto archive = write_torchscript(dir, name, kFakeVgg16);
  int error = 0;
  zip_t* zip = zip_open(archive.c_str(), 0, &error);
  EXPECT_NE(zip, nullptr) << error;
  for (zip_int64_t i = 0; zip != nullptr && i < zip_get_num_entries(zip, 0); ++i) {
    const std::string member = zip_get_name(zip, static_cast<zip_uint64_t>(i), 0);
    if (member.size() <= 14 || member.substr(member.size() - 14) != "/constants.pkl") continue;
    zip_source_t* source = zip_source_buffer(zip, pickle.data(), pickle.size(), 0);
    EXPECT_EQ(zip_file_replace(zip, static_cast<zip_uint64_t>(i), source, 0), 0);
    EXPECT_EQ(zip_close(zip), 0);
    return {archive, member};
  }
  ADD_FAILURE() << archive << " has no constants.pkl";
  return {archive, ""};
}

// Found by fuzz/fuzz_torchscript: torch::jit::load reserves a string's declared length before reading
// it, so a 41-byte data.pkl asked for 1.7 GB; and it reserves room for twice a declared memo index.
// The pickles are walked first (metrics/torchscript_pickles.h).
TEST(TorchScriptDetectors, PickleDeclaringMoreThanItHoldsIsRefusedBeforeLoading) {
  // The fuzzer's input also fails its member's CRC, which is checked as the member is read.
  const auto found = test::source_path("fuzz/regressions/torchscript/pickle_string_longer_than_its_pickle.pt");
  EXPECT_EQ(test::input_error_message([&] { make_detector(DetectorOptions().weights(found)); }),
            found + ": add_one/data.pkl: corrupted archive entry: CRC error");

  test::TempDir dir;
  // PROTO 2, BINUNICODE of 2^31-1 bytes followed by 4, STOP.
  const auto [long_string, member] = fake_vgg16_with_constants(dir, "long.pt", std::string("\x80\x02X\xff\xff\xff\x7f" "abc.", 11));
  const std::string claim = ": " + member + " in this TorchScript archive: a 2147483647-byte value of which 4 bytes "
                            "follow at byte 2 (the pickle holds 11 bytes); not loaded";
  EXPECT_EQ(test::input_error_message([&] { make_detector(DetectorOptions().weights(long_string)); }),
            long_string + claim);
  EXPECT_EQ(test::input_error_message([&] { make_vgg16_detector(Vgg16DetectorOptions().weights(long_string)); }),
            "--vgg16 " + long_string + claim);
  // PROTO 2, EMPTY_LIST, LONG_BINPUT 2^31-1, STOP.
  const auto [memo, memo_member] = fake_vgg16_with_constants(dir, "memo.pt", std::string("\x80\x02]r\xff\xff\xff\x7f.", 9));
  EXPECT_EQ(test::input_error_message([&] { make_detector(DetectorOptions().weights(memo)); }),
            memo + ": " + memo_member + " in this TorchScript archive: a memo index 2147483647 larger than the pickle "
                                        "at byte 3 (the pickle holds 9 bytes); not loaded");
  // The same archive with its own constants.pkl still loads.
  EXPECT_EQ(make_detector(DetectorOptions().weights(write_fake_vgg16(dir)))->describe().at("detector"), "torchscript");
}

TEST(Vgg16Detector, WeightsComeFromTheFlagElseTheEnvironment) {
  test::TempDir dir;
  const auto path = write_fake_vgg16(dir);
  {
    ScopedEnv env("CMBENCH_VGG16", std::nullopt);
    EXPECT_EQ(resolve_vgg16_weights("given.pt"), "given.pt");
    const auto message = test::input_error_message([] { resolve_vgg16_weights(""); });
    EXPECT_EQ(message, missing_vgg16_message());
    EXPECT_TRUE(contains(message, kVgg16Url)) << message;
    EXPECT_TRUE(contains(message, "--vgg16")) << message;
    EXPECT_TRUE(contains(message, "CMBENCH_VGG16")) << message;
    EXPECT_THROW(make_vgg16_detector(Vgg16DetectorOptions()), InputError);
  }
  {
    ScopedEnv env("CMBENCH_VGG16", "");  // set but empty counts as unset
    EXPECT_THROW(resolve_vgg16_weights(""), InputError);
  }
  {
    ScopedEnv env("CMBENCH_VGG16", path);
    EXPECT_EQ(resolve_vgg16_weights(""), path);
    EXPECT_EQ(resolve_vgg16_weights("given.pt"), "given.pt");  // the flag wins
    EXPECT_EQ(make_vgg16_detector(Vgg16DetectorOptions())->describe().at("weights"), path);
  }
  {
    ScopedEnv env("CMBENCH_VGG16", dir.file("absent.pt"));
    const auto message = test::input_error_message([] { make_vgg16_detector(Vgg16DetectorOptions()); });
    EXPECT_EQ(message.rfind("CMBENCH_VGG16=" + dir.file("absent.pt") + ": no such file", 0), 0u) << message;
  }
}

TEST(Vgg16Detector, ExtractionKeepsTheIndexOrder) {
  test::TempDir dir;
  Vgg16Detector detector(Vgg16DetectorOptions().weights(write_fake_vgg16(dir)));
  const auto images = torch::randint(0, 256, {7, 6, 5, 3}, torch::kUInt8);
  const TensorImages source(images);
  const auto all = channel_means_tiled(images, kVgg16FeatureWidth);
  const std::vector<std::vector<int64_t>> selections{{0, 1, 2, 3, 4, 5, 6}, {5, 0, 3, 6, 1}, {4}};
  for (const auto& indices : selections) {
    for (const int64_t batch : {1, 2, 64}) {
      const auto features = extract_vgg16_features(source, indices, detector, batch);
      const std::vector<int64_t> shape{static_cast<int64_t>(indices.size()), kVgg16FeatureWidth};
      ASSERT_EQ(features.sizes().vec(), shape);
      EXPECT_TRUE(torch::allclose(features, all.index_select(0, torch::tensor(indices)))) << "batch " << batch;
    }
  }
  EXPECT_THROW(extract_vgg16_features(source, {}, detector, 2), InputError);
  EXPECT_THROW(extract_vgg16_features(source, {0, 1}, detector, 0), InputError);
}

// Two Gloo ranks (two threads meeting on 127.0.0.1): batch k on rank k mod 2, the rows gathered in index
// order on both ranks, equal to the one-process features.
TEST(Vgg16Detector, TwoRanksShareTheBatches) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  test::TempDir dir;
  const auto path = write_fake_vgg16(dir);
  const auto images = torch::randint(0, 256, {9, 6, 5, 3}, torch::kUInt8);
  const TensorImages source(images);
  const std::vector<int64_t> indices{8, 1, 2, 4, 0, 7, 3};
  Vgg16Detector single(Vgg16DetectorOptions().weights(path));
  const auto want = extract_vgg16_features(source, indices, single, 2);
  const int port = free_local_port();
  std::vector<std::future<torch::Tensor>> ranks;
  for (int64_t r = 0; r < 2; ++r) {
    ranks.push_back(std::async(std::launch::async, [&, r] {
      LaunchEnv env;
      env.launcher = Launcher::torchrun;
      env.rank = env.local_rank = r;
      env.world_size = 2;
      env.master_addr = "127.0.0.1";
      env.port = port;
      ProcessGroupOptions options;
      options.timeout = std::chrono::seconds(60);
      auto group = open_process_group(env, options);
      Vgg16Detector detector(Vgg16DetectorOptions().weights(path));
      return extract_vgg16_features(source, indices, detector, 2, group.get());
    }));
  }
  for (auto& rank : ranks) EXPECT_TRUE(torch::equal(rank.get(), want));
}

// ---- scripts/convert-edm-detector ----

const std::string& python_with_torch() {
  static const std::string found = test::python_importing("torch");
  return found;
}

const std::string& any_python() {
  static const std::string found = test::python_importing("");
  return found;
}

std::string convert_command(const std::string& python, const std::string& args) {
  const auto script = test::source_path("scripts/convert-edm-detector");
  return test::shell_quoted(python) + " " + test::shell_quoted(script) + " " + args;
}

// Our own fake of EDM's detector pickle: a scripted module with the Inception detector's calling
// convention (features: channel means tiled to 2048; an `output` layer of 1008 x 2048), pickled so that
// unpickling rebuilds it with torch.jit.load (a ScriptModule itself cannot be pickled). Also a pickle
// of a plain torch.nn.Linear, which holds no TorchScript module.
const char* const kMakeFakePickles = R"(
import io, pickle, sys
import torch

class FakeInception(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.output = torch.nn.Linear(2048, 1008, bias=False)
        with torch.no_grad():
            self.output.weight.copy_(torch.linspace(-1, 1, 1008 * 2048).view(1008, 2048))

    def forward(self, img, return_features: bool = False):
        features = img.float().mean(dim=[2, 3]).repeat([1, 683])[:, :2048]
        if return_features:
            return features
        return torch.softmax(self.output(features), dim=1)

class RebuiltByJitLoad:
    def __init__(self, data):
        self.data = data

    def __reduce__(self):
        return (torch.jit.load, (io.BytesIO(self.data),))

buffer = io.BytesIO()
torch.jit.save(torch.jit.script(FakeInception().eval()), buffer)
with open(sys.argv[1], "wb") as f:
    pickle.dump(RebuiltByJitLoad(buffer.getvalue()), f)
with open(sys.argv[2], "wb") as f:
    pickle.dump(torch.nn.Linear(2, 2), f)
)";

TEST(EdmDetectorConverter, PickledTorchScriptBecomesALoadableDetector) {
  const auto& python = python_with_torch();
  if (python.empty()) GTEST_SKIP() << "no python3 with torch (python3 -c 'import torch' fails; Debian: python3-torch)";
  test::TempDir dir;
  const auto maker = dir.file("make_fake_pickles.py");
  test::write_text(maker, kMakeFakePickles);
  const auto pickle = dir.file("inception-2015-12-05.pkl"), linear = dir.file("linear.pkl");
  const auto made = test::run_shell(test::shell_quoted(python) + " " + test::shell_quoted(maker) + " " + test::shell_quoted(pickle) + " " + test::shell_quoted(linear));
  ASSERT_EQ(made.exit_code, 0) << made.output;

  const auto pt = dir.file("inception-2015-12-05.pt");
  const auto converted = test::run_shell(convert_command(python, test::shell_quoted(pickle) + " " + test::shell_quoted(pt)));
  ASSERT_EQ(converted.exit_code, 0) << converted.output;
  EXPECT_TRUE(contains(converted.output, "2048 features")) << converted.output;
  EXPECT_FALSE(std::filesystem::exists(pt + ".tmp"));

  auto detector = make_detector(DetectorOptions().weights(pt));
  EXPECT_EQ(detector->describe().at("detector"), "torchscript");
  const auto images = torch::randint(0, 256, {3, 9, 7, 3}, torch::kUInt8);
  const auto out = detector->run(images, true);
  const auto want = channel_means_tiled(images, 2048);
  EXPECT_TRUE(torch::allclose(out.pool3, want));
  const auto weight = torch::linspace(-1, 1, 1008 * 2048, torch::kFloat32).view({1008, 2048});
  EXPECT_TRUE(torch::allclose(out.logits_unbiased, torch::matmul(want, weight.t()), 1e-5, 1e-3));

  // Refused, one line each: a pickle of no TorchScript module, a .pt that needs no conversion, no file.
  const auto refused = test::run_shell(convert_command(python, test::shell_quoted(linear) + " " + test::shell_quoted(dir.file("linear.pt"))));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(contains(refused.output, "torch.nn.modules.linear.Linear, not a TorchScript module")) << refused.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("linear.pt")));
  const auto zip = test::run_shell(convert_command(python, test::shell_quoted(pt) + " " + test::shell_quoted(dir.file("again.pt"))));
  EXPECT_EQ(zip.exit_code, 2) << zip.output;
  EXPECT_TRUE(contains(zip.output, "needs no conversion")) << zip.output;
  const auto absent = test::run_shell(convert_command(python, test::shell_quoted(dir.file("absent.pkl")) + " " + test::shell_quoted(pt)));
  EXPECT_EQ(absent.exit_code, 2) << absent.output;
  EXPECT_TRUE(contains(absent.output, "absent.pkl: no such file")) << absent.output;
}

// Runs wherever a python3 is, torch or not: a `torch` package that fails to import is put first on the
// path, as on a machine without PyTorch; --help still works, a conversion says what to install.
TEST(EdmDetectorConverter, SaysWhatToInstallWithoutTorch) {
  const auto& python = any_python();
  if (python.empty()) GTEST_SKIP() << "no python3";
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("shadow/torch"));
  test::write_text(dir.file("shadow/torch/__init__.py"), "raise ImportError('hidden by the test')\n");
  const std::string env = "PYTHONPATH=" + test::shell_quoted(dir.file("shadow")) + " ";
  const auto help = test::run_shell(env + convert_command(python, "--help"));
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_TRUE(contains(help.output, "usage: convert-edm-detector")) << help.output;
  EXPECT_TRUE(contains(help.output, "inception-2015-12-05.pkl")) << help.output;
  test::write_text(dir.file("in.pkl"), "a pickle would be read after torch is imported\n");
  const auto convert =
      test::run_shell(env + convert_command(python, test::shell_quoted(dir.file("in.pkl")) + " " + test::shell_quoted(dir.file("out.pt"))));
  EXPECT_EQ(convert.exit_code, 2) << convert.output;
  EXPECT_TRUE(contains(convert.output, "needs PyTorch")) << convert.output;
  EXPECT_TRUE(contains(convert.output, "python3-torch")) << convert.output;
}

}  // namespace
}  // namespace cmbench
