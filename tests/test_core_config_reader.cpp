// ConfigReader: a read declares the key and its default and records the resolved value; finish()
// names the first key nobody read; choice() lists what it accepts.
#include <gtest/gtest.h>

#include "core/config_reader.h"
#include "core/error.h"
#include "test_util.h"

using namespace cmbench;

TEST(ConfigReader, ReadsDeclaresAndResolves) {
  const auto c = Config::from_string("[train]\nsteps = 10\nlr = 3e-4\nprecision = \"bf16\"\n", "t.toml");
  ConfigReader t(c.sub("train"), "train");
  EXPECT_EQ(t.required<int64_t>("steps"), 10);
  EXPECT_DOUBLE_EQ(t.get<double>("lr", 1e-4), 3e-4);
  EXPECT_DOUBLE_EQ(t.get<double>("beta1", 0.9), 0.9);
  EXPECT_EQ(t.choice("precision", "fp32", {"fp32", "bf16"}), "bf16");
  EXPECT_NO_THROW(t.finish());
  EXPECT_EQ(t.resolved(), (nlohmann::json{{"steps", 10}, {"lr", 3e-4}, {"beta1", 0.9}, {"precision", "bf16"}}));
}

TEST(ConfigReader, UnreadKeysAndBadChoicesNameFileLineAndKey) {
  const auto c = Config::from_string("[train]\nsteps = 10\nbogus = 1\nlr_schedule = \"cosine\"\n", "t.toml");
  ConfigReader t(c.sub("train"), "train");
  t.required<int64_t>("steps");
  EXPECT_EQ(test::input_error_message([&] { t.finish(); }), "t.toml:1: unknown key 'train.bogus'");
  EXPECT_EQ(test::input_error_message([&] { t.choice("lr_schedule", "constant", {"constant", "warmup", "inverse_sqrt"}); }),
            "t.toml:4: train.lr_schedule 'cosine': expected constant, warmup or inverse_sqrt");
  EXPECT_NE(test::input_error_message([&] { t.required<int64_t>("batch"); }).find("missing key 'train.batch'"),
            std::string::npos);
  ConfigReader root(c, "");
  root.declare("train");
  EXPECT_NO_THROW(root.finish());
}
