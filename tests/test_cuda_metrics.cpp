// The FID path on a CUDA device: the detector turns TF32 off for cuBLAS and cuDNN (float32 products
// and convolutions then match the CPU to float32 precision), and the native Inception with
// synthetic weights gives the CPU's features.
#include <gtest/gtest.h>

#include <cstdio>

#include "metrics/detector.h"
#include "test_cuda_util.h"

namespace cmbench {
namespace {

TEST(CudaMetrics, FidDetectorTurnsTf32OffForCublasAndCudnn) {
  CMBENCH_REQUIRE_CUDA();
  test::Tf32FlagsRestorer restore;
  at::globalContext().setAllowTF32CuBLAS(true);
  at::globalContext().setAllowTF32CuDNN(true);
  const auto detector = make_detector(DetectorOptions().weights("synthetic:0").device("cuda"));
  EXPECT_FALSE(at::globalContext().allowTF32CuBLAS());
  EXPECT_FALSE(at::globalContext().allowTF32CuDNN());

  // Against float64 on the CPU, normwise: float32 gives 2.1e-7 for both (sums of 1024 and 576
  // products), TF32 (inputs rounded to 10 mantissa bits, emulated on the CPU) 2.9e-4; the bound sits
  // between.
  auto g = compat::make_cpu_generator(3);
  const auto a = torch::randn({512, 1024}, g, torch::kFloat32), b = torch::randn({1024, 512}, g, torch::kFloat32);
  const auto product = torch::matmul(a.to(torch::kFloat64), b.to(torch::kFloat64));
  const auto device = test::cuda_device();
  const double cublas = test::normwise_error(torch::matmul(a.to(device), b.to(device)), product);
  std::printf("measured cublas_matmul_error %.3g\n", cublas);
  EXPECT_LE(cublas, 1e-5) << "cuBLAS matmul";
  EXPECT_LE(test::normwise_error(torch::matmul(a, b), product), 1e-5) << "CPU matmul";

  const auto x = torch::randn({8, 64, 32, 32}, g, torch::kFloat32), w = torch::randn({64, 64, 3, 3}, g, torch::kFloat32);
  const auto conv64 = torch::conv2d(x.to(torch::kFloat64), w.to(torch::kFloat64), {}, 1, 1);
  const double cudnn = test::normwise_error(torch::conv2d(x.to(device), w.to(device), {}, 1, 1), conv64);
  std::printf("measured cudnn_conv_error %.3g\n", cudnn);
  EXPECT_LE(cudnn, 1e-5) << "cuDNN conv";
  EXPECT_LE(test::normwise_error(torch::conv2d(x, w, {}, 1, 1), conv64), 1e-5) << "CPU conv";
}

// Tolerance 1e-4 of the largest value, the bound the CPU implementation meets against pytorch-fid's
// float32 outputs (VECTORS.md); the CPU's own kernels for other instruction sets move pool3 by at
// most 8.5e-7 of it. TF32 rounding through the 94 convolutions, or weights left on the CPU (an
// error), would not pass.
TEST(CudaMetrics, NativeInceptionOnCudaMatchesCpuFeatures) {
  CMBENCH_REQUIRE_CUDA();
  test::Tf32FlagsRestorer restore;
  auto g = compat::make_cpu_generator(8);
  const auto small = torch::randint(0, 256, {6, 32, 32, 3}, g, torch::kInt64).to(torch::kUInt8);
  const auto large = torch::randint(0, 256, {2, 64, 64, 3}, g, torch::kInt64).to(torch::kUInt8);
  for (const std::string mode : {"tf", "pytorch"}) {
    const auto options = DetectorOptions().weights("synthetic:0").mode(mode);
    auto cpu = make_detector(DetectorOptions(options).device("cpu"));
    auto gpu = make_detector(DetectorOptions(options).device("cuda"));
    for (const auto& images : {small, large}) {
      const auto want = cpu->run(images, true);
      const auto got = gpu->run(images, true);
      ASSERT_EQ(got.pool3.sizes(), want.pool3.sizes());
      EXPECT_TRUE(got.pool3.device().is_cpu());
      const double pool3 = test::max_relative_error(got.pool3, want.pool3);
      const double logits = test::max_relative_error(got.logits_unbiased, want.logits_unbiased);
      std::printf("measured inception %s %lldx%lld pool3_error %.3g logits_error %.3g\n", mode.c_str(),
                  static_cast<long long>(images.size(1)), static_cast<long long>(images.size(2)), pool3, logits);
      EXPECT_LE(pool3, 1e-4) << mode << " pool3 " << images.sizes();
      EXPECT_LE(logits, 1e-4) << mode << " logits " << images.sizes();
    }
  }
}

}  // namespace
}  // namespace cmbench
