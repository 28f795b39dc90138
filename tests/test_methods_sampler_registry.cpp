// The sampler registry (methods/sampler.h): each entry owns its --steps/--sigmas rules, its NFE rule
// for suites, and the method's default levels (METHODS.md §3, §4, §6).
#include <gtest/gtest.h>

#include "core/error.h"
#include "methods/registry.h"
#include "methods/sampler.h"

namespace cmbench {
namespace {

SamplerSettings settings(int64_t steps, std::vector<double> sigmas = {}) {
  SamplerSettings s;
  s.steps = steps;
  s.sigmas = std::move(sigmas);
  return s;
}

TEST(SamplerRegistry, EveryMethodNamesARegisteredSampler) {
  EXPECT_EQ(sampler_registry().names(), (std::vector<std::string>{"cm", "ect", "heun"}));
  for (const auto& name : method_registry().names()) {
    const auto method = make_method(name);
    EXPECT_TRUE(sampler_registry().contains(method->default_sampler())) << name;
    EXPECT_EQ(make_sampler(method->default_sampler())->name(), method->default_sampler());
  }
  EXPECT_EQ(make_method("edm")->default_sampler(), "heun");
  EXPECT_EQ(make_method("ect")->default_sampler(), "ect");
  EXPECT_EQ(make_method("ct")->default_sampler(), "cm");
  EXPECT_THROW(make_sampler("euler"), InputError);
}

TEST(SamplerRegistry, ConsistencyLevelsComeFromTheMethodsPreset) {
  const auto cifar = make_method("ect"), imagenet = make_method("ect", "imagenet64");
  for (const char* name : {"cm", "ect"}) {
    const auto sampler = make_sampler(name);
    EXPECT_EQ(sampler->plan(settings(0), *cifar).levels, std::vector<double>{80.0});
    EXPECT_EQ(sampler->plan(settings(1), *cifar).levels, std::vector<double>{80.0});
    EXPECT_EQ(sampler->plan(settings(2), *cifar).levels, (std::vector<double>{80.0, 0.821}));
    EXPECT_EQ(sampler->plan(settings(2), *imagenet).levels, (std::vector<double>{80.0, 1.526}));
    EXPECT_EQ(sampler->plan(settings(0, {1.5, 0.3}), *cifar).levels, (std::vector<double>{80.0, 1.5, 0.3}));
    const auto three = sampler->plan(settings(3, {1.5, 0.3}), *cifar);
    EXPECT_EQ(three.levels, (std::vector<double>{80.0, 1.5, 0.3}));
    EXPECT_EQ(three.steps, 3);
    EXPECT_THROW(sampler->plan(settings(2, {1.5, 0.3}), *cifar), InputError);
    EXPECT_THROW(sampler->plan(settings(3), *cifar), InputError);
  }
}

TEST(SamplerRegistry, HeunRules) {
  const auto heun = make_sampler("heun");
  const auto edm = make_method("edm");
  EXPECT_EQ(heun->plan(settings(0), *edm).steps, 18);
  EXPECT_EQ(heun->plan(settings(5), *edm).steps, 5);
  EXPECT_TRUE(heun->plan(settings(5), *edm).levels.empty());
  EXPECT_THROW(heun->plan(settings(1), *edm), InputError);
  EXPECT_THROW(heun->plan(settings(0, {1.0}), *edm), InputError);
}

TEST(SamplerRegistry, NfeRules) {
  const NfeLevels levels{{2, {0.821}}, {3, {1.5, 0.3}}};
  const auto heun = make_sampler("heun");
  EXPECT_EQ(heun->settings_for_nfe(35, levels).steps, 18);
  EXPECT_EQ(heun->settings_for_nfe(3, levels).steps, 2);
  for (const int64_t bad : {1, 2, 4}) EXPECT_THROW(heun->settings_for_nfe(bad, levels), InputError) << bad;
  for (const char* name : {"cm", "ect"}) {
    const auto sampler = make_sampler(name);
    EXPECT_EQ(sampler->settings_for_nfe(1, {}).steps, 1);
    EXPECT_TRUE(sampler->settings_for_nfe(1, {}).sigmas.empty());
    EXPECT_EQ(sampler->settings_for_nfe(3, levels).sigmas, (std::vector<double>{1.5, 0.3}));
    EXPECT_THROW(sampler->settings_for_nfe(4, levels), InputError);
  }
}

}  // namespace
}  // namespace cmbench
