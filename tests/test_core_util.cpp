#include <gtest/gtest.h>

#include <cstdio>

#include "core/device.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/registry.h"
#include "core/torch_compat.h"
#include "test_util.h"

using namespace cmbench;

TEST(Digest, KnownValues) {
  EXPECT_EQ(digest_hex(Digest::Kind::md5, "abc", 3), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(digest_hex(Digest::Kind::sha256, "abc", 3),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest_hex(Digest::Kind::sha1, "abc", 3), "a9993e364706816aba3e25717850c26c9cd0d89d");
  test::TempDir dir;
  test::write_text(dir.file("f"), "abc");
  EXPECT_EQ(file_digest_hex(Digest::Kind::md5, dir.file("f")), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_THROW(file_digest_hex(Digest::Kind::md5, dir.file("missing")), InputError);
  Digest streaming(Digest::Kind::sha256);
  streaming.update("a", 1);
  streaming.update("bc", 2);
  EXPECT_EQ(streaming.hex(), digest_hex(Digest::Kind::sha256, "abc", 3));
}

namespace {
struct Shape {
  virtual ~Shape() = default;
  virtual double area() const = 0;
};
struct Square : Shape {
  explicit Square(double s) : side(s) {}
  double area() const override { return side * side; }
  double side;
};
}  // namespace

TEST(Registry, CreatesByNameAndListsKnownNames) {
  Registry<Shape, double> shapes("shape");
  shapes.add("square", [](double s) { return std::make_unique<Square>(s); }, "a square");
  EXPECT_TRUE(shapes.contains("square"));
  EXPECT_DOUBLE_EQ(shapes.create("square", 3.0)->area(), 9.0);
  EXPECT_EQ(shapes.description("square"), "a square");
  try {
    shapes.create("circle", 1.0);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "unknown shape 'circle' (known: square)");
  }
  EXPECT_THROW(shapes.add("square", [](double s) { return std::make_unique<Square>(s); }), std::logic_error);
}

TEST(Progress, PlainLinesWhenNotATerminal) {
  std::FILE* out = std::tmpfile();
  {
    ProgressBar bar("features", 10, "img");
    bar.set_output(out, /*terminal=*/false, /*plain_interval_s=*/0.0);
    bar.advance(4);
    bar.set_status("loss 0.5");
    bar.advance(6);
  }
  std::rewind(out);
  char buffer[4096] = {};
  const size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, out);
  std::fclose(out);
  const std::string text(buffer, n);
  EXPECT_NE(text.find("features 4/10 img (40%)"), std::string::npos) << text;
  EXPECT_NE(text.find("features 10/10 img (100%)"), std::string::npos) << text;
  EXPECT_NE(text.find("loss 0.5"), std::string::npos);
  EXPECT_NE(text.find("eta"), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos);  // no terminal redraws in logs
}

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(0), "00:00");
  EXPECT_EQ(format_duration(125), "02:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "--:--");
}

namespace cmbench {
namespace {

// A CUDA request the build or machine cannot serve is one InputError line saying which it is.
TEST(Device, CudaRequestsWithoutCudaSayWhy) {
  EXPECT_EQ(resolve_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_NE(test::input_error_message([] { resolve_device("gpu"); }).find("expected cpu, cuda, cuda:N or auto"),
            std::string::npos);
  if (torch::cuda::is_available()) {
    const auto count = torch::cuda::device_count();
    const auto message = test::input_error_message([&] { resolve_device("cuda:" + std::to_string(count)); });
    EXPECT_NE(message.find("CUDA device"), std::string::npos) << message;
    return;
  }
  EXPECT_EQ(resolve_device("auto"), torch::Device(torch::kCPU));
  for (const std::string name : {"cuda", "cuda:0", "cuda:3"}) {
    const auto message = test::input_error_message([&] { resolve_device(name); });
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    if (compat::built_with_cuda()) {
      EXPECT_NE(message.find("has CUDA but sees no GPU"), std::string::npos) << message;
    } else {
      EXPECT_NE(message.find("CPU-only LibTorch " + compat::torch_version()), std::string::npos) << message;
    }
  }
}

}  // namespace
}  // namespace cmbench
