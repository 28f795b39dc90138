// `cmbench net info` against EDM's reference tensor list.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace cmbench {
namespace {

TEST(NetsCli, InfoJsonMatchesEdmDdpmpp) {
  const auto r = test::run_cli({"net", "info", "--preset", "cifar10-ddpmpp", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto got = nlohmann::json::parse(r.out);
  std::ifstream in(test::vector_path("edm_networks.json"));
  const auto want = nlohmann::json::parse(in).at("ddpmpp_cifar10_uncond");
  EXPECT_EQ(got.at("params").get<int64_t>(), 55732739);
  EXPECT_EQ(got.at("params"), want.at("params"));
  EXPECT_EQ(got.at("tensors"), want.at("tensors"));
  EXPECT_EQ(got.at("net").at("model_channels").get<int64_t>(), 128);
}

TEST(NetsCli, InfoWithOverridesAndErrors) {
  auto r = test::run_cli({"net", "info", "--preset", "cifar10-ddpmpp-tiny", "--set", "net.augment_dim=9", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto got = nlohmann::json::parse(r.out);
  EXPECT_EQ(got.at("net").at("augment_dim").get<int64_t>(), 9);
  bool has_augment = false;
  for (const auto& t : got.at("tensors")) has_augment |= t[0] == "map_augment.weight";
  EXPECT_TRUE(has_augment);

  r = test::run_cli({"net", "info", "--preset", "imagenet64-edm2-xl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1119276837"), std::string::npos) << r.out;

  r = test::run_cli({"net", "info", "--preset", "no-such-net"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no-such-net"), std::string::npos) << r.err;
  r = test::run_cli({"net", "info", "--preset", "cifar10-ddpmpp", "--set", "net.bogus=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bogus"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cmbench
