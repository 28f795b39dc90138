// The sampler registry (methods/sampler.h): each entry owns its --steps/--sigmas rules, its NFE rule
// for suites, the method's default levels (METHODS.md §3, §4, §6), and which knobs it takes.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

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


Config knobs_table(const std::string& text) { return Config::from_string(text, "suite.toml"); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(SamplerKnobs, ReadEveryKey) {
  const auto k = read_sampler_knobs(knobs_table(
      "s_churn = 40\ns_min = 0.05\ns_max = 50\ns_noise = 1.003\nclamp = false\nguidance = 1.5\nedge_skip = false\n"));
  EXPECT_EQ(k.s_churn, 40.0);
  EXPECT_EQ(k.s_min, 0.05);
  EXPECT_EQ(k.s_max, 50.0);
  EXPECT_EQ(k.s_noise, 1.003);
  ASSERT_TRUE(k.clamp.has_value());
  EXPECT_FALSE(*k.clamp);
  EXPECT_EQ(k.guidance, 1.5);
  EXPECT_FALSE(k.edge_skip);
  const auto defaults = read_sampler_knobs(knobs_table(""));
  EXPECT_EQ(defaults.s_churn, 0.0);
  EXPECT_TRUE(std::isinf(defaults.s_max));
  EXPECT_FALSE(defaults.clamp.has_value());
  EXPECT_EQ(read_sampler_knobs(knobs_table("s_max = inf\ns_churn = 3")).s_churn, 3.0);
}

TEST(SamplerKnobs, BadInputNamesTheFileLineAndKey) {
  EXPECT_EQ(error_of([] { read_sampler_knobs(knobs_table("s_churn = 1\nchurn = 40\n")); }),
            "suite.toml:2: unknown sampler key 'churn' (known: s_churn, s_min, s_max, s_noise, clamp, guidance, edge_skip)");
  EXPECT_EQ(error_of([] { read_sampler_knobs(knobs_table("s_churn = -1\n")); }),
            "suite.toml:1: sampler s_churn = -1 must be finite and >= 0");
  EXPECT_EQ(error_of([] { read_sampler_knobs(knobs_table("s_noise = 0\n")); }),
            "suite.toml:1: sampler s_noise = 0 must be finite and > 0");
  EXPECT_EQ(error_of([] { read_sampler_knobs(knobs_table("s_min = 10\ns_max = 5\n")); }),
            "suite.toml:2: sampler s_max = 5 is below s_min = 10");
  EXPECT_EQ(error_of([] { read_sampler_knobs(knobs_table("guidance = nan\n")); }),
            "suite.toml:1: sampler guidance = nan must be finite and >= 0");
  for (const char* bad : {"clamp = 1", "clamp = \"yes\"", "s_churn = \"40\"", "edge_skip = 0", "s_min = [1]"}) {
    const auto message = error_of([&] { read_sampler_knobs(knobs_table(bad)); });
    EXPECT_EQ(message.rfind("suite.toml:1: ", 0), 0u) << bad << ": " << message;
  }
}

TEST(SamplerKnobs, EachSamplerTakesItsOwn) {
  SamplerKnobs churn;
  churn.s_churn = 40;
  SamplerKnobs clamp;
  clamp.clamp = true;
  SamplerKnobs guided;
  guided.guidance = 2.0;
  const auto heun = make_sampler("heun");
  EXPECT_NO_THROW(heun->check_knobs(churn));
  EXPECT_NO_THROW(heun->check_knobs(guided));
  EXPECT_EQ(error_of([&] { heun->check_knobs(clamp); }), "clamp applies to the consistency samplers (cm, ect), not heun");
  for (const char* name : {"cm", "ect"}) {
    const auto sampler = make_sampler(name);
    EXPECT_NO_THROW(sampler->check_knobs(clamp));
    EXPECT_NO_THROW(sampler->check_knobs(guided));
    EXPECT_EQ(error_of([&] { sampler->check_knobs(churn); }),
              std::string("S_churn, S_min, S_max and S_noise apply to the heun sampler, not ") + name);
    // plan() checks them too
    auto s = settings(1);
    s.knobs = churn;
    EXPECT_THROW(sampler->plan(s, *make_method("ect")), InputError);
  }
  SamplerKnobs edge;
  edge.edge_skip = true;
  for (const char* name : {"heun", "cm", "ect"})
    EXPECT_EQ(error_of([&] { make_sampler(name)->check_knobs(edge); }),
              std::string("edge_skip: SCT's edge-skipping sampling is not implemented (sampler ") + name + ")");
  SamplerKnobs noise_only;
  noise_only.s_noise = 1.003;
  EXPECT_THROW(make_sampler("cm")->check_knobs(noise_only), InputError);
}

// openai's CD/CT/iCT sample with clip_denoised=True; ECT and SCT (ECT's generator_fn) never clamp.
TEST(SamplerKnobs, ClampDefaultsToTheMethodsRule) {
  for (const char* name : {"cd", "ct", "ict"}) EXPECT_TRUE(make_method(name)->clamps_denoised()) << name;
  for (const char* name : {"ect", "sct", "edm"}) EXPECT_FALSE(make_method(name)->clamps_denoised()) << name;
  const auto cm = make_sampler("cm");
  auto s = settings(1);
  EXPECT_TRUE(cm->plan(s, *make_method("ct")).clamp);
  EXPECT_FALSE(cm->plan(s, *make_method("ect")).clamp);
  s.knobs.clamp = false;
  EXPECT_FALSE(cm->plan(s, *make_method("ct")).clamp);
  s.knobs.clamp = true;
  EXPECT_TRUE(make_sampler("ect")->plan(s, *make_method("ect")).clamp);
  EXPECT_FALSE(make_sampler("heun")->plan(settings(18), *make_method("ct")).clamp);
}

TEST(SamplerKnobs, DescribeNamesWhatDiffersFromTheDefaults) {
  const auto ct = make_method("ct"), ect = make_method("ect");
  EXPECT_EQ(describe_knobs(SamplerKnobs{}, *ct), "");
  SamplerKnobs k;
  k.s_churn = 40, k.s_min = 0.05, k.s_max = 50, k.s_noise = 1.003;
  EXPECT_EQ(describe_knobs(k, *ect), "S_churn 40, S_min 0.05, S_max 50, S_noise 1.003");
  SamplerKnobs c;
  c.clamp = true;
  EXPECT_EQ(describe_knobs(c, *ect), "clamp x0 to [-1, 1]");
  EXPECT_EQ(describe_knobs(c, *ct), "");  // ct clamps anyway
  c.clamp = false;
  c.guidance = 2;
  EXPECT_EQ(describe_knobs(c, *ct), "no x0 clamp, guidance 2");
}

}  // namespace
}  // namespace cmbench
