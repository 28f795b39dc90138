#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/error.h"
#include "test_util.h"

using namespace cmbench;

namespace {

const char* kConfig = R"(# a method config
method = "ect"
seed = 7

[optim]
lr = 1e-4
betas = [0.9, 0.999]
warmup = 0

[net]
preset = "cifar10-ddpmpp"
channel_mult = [2, 2, 2]
dropout = 0.2
)";

}  // namespace

TEST(Config, TypedAccess) {
  const auto c = Config::from_string(kConfig, "ect.toml");
  EXPECT_EQ(c.get<std::string>("method"), "ect");
  EXPECT_EQ(c.get<int64_t>("seed"), 7);
  EXPECT_EQ(c.get<int>("seed"), 7);
  EXPECT_DOUBLE_EQ(c.get<double>("optim.lr"), 1e-4);
  EXPECT_DOUBLE_EQ(c.get<double>("optim.warmup"), 0.0);  // integers read as numbers
  EXPECT_EQ(c.get<std::vector<double>>("optim.betas"), (std::vector<double>{0.9, 0.999}));
  EXPECT_EQ(c.get<std::vector<int64_t>>("net.channel_mult"), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_TRUE(c.has("net.dropout"));
  EXPECT_FALSE(c.has("net.missing"));
  EXPECT_EQ(c.get_or<double>("net.missing", 3.5), 3.5);
  const auto net = c.sub("net");
  EXPECT_DOUBLE_EQ(net.get<double>("dropout"), 0.2);
  EXPECT_EQ(net.keys(), (std::vector<std::string>{"channel_mult", "dropout", "preset"}));
  EXPECT_EQ(net.unknown_keys({"preset", "dropout"}), (std::vector<std::string>{"channel_mult"}));
}

TEST(Config, SetOverrides) {
  auto c = Config::from_string(kConfig, "ect.toml");
  c.set("optim.lr=2e-4");
  c.set("net.dropout = 0.5");
  c.set("net.channel_mult=[1,2]");
  c.set("method=sct");  // bare word: a string
  c.set("new.deep.key=true");
  c.set("name=\"quoted value\"");
  EXPECT_DOUBLE_EQ(c.get<double>("optim.lr"), 2e-4);
  EXPECT_DOUBLE_EQ(c.get<double>("net.dropout"), 0.5);
  EXPECT_EQ(c.get<std::vector<int64_t>>("net.channel_mult"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(c.get<std::string>("method"), "sct");
  EXPECT_TRUE(c.get<bool>("new.deep.key"));
  EXPECT_EQ(c.get<std::string>("name"), "quoted value");
  EXPECT_EQ(c.where("optim.lr"), "--set");
  EXPECT_EQ(c.where("net.preset"), "ect.toml:11");
}

TEST(Config, CopiesAreIndependent) {
  const auto a = Config::from_string(kConfig, "ect.toml");
  auto b = a;
  b.set("seed=8");
  EXPECT_EQ(a.get<int64_t>("seed"), 7);
  EXPECT_EQ(b.get<int64_t>("seed"), 8);
}

TEST(Config, ResolvedDumpIsJson) {
  auto c = Config::from_string(kConfig, "ect.toml");
  c.set("optim.lr=0.5");
  const auto j = c.to_json();
  EXPECT_EQ(j["method"], "ect");
  EXPECT_EQ(j["optim"]["lr"], 0.5);
  EXPECT_EQ(j["net"]["channel_mult"], nlohmann::json::array({2, 2, 2}));
  // The TOML dump parses back to the same document.
  EXPECT_EQ(Config::from_string(c.to_toml(), "dump").to_json(), j);
}

TEST(ConfigErrors, ExactMessages) {
  const auto c = Config::from_string(kConfig, "ect.toml");
  EXPECT_EQ(test::input_error_message([&] { c.get<double>("optim.momentum"); }), "ect.toml: missing key 'optim.momentum'");
  EXPECT_EQ(test::input_error_message([&] { c.get<double>("net.preset"); }),
            "ect.toml:11: key 'net.preset' must be a number, found a string");
  EXPECT_EQ(test::input_error_message([&] { c.get<int64_t>("optim.lr"); }),
            "ect.toml:6: key 'optim.lr' must be an integer, found a float");
  EXPECT_EQ(test::input_error_message([&] { c.get<std::vector<int64_t>>("optim.betas"); }),
            "ect.toml:7: key 'optim.betas' must be an array of integers, found an array");
  EXPECT_EQ(test::input_error_message([&] { c.sub("net").get<bool>("dropout"); }),
            "ect.toml:13: key 'net.dropout' must be a boolean, found a float");
  EXPECT_EQ(test::input_error_message([&] { c.sub("method"); }), "ect.toml:2: key 'method' must be a table, found a string");
  EXPECT_EQ(test::input_error_message([&] { Config::from_string("a = 1\nb = [1, \n", "bad.toml"); }).rfind("bad.toml:", 0), 0u);
  EXPECT_EQ(test::input_error_message([&] { Config::from_string("x = = 2\n", "bad.toml"); }).find("bad.toml:1:"), 0u);
  EXPECT_NE(test::input_error_message([&] { Config::from_string("x = = 2\n", "bad.toml"); }).find("invalid TOML"), std::string::npos);
  EXPECT_EQ(test::input_error_message([&] { Config::from_file("/nonexistent/cfg.toml"); }), "/nonexistent/cfg.toml: cannot open config file");

  auto m = c;
  EXPECT_EQ(test::input_error_message([&] { m.set("no_equals_sign"); }), "--set 'no_equals_sign': expected key=value");
  EXPECT_EQ(test::input_error_message([&] { m.set("=3"); }), "--set '=3': expected key=value");
  EXPECT_EQ(test::input_error_message([&] { m.set("method.inner=3"); }), "--set 'method.inner=3': 'method' is not a table");
  m.set("seed=\"x\"");
  EXPECT_EQ(test::input_error_message([&] { m.get<int64_t>("seed"); }), "--set: key 'seed' must be an integer, found a string");
}

// Found by fuzz/fuzz_config: --set text skips the TOML parser's encoding check, and a byte that is
// not UTF-8 made the config's JSON (the resolved config recorded with every run) throw
// nlohmann::json::type_error. Such an assignment is an InputError before anything is set.
TEST(ConfigErrors, SetRefusesTextThatIsNotUtf8) {
  auto c = Config::from_string(kConfig, "ect.toml");
  for (const std::string bad : {"seed=\xff", "method.\x80x=1", "a=\"\xc0\xaf\"", "a=\xed\xa0\x80", "a=\xe2\x82"})
    EXPECT_EQ(test::input_error_message([&] { c.set(bad); }), "--set: an assignment is not valid UTF-8 text") << bad;
  c.set("label=\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82\"");
  EXPECT_EQ(c.get<std::string>("label"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82");
  EXPECT_NO_THROW(c.to_json().dump());
}

TEST(ConfigErrors, FromFile) {
  test::TempDir dir;
  test::write_text(dir.file("c.toml"), "[a]\nb = 1\n");
  const auto c = Config::from_file(dir.file("c.toml"));
  EXPECT_EQ(c.get<int64_t>("a.b"), 1);
  EXPECT_EQ(test::input_error_message([&] { c.get<std::string>("a.b"); }),
            dir.file("c.toml") + ":2: key 'a.b' must be a string, found an integer");
}

// put() and merge() build a config from parts of others without text; every key still names the file
// and line it came from, also after the copy-on-write copy that a later set() makes.
TEST(Config, PutAndMergeKeepWhereEachKeyCameFrom) {
  const auto suite = Config::from_string("[train]\nlr = 2e-4\nbatch = 8\n\n[stages.a.train]\nlr = 1e-3\n", "s.toml");
  const auto other = Config::from_string("[net]\narch = \"mlp\"\nhidden = 16\n", "net.toml");
  Config c;
  c.put("train", suite.sub("train"));
  c.merge("train", suite.sub("stages.a.train"));
  c.put("net", other.sub("net"));
  c.put("train.steps", int64_t{3});
  c.put("method.name", std::string("ect"));
  EXPECT_DOUBLE_EQ(c.get<double>("train.lr"), 1e-3);
  EXPECT_EQ(c.get<int64_t>("train.batch"), 8);
  EXPECT_EQ(c.get<int64_t>("train.steps"), 3);
  EXPECT_EQ(c.get<std::string>("method.name"), "ect");
  EXPECT_EQ(c.get<int64_t>("net.hidden"), 16);
  EXPECT_EQ(c.where("train.lr"), "s.toml:6");
  EXPECT_EQ(c.where("train.batch"), "s.toml:3");
  EXPECT_EQ(c.where("net.hidden"), "net.toml:3");
  EXPECT_EQ(c.sub("net").where("arch"), "net.toml:2");
  c.set("train.batch=16");
  EXPECT_EQ(c.where("train.batch"), "--set");
  EXPECT_EQ(c.where("train.lr"), "s.toml:6");
  c.put("net", suite.sub("train"));  // replaces the whole table, and its locations
  EXPECT_FALSE(c.has("net.hidden"));
  EXPECT_EQ(c.where("net.lr"), "s.toml:2");
  // The sources are unchanged.
  EXPECT_DOUBLE_EQ(suite.get<double>("train.lr"), 2e-4);
  EXPECT_FALSE(suite.has("train.steps"));
  EXPECT_THROW(c.put("method.name.x", int64_t{1}), InputError);  // a string in the way
}
