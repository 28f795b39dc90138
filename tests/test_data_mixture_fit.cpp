// Fitting a ground-truth mixture (data/mixture_fit.h): block averages, k-means, and the PCA of each
// cluster against the mixture the points were drawn from.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/gaussian_mixture.h"
#include "core/rng.h"
#include "data/mixture_fit.h"
#include "test_util.h"

namespace cmbench {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// 4x6 images to 2x2: blocks of 2 rows by 3 columns.
TEST(DataMixtureFit, BoxDownsampleOfWideImages) {
  const auto images = torch::arange(4 * 6, kF64).reshape({1, 1, 4, 6});
  const auto small = box_downsample(images, 2);
  const auto want = torch::tensor({(0 + 1 + 2 + 6 + 7 + 8) / 6.0, (3 + 4 + 5 + 9 + 10 + 11) / 6.0,
                                   (12 + 13 + 14 + 18 + 19 + 20) / 6.0, (15 + 16 + 17 + 21 + 22 + 23) / 6.0},
                                  kF64)
                        .reshape({1, 1, 2, 2});
  EXPECT_TRUE(torch::allclose(small, want, 0, 1e-14));
  EXPECT_EQ(test::input_error_message([&] { box_downsample(images, 4); }),
            "--resolution 4: must divide the images' size 6x4");
}

TEST(DataMixtureFit, BoxDownsampleOfSquareImages) {
  const auto images = torch::arange(2 * 3 * 4 * 4, kF64).reshape({2, 3, 4, 4});
  const auto small = box_downsample(images, 2);
  ASSERT_EQ(small.sizes(), (std::vector<int64_t>{2, 3, 2, 2}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 2; ++j) {
          double sum = 0;
          for (int64_t a = 0; a < 2; ++a)
            for (int64_t b = 0; b < 2; ++b) sum += images[n][c][2 * i + a][2 * j + b].item<double>();
          EXPECT_EQ(small[n][c][i][j].item<double>(), sum / 4);
        }
  EXPECT_TRUE(torch::equal(box_downsample(images, 4), images));
  EXPECT_EQ(test::input_error_message([&] { box_downsample(images, 3); }),
            "--resolution 3: must divide the images' size 4x4");
  EXPECT_EQ(test::input_error_message([&] { box_downsample(images, 0); }),
            "--resolution 0: must divide the images' size 4x4");
}

// Three tight blobs far apart: k-means finds them whatever the draws, and the same seed gives the
// same centers and assignment bit for bit.
TEST(DataMixtureFit, KMeansSeparatesBlobsDeterministically) {
  auto g = make_generator(3, "test");
  const auto centers = torch::tensor({{-5.0, 0.0}, {5.0, 0.0}, {0.0, 8.0}}, kF64);
  const auto labels = torch::arange(300, torch::kInt64).remainder(3);
  const auto points = centers.index_select(0, labels) + 0.1 * torch::randn({300, 2}, g, kF64);
  KMeansOptions o;
  o.clusters = 3;
  o.seed = 7;
  int64_t reported = 0;
  o.on_iteration = [&](int64_t iteration, int64_t, double) { reported = iteration; };
  const auto a = kmeans(points, o);
  EXPECT_TRUE(a.converged);
  EXPECT_EQ(reported, a.iterations);
  for (int64_t blob = 0; blob < 3; ++blob) {
    const auto members = a.assignment.index_select(0, (labels == blob).nonzero().squeeze(1));
    EXPECT_TRUE((members == members[0]).all().item<bool>()) << "blob " << blob << " split";
    EXPECT_LT((a.centers[members[0].item<int64_t>()] - centers[blob]).abs().max().item<double>(), 0.05);
  }
  const auto b = kmeans(points, o);
  EXPECT_TRUE(torch::equal(a.centers, b.centers));
  EXPECT_TRUE(torch::equal(a.assignment, b.assignment));
  o.clusters = 301;
  EXPECT_EQ(test::input_error_message([&] { kmeans(points, o); }), "k-means: 300 points for 301 clusters");
  o.clusters = 2;
  EXPECT_EQ(test::input_error_message([&] { kmeans(torch::zeros({5, 2}, kF64), o); }),
            "k-means: fewer than 2 distinct points for 2 clusters");
}

// One low-rank component: the fit's factors span the true ones, its factor variances are the true
// lambda and its noise variance the true s^2. Tolerances are statistical: with n draws a variance
// estimate has a relative standard error of about sqrt(2 / n) (1.4% at n = 10000; 5 of them allowed),
// the noise variance averages D - Q such estimates.
TEST(DataMixtureFit, PcaOfAClusterRecoversTheLowRankComponent) {
  const int64_t d = 12, n = 10000;
  auto q = std::get<0>(torch::linalg_qr(torch::randn({d, 2}, make_generator(1, "test"), kF64)));
  GaussianMixtureParts truth;
  truth.shape = {3, 2, 2};
  truth.weights = torch::ones({1}, kF64);
  truth.means = torch::linspace(-0.5, 0.5, d, kF64).unsqueeze(0);
  truth.noise_variances = torch::tensor({0.01}, kF64);
  truth.factors = q.unsqueeze(0);
  truth.factor_variances = torch::tensor({{0.5, 0.2}}, kF64);
  const GaussianMixture mixture(truth, "truth");
  const auto images = mixture.sample(n, make_generator(2, "test"));
  MixtureFitOptions o;
  o.kmeans.clusters = 1;
  o.rank = 2;
  o.min_variance = 1e-6;
  const auto fit = fit_gaussian_mixture(images, o);
  const auto& p = fit.mixture.parts();
  EXPECT_EQ(fit.mixture.shape(), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_DOUBLE_EQ(p.weights[0].item<double>(), 1.0);
  EXPECT_TRUE(torch::equal(p.means[0], images.reshape({n, d}).mean(0)));
  EXPECT_NEAR(p.noise_variances[0].item<double>(), 0.01, 0.01 * 5 * std::sqrt(2.0 / n));
  // Along factor j the variance is lambda_j + s^2; the fit's factor variance is that less its s^2.
  EXPECT_NEAR(p.factor_variances[0][0].item<double>(), 0.5, 0.51 * 5 * std::sqrt(2.0 / n));
  EXPECT_NEAR(p.factor_variances[0][1].item<double>(), 0.2, 0.21 * 5 * std::sqrt(2.0 / n));
  // The fitted directions span the true ones: |U^T U_fit|_F^2 = 2 for equal subspaces.
  EXPECT_NEAR(p.factors[0].t().matmul(q).square().sum().item<double>(), 2.0, 1e-2);
  // Each factor's largest-magnitude entry is positive (independent of the eigensolver's signs).
  for (int64_t j = 0; j < 2; ++j) {
    const auto column = p.factors[0].select(1, j);
    EXPECT_GT(column[column.abs().argmax().item<int64_t>()].item<double>(), 0.0);
  }
}

TEST(DataMixtureFit, NoiseVarianceIsFlooredAndRankZeroIsIsotropic) {
  const auto images = torch::randn({500, 1, 2, 2}, make_generator(4, "test"), kF64) * 0.01;  // variance 1e-4
  MixtureFitOptions o;
  o.kmeans.clusters = 1;
  o.rank = 0;
  o.min_variance = 1e-3;
  const auto fit = fit_gaussian_mixture(images, o);
  EXPECT_EQ(fit.mixture.rank(), 0);
  EXPECT_DOUBLE_EQ(fit.mixture.parts().noise_variances[0].item<double>(), 1e-3);
}

TEST(DataMixtureFit, BadOptionsAreInputErrors) {
  const auto images = torch::randn({50, 1, 2, 2}, make_generator(5, "test"), kF64);
  MixtureFitOptions o;
  o.kmeans.clusters = 2;
  o.rank = 4;
  EXPECT_EQ(test::input_error_message([&] { fit_gaussian_mixture(images, o); }), "--rank 4: must be in 0..3 (below C*H*W)");
  o.rank = 1;
  o.min_variance = 0;
  EXPECT_EQ(test::input_error_message([&] { fit_gaussian_mixture(images, o); }), "--min-variance 0: must be > 0");
  o.min_variance = 1e-3;
  o.kmeans.iterations = 0;
  EXPECT_EQ(test::input_error_message([&] { fit_gaussian_mixture(images, o); }), "k-means: iterations must be > 0, got 0");
}

}  // namespace
}  // namespace cmbench
