// `cmbench frechet` against scipy's sqrtm (frechet_d64/d256.npz) and the closed forms, each case
// written into two temporary {mu, sigma} files and run through the program.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/npy.h"
#include "test_util.h"

using namespace cmbench;

namespace {

constexpr double kTolerance = 1e-9;  // VECTORS.md: relative error per value

void write_stats(const std::string& path, const NpyArray& mu, const NpyArray& sigma) {
  NpzMap arrays;
  arrays["mu"] = mu;
  arrays["sigma"] = sigma;
  write_npz(path, arrays);
}

NpyArray from_json_vector(const nlohmann::json& values) {
  std::vector<double> flat;
  std::vector<int64_t> shape = {static_cast<int64_t>(values.size())};
  for (const auto& v : values) {
    if (v.is_array()) {
      if (shape.size() == 1) shape.push_back(static_cast<int64_t>(v.size()));
      for (const auto& x : v) flat.push_back(x.get<double>());
    } else {
      flat.push_back(v.get<double>());
    }
  }
  return NpyArray::from<double>(shape, flat.data());
}

double run_frechet(const std::string& a, const std::string& b) {
  const auto result = test::run_cli({"frechet", a, b, "--json"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return nlohmann::json::parse(result.out).at("fd").get<double>();
}

void check_file(const std::string& name) {
  const auto arrays = read_npz(test::vector_path(name));
  test::TempDir dir;
  write_stats(dir.file("a.npz"), arrays.at("mu1"), arrays.at("sigma1"));
  write_stats(dir.file("b.npz"), arrays.at("mu2"), arrays.at("sigma2"));
  const double want = arrays.at("fid").to_doubles().at(0);
  const double got = run_frechet(dir.file("a.npz"), dir.file("b.npz"));
  EXPECT_LE(std::abs(got - want) / std::abs(want), kTolerance) << name << ": got " << got << " want " << want;
}

}  // namespace

TEST(CliFrechet, MatchesScipyD64) { check_file("frechet_d64.npz"); }
TEST(CliFrechet, MatchesScipyD256) { check_file("frechet_d256.npz"); }

TEST(CliFrechet, MatchesClosedForms) {
  std::ifstream in(test::vector_path("closed_forms.json"));
  const auto vectors = nlohmann::json::parse(in);
  test::TempDir dir;
  int index = 0;
  for (const auto& c : vectors.at("cases")) {
    const auto a = dir.file(fmt::format("a{}.npz", index));
    const auto b = dir.file(fmt::format("b{}.npz", index));
    write_stats(a, from_json_vector(c.at("mu1")), from_json_vector(c.at("sigma1")));
    write_stats(b, from_json_vector(c.at("mu2")), from_json_vector(c.at("sigma2")));
    const double want = c.at("fid").get<double>();
    const double got = run_frechet(a, b);
    EXPECT_LE(std::abs(got - want) / std::abs(want), kTolerance) << "case " << index << ": got " << got;
    ++index;
  }
  EXPECT_EQ(index, 3);
}

TEST(CliFrechet, IdenticalInputsGiveZero) {
  const auto arrays = read_npz(test::vector_path("frechet_d64.npz"));
  test::TempDir dir;
  write_stats(dir.file("a.npz"), arrays.at("mu1"), arrays.at("sigma1"));
  EXPECT_LE(std::abs(run_frechet(dir.file("a.npz"), dir.file("a.npz"))), 1e-8);
}

TEST(CliFrechet, HumanReadableOutput) {
  const auto arrays = read_npz(test::vector_path("frechet_d64.npz"));
  test::TempDir dir;
  write_stats(dir.file("a.npz"), arrays.at("mu1"), arrays.at("sigma1"));
  const auto result = test::run_cli({"frechet", dir.file("a.npz"), dir.file("a.npz")});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("Fréchet distance"), std::string::npos) << result.out;
}

TEST(CliFrechet, BadInputsExit2NamingTheFile) {
  test::TempDir dir;
  const auto arrays = read_npz(test::vector_path("frechet_d64.npz"));
  write_stats(dir.file("good.npz"), arrays.at("mu1"), arrays.at("sigma1"));

  auto missing = test::run_cli({"frechet", dir.file("good.npz"), dir.file("missing.npz")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find(dir.file("missing.npz")), std::string::npos) << missing.err;

  NpzMap only_mu;
  only_mu["mu"] = arrays.at("mu1");
  write_npz(dir.file("only_mu.npz"), only_mu);
  auto no_sigma = test::run_cli({"frechet", dir.file("good.npz"), dir.file("only_mu.npz")});
  EXPECT_EQ(no_sigma.exit_code, 2);
  EXPECT_NE(no_sigma.err.find(dir.file("only_mu.npz") + ": not a statistics file: missing array 'sigma'"),
            std::string::npos)
      << no_sigma.err;

  const auto d256 = read_npz(test::vector_path("frechet_d256.npz"));
  write_stats(dir.file("d256.npz"), d256.at("mu1"), d256.at("sigma1"));
  auto mismatch = test::run_cli({"frechet", dir.file("good.npz"), dir.file("d256.npz")});
  EXPECT_EQ(mismatch.exit_code, 2);
  EXPECT_NE(mismatch.err.find("feature dimension 256 differs from 64"), std::string::npos) << mismatch.err;

  write_stats(dir.file("bad_shape.npz"), arrays.at("mu1"), d256.at("sigma1"));
  auto bad_shape = test::run_cli({"frechet", dir.file("good.npz"), dir.file("bad_shape.npz")});
  EXPECT_EQ(bad_shape.exit_code, 2);
  EXPECT_NE(bad_shape.err.find("'sigma' must have shape (64, 64) to match 'mu', found (256, 256)"), std::string::npos)
      << bad_shape.err;

  test::write_text(dir.file("text.npz"), "plain text");
  auto not_zip = test::run_cli({"frechet", dir.file("text.npz"), dir.file("good.npz")});
  EXPECT_EQ(not_zip.exit_code, 2);
  EXPECT_NE(not_zip.err.find(dir.file("text.npz")), std::string::npos);
}
