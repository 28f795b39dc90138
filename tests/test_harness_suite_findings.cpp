// A suite's [[finding]] tables: parsed into suite.record.findings, every mistake a one-line error
// naming the file and line.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/error.h"
#include "harness/suite.h"
#include "test_util.h"

using namespace cmbench;

namespace {

// A valid suite with stages teacher (edm), ect, sct and ct, measuring SWD; `findings` is appended.
std::string suite_with(const std::string& findings) {
  return test::parse_suite_head("name = \"t\"\n",
                                "nfe = [1, 2]\nnum_samples = 16\nseed_sets = [\"0-15\"]\n\n[evaluation.sigmas]\n2 = [0.821]\n") +
         R"(
[metrics.swd]

[stages.teacher]
method = "edm"
steps = 2
nfe = [5]

[stages.ect]
method = "ect"
init = "teacher"
steps = 2

[stages.sct]
method = "sct"
init = "teacher"
steps = 2

[stages.ct]
method = "ct"
steps = 2
)" + findings;
}

const std::string kBelow = R"(
[[finding]]
id = "sct-below"
claim = "SCT's SWD is below ECT's"
kind = "below"
stages = ["sct", "ect"]
metrics = ["swd"]
nfe = [1]
rtol = 0.05
why = "variance reduction"
)";

