// Every state-dict tensor name, shape and order, and the parameter counts, against EDM's reference
// networks (../shared/vectors/edm_networks.json). Built on the meta device: no weights allocated.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "nets/factory.h"
#include "test_util.h"

namespace cmbench {
namespace {

nlohmann::json reference(const std::string& key) {
  std::ifstream in(test::vector_path("edm_networks.json"));
  return nlohmann::json::parse(in).at(key);
}

DenoiserPtr shapes_only(const std::string& preset) {
  auto net = Config();
  net.set("preset=\"" + preset + "\"");
  NetworkOptions options;
  options.shapes_only = true;
  return make_network(net, {}, options);
}

void expect_same_tensors(const std::string& preset, const std::string& key) {
  auto net = shapes_only(preset);
  const auto want = reference(key);
  EXPECT_EQ(net->parameter_count(), want.at("params").get<int64_t>()) << preset;
  const auto got = net->state();
  const auto& tensors = want.at("tensors");
  ASSERT_EQ(got.size(), tensors.size()) << preset;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].first, tensors[i][0].get<std::string>()) << preset << " tensor " << i;
    EXPECT_EQ(got[i].second.sizes().vec(), tensors[i][1].get<std::vector<int64_t>>()) << got[i].first;
  }
}

TEST(NetsArchitectures, DdpmppCifar10MatchesEdm) { expect_same_tensors("cifar10-ddpmpp", "ddpmpp_cifar10_uncond"); }
TEST(NetsArchitectures, DdpmppAug9MatchesEdm) {
  expect_same_tensors("cifar10-ddpmpp-aug9", "ddpmpp_cifar10_uncond_aug9");
}
TEST(NetsArchitectures, NcsnppCifar10MatchesEdm) { expect_same_tensors("cifar10-ncsnpp", "ncsnpp_cifar10_uncond"); }
TEST(NetsArchitectures, AdmImagenet64MatchesEdm) { expect_same_tensors("imagenet64-adm", "adm_imagenet64_cond"); }
TEST(NetsArchitectures, Edm2SMatchesEdm2Precond) { expect_same_tensors("imagenet64-edm2-s", "edm2_img64_s"); }

TEST(NetsArchitectures, Edm2CountsMLXL) {
  for (const auto& [preset, key] : std::vector<std::pair<std::string, std::string>>{
           {"imagenet64-edm2-m", "edm2_img64_m"}, {"imagenet64-edm2-l", "edm2_img64_l"},
           {"imagenet64-edm2-xl", "edm2_img64_xl"}}) {
    auto net = shapes_only(preset);
    EXPECT_EQ(net->parameter_count(), reference(key).at("params").get<int64_t>()) << preset;
    EXPECT_TRUE(net->state().front().second.is_meta());
  }
}

TEST(NetsArchitectures, SmallPresetSizes) {
  // The suite's small DDPM++ presets: about 0.3M and 1.75M parameters.
  EXPECT_NEAR(static_cast<double>(shapes_only("cifar10-ddpmpp-tiny")->parameter_count()), 0.3e6, 0.05e6);
  EXPECT_NEAR(static_cast<double>(shapes_only("cifar10-ddpmpp-small")->parameter_count()), 1.75e6, 0.15e6);
}

TEST(NetsArchitectures, OverridesAndErrors) {
  Config net;
  net.set("preset=\"cifar10-ddpmpp\"");
  net.set("augment_dim=9");
  net.set("dropout=0.2");
  const auto resolved = resolve_net_config(net);
  EXPECT_EQ(resolved.at("augment_dim").get<int64_t>(), 9);
  EXPECT_DOUBLE_EQ(resolved.at("dropout").get<double>(), 0.2);
  net.set("no_such_key=1");
  EXPECT_THROW(resolve_net_config(net), InputError);
  Config unknown;
  unknown.set("preset=\"cifar10-nothing\"");
  EXPECT_THROW(resolve_net_config(unknown), InputError);
  Config bad;
  bad.set("arch=\"ddpmpp\"");
  bad.set("img_resolution=30");
  EXPECT_THROW(resolve_net_config(bad), InputError);
}

}  // namespace
}  // namespace cmbench