std::string error_of(const std::string& text) {
  try {
    parse_suite(text, "s.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

// The 1-based line of the first `needle` in `text` after its first [[finding]].
size_t line_of(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle, text.find("[[finding]]"));
  return static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n')) + 1;
}

// kBelow with the line `from` replaced by `to` ("" drops it).
std::string below_with(const std::string& from, const std::string& to) {
  auto text = kBelow;
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  text.replace(at, from.size() + 1, to.empty() ? "" : to + "\n");
  return text;
}

}  // namespace

TEST(SuiteFindings, EveryKeyIsRead) {
  const auto suite = parse_suite(suite_with(kBelow + R"(
[[finding]]
id = "tuned-first"
claim = "ECT and SCT reach SWD 0.5 before CT"
kind = "reaches_first"
stages = ["ect", "sct"]
others = ["ct"]
metrics = ["swd"]
nfe = [1]
threshold = 0.5
ema = "ema"

[[finding]]
id = "two-steps"
claim = "two steps beat one"
kind = "nfe_improves"
stages = ["ect", "sct"]
metrics = ["swd"]
nfe = [1, 2]
)"),
                                 "s.toml");
  const auto& f = suite.record.findings;
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].id, "sct-below");
  EXPECT_EQ(f[0].claim, "SCT's SWD is below ECT's");
  EXPECT_EQ(f[0].kind, "below");
  EXPECT_EQ(f[0].stages, (std::vector<std::string>{"sct", "ect"}));
  EXPECT_TRUE(f[0].others.empty());
  EXPECT_EQ(f[0].metrics, std::vector<std::string>{"swd"});
  EXPECT_EQ(f[0].nfe, std::vector<int64_t>{1});
  EXPECT_EQ(f[0].rtol, 0.05);
  EXPECT_EQ(f[0].ema, "");
  EXPECT_EQ(f[0].why, "variance reduction");
  EXPECT_EQ(f[1].others, std::vector<std::string>{"ct"});
  EXPECT_EQ(f[1].threshold, 0.5);
  EXPECT_EQ(f[1].ema, "ema");
  EXPECT_EQ(f[1].rtol, 0.0);
  EXPECT_EQ(f[2].nfe, (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(parse_suite(suite_with(""), "s.toml").record.findings.empty());
}

TEST(SuiteFindings, MistakesNameTheFileAndLine) {
  struct Case {
    std::string finding, key, message;
  };
  const std::vector<Case> cases = {
      {below_with("kind = \"below\"", "kind = \"smaller\""), "kind", "unknown finding kind 'smaller' (known: below, "
                                                                     "curve_not_worse, decreasing, nfe_improves, reaches_first)"},
      {below_with("stages = [\"sct\", \"ect\"]", "stages = [\"sct\", \"edm\"]"), "stages", "unknown stage 'edm'"},
      {below_with("stages = [\"sct\", \"ect\"]", "stages = [\"sct\", \"sct\"]"), "stages", "stage 'sct' is named twice"},
      {below_with("stages = [\"sct\", \"ect\"]", "stages = [\"sct\", \"ect\", \"ct\"]"), "stages",
       "a 'below' finding compares exactly 2 stages, found 3"},
      {below_with("metrics = [\"swd\"]", "metrics = [\"fid\"]"), "metrics",
       "metric 'fid' is not one the suite measures (its [metrics]: swd)"},
      {below_with("metrics = [\"swd\"]", "metrics = []"), "metrics", "'metrics' is empty"},
      {below_with("nfe = [1]", "nfe = [1, 2]"), "nfe", "a 'below' finding reads 1 NFE value(s), found 2"},
      {below_with("nfe = [1]", "nfe = [-1]"), "nfe", "NFE -1 must be >= 0"},
      {below_with("rtol = 0.05", "rtol = -1.0"), "rtol", "rtol must be >= 0"},
      {below_with("rtol = 0.05", "threshold = 1.0"), "threshold", "'threshold' is for reaches_first, not a 'below' finding"},
      {below_with("rtol = 0.05", "tolerance = 1.0"), "tolerance", "unknown key 'tolerance' in [[finding]]"},
      {below_with("why = \"variance reduction\"", "why = 3"), "why", "why"},
  };
  for (const auto& c : cases) {
    const auto text = suite_with(c.finding);
    const auto message = error_of(text);
    const auto where = "s.toml:" + std::to_string(line_of(text, c.key + " = "));
    EXPECT_EQ(message.rfind(where, 0), 0u) << c.key << ": " << message;
    EXPECT_NE(message.find(c.message), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(SuiteFindings, KindsGetWhatTheyRead) {
  const auto reaches = [](const std::string& extra) {
    return "\n[[finding]]\nid = \"r\"\nclaim = \"c\"\nkind = \"reaches_first\"\nstages = [\"ect\"]\nmetrics = "
           "[\"swd\"]\nnfe = [1]\n" + extra;
  };
  EXPECT_NE(error_of(suite_with(reaches("threshold = 0.1\n"))).find("'others' is needed by a 'reaches_first' finding"),
            std::string::npos);
  EXPECT_NE(error_of(suite_with(reaches("others = [\"ct\"]\n"))).find("'threshold' is needed by"), std::string::npos);
  EXPECT_NE(error_of(suite_with(reaches("others = [\"ect\"]\nthreshold = 0.1\n"))).find("stage 'ect' is named twice"),
            std::string::npos);
  EXPECT_EQ(error_of(suite_with(reaches("others = [\"ct\"]\nthreshold = 1\n"))), "no error");  // an integer threshold
  EXPECT_NE(error_of(suite_with(below_with("kind = \"below\"", "kind = \"nfe_improves\""))).find("reads 2 NFE value(s), found 1"),
            std::string::npos);
  EXPECT_NE(error_of(suite_with(below_with("kind = \"below\"", "kind = \"decreasing\"") +
                                below_with("kind = \"below\"", "kind = \"decreasing\"")))
                .find("finding id 'sct-below' must be non-empty and unique"),
            std::string::npos);
  auto nfe_twice = below_with("kind = \"below\"", "kind = \"nfe_improves\"");
  nfe_twice.replace(nfe_twice.find("nfe = [1]"), 9, "nfe = [2, 2]");
  EXPECT_NE(error_of(suite_with(nfe_twice)).find("two different NFEs"), std::string::npos);
  EXPECT_NE(error_of(suite_with(below_with("claim = \"SCT's SWD is below ECT's\"", ""))).find("needs key 'claim'"),
            std::string::npos);
  EXPECT_EQ(error_of(suite_with(below_with("kind = \"below\"", "kind = \"curve_not_worse\""))), "no error");
}
