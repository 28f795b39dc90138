#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "harness/runner.h"
#include "harness/suite.h"
#include "harness/suite_plan.h"
#include "test_util.h"

using namespace cmbench;

namespace {

// A valid suite; `extra` is appended (TOML tables may follow in any order).
std::string suite_text(const std::string& stages, const std::string& extra = "") {
  return test::parse_suite_head(
             "name = \"t\"\n",
             "nfe = [1, 2]\nnum_samples = 16\nseed_sets = [\"0-15\", \"16-31\"]\n\n[evaluation.sigmas]\n2 = [0.821]\n") +
         R"(
[metrics.swd]
rtol = 0.1
)" + stages + extra;
}

const std::string kStages = R"(
[stages.ect]
method = "ect"
init = "teacher"
steps = 10

[stages.teacher]
method = "edm"
images = 100
nfe = [5]

[stages.ct]
method = "ct"
steps = 3
batch = 4
)";

std::string error_of(const std::string& text) {
  try {
    parse_suite(text, "s.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(SuiteParse, OrdersStagesByDependencyThenFileOrder) {
  const auto suite = parse_suite(suite_text(kStages), "s.toml");
  ASSERT_EQ(suite.stages.size(), 3u);
  EXPECT_EQ(suite.stages[0].name, "teacher");
  EXPECT_EQ(suite.stages[1].name, "ect");
  EXPECT_EQ(suite.stages[2].name, "ct");
  EXPECT_EQ(suite.stages[0].steps, 13);  // 100 images at batch 8, rounded up
  EXPECT_EQ(suite.stages[2].batch, 4);
  EXPECT_EQ(suite.stages[1].depends, std::vector<std::string>{"teacher"});
  EXPECT_EQ(suite.stages[1].evaluation.nfe, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(suite.stages[0].evaluation.nfe, std::vector<int64_t>{5});
  EXPECT_EQ(suite.evaluation.seed_sets.size(), 2u);
  EXPECT_EQ(suite.evaluation.sigmas.at(2), std::vector<double>{0.821});
  ASSERT_EQ(suite.record.metrics.size(), 1u);
  EXPECT_EQ(suite.record.metrics[0].rtol, 0.1);
  EXPECT_EQ(suite.record.metrics[0].direction, "lower");
  EXPECT_EQ(suite.dataset(), "gaussian");
}

TEST(SuiteParse, UnknownKeysNameTheLine) {
  const auto text = suite_text(kStages, "\n[stages.x]\nmethod = \"ct\"\nsteps = 1\nstep = 2\n");
  const auto line = std::count(text.begin(), text.begin() + static_cast<long>(text.find("step = 2")), '\n') + 1;
  EXPECT_EQ(error_of(text).rfind("s.toml:" + std::to_string(line) + ": unknown key 'step'", 0), 0u) << error_of(text);
  EXPECT_NE(error_of(suite_text(kStages, "\n[bogus]\na = 1\n")).find("unknown key 'bogus'"), std::string::npos);
  EXPECT_NE(error_of(suite_text(kStages, "\n[metrics.fdi]\n")).find("unknown metric 'fdi'"), std::string::npos);
}

TEST(SuiteParse, CyclesAndUnknownStagesAreErrors) {
  const std::string cycle = R"(
[stages.a]
method = "ct"
steps = 1
depends = ["b"]

[stages.b]
method = "ct"
steps = 1
init = "a"
)";
  const auto message = error_of(suite_text(cycle));
  EXPECT_NE(message.find("dependency cycle"), std::string::npos) << message;
  EXPECT_EQ(message.rfind("s.toml:", 0), 0u) << message;
  EXPECT_NE(error_of(suite_text("\n[stages.a]\nmethod = \"ect\"\ninit = \"nope\"\nsteps = 1\n")).find("unknown stage 'nope'"),
            std::string::npos);
}

TEST(SuiteParse, BudgetsSeedSetsAndSigmasAreChecked) {
  EXPECT_NE(error_of(suite_text("\n[stages.a]\nmethod = \"ct\"\n")).find("exactly one budget"), std::string::npos);
  EXPECT_NE(error_of(suite_text("\n[stages.a]\nmethod = \"ct\"\nsteps = 1\nimages = 8\n")).find("exactly one budget"),
            std::string::npos);
  EXPECT_NE(error_of(suite_text("\n[stages.a]\nmethod = \"cd\"\nsteps = 1\n")).find("needs teacher"), std::string::npos);
  EXPECT_NE(error_of(suite_text("\n[stages.a]\nmethod = \"ct\"\nsteps = 1\nnfe = [3]\n")).find("no levels"),
            std::string::npos);
  EXPECT_NE(error_of(suite_text("\n[stages.a]\nmethod = \"edm\"\nsteps = 1\nnfe = [4]\n")).find("odd NFE"),
            std::string::npos);
  auto text = suite_text(kStages);
  text.replace(text.find("\"16-31\""), 7, "\"16-30\"");
  EXPECT_NE(error_of(text).find("holds 15 seeds"), std::string::npos);
  EXPECT_NE(error_of(suite_text(kStages, "\n[metrics.fid]\n")).find("needs [evaluation.reference] weights"),
            std::string::npos);
  // A ground-truth metric is refused at parse time, before any training, without a gmm: reference.
  for (const std::string metric : {"gt_fd", "cerr", "tvar"}) {
    EXPECT_NE(error_of(suite_text(kStages, "\n[metrics." + metric + "]\n"))
                  .find("metric '" + metric + "' needs [evaluation.reference] images = \"gmm:FILE.npz\""),
              std::string::npos)
        << metric;
  }
  EXPECT_NE(error_of(suite_text(kStages, "\n[[reference]]\nmethod = \"ect\"\nlabel = \"x\"\nnfe = 1\nvalue = 1\n"))
                .find("needs key 'source'"),
            std::string::npos);
}

// Found by fuzz/fuzz_config: an image budget near 2^63 overflowed while rounding up to steps, and a
// seed set ending at 2^63 - 1 overflowed counting its seeds (signed overflow: undefined behaviour).
TEST(SuiteParse, BudgetsAndSeedSetsNearTheInt64LimitAreHandled) {
  const auto suite = parse_suite(
      suite_text("\n[stages.a]\nmethod = \"ct\"\nbatch = 4\nimages = 9223372036854775807\n"), "s.toml");
  EXPECT_EQ(suite.stages.at(0).steps, 9223372036854775807 / 4 + 1);
  auto text = suite_text(kStages);
  text.replace(text.find("\"16-31\""), 7, "\"0-9223372036854775807\"");
  EXPECT_NE(error_of(text).find("'0-9223372036854775807' must be a range A-B"), std::string::npos) << error_of(text);
}

// [metrics.NAME] accepts every value of the metric registry, with the registry's direction,
// tolerance and aggregation as defaults; a metric named by one value gets policies for all its values.
TEST(SuiteParse, MetricPoliciesComeFromTheRegistry) {
  auto with_weights = suite_text(kStages);
  with_weights.replace(with_weights.find("images = \"cifar10:train\""), 24, "images = \"cifar10:train\"\nweights = \"w.pt\"");
  const auto policies = [&](const std::string& extra) {
    std::map<std::string, results::MetricPolicy> out;
    for (const auto& p : parse_suite(with_weights + extra, "s.toml").record.metrics) out[p.metric] = p;
    return out;
  };
  auto p = policies("\n[metrics.is_mean]\n");
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p.at("swd").rtol, 0.1);
  EXPECT_EQ(p.at("is_mean").direction, "higher");
  EXPECT_EQ(p.at("is_mean").rtol, 1e-3);
  EXPECT_EQ(p.at("is_std").direction, "lower");
  EXPECT_EQ(p.at("is_std").rtol, 1e-3);
  p = policies("\n[metrics.is_std]\nrtol = 0.5\n\n[metrics.fid]\n");
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p.at("is_std").rtol, 0.5);
  EXPECT_EQ(p.at("is_mean").direction, "higher");
  EXPECT_EQ(p.at("fid").aggregate, "min");
  EXPECT_NE(error_of(suite_text(kStages, "\n[metrics.is_std]\n")).find("metric 'is_std' needs [evaluation.reference] weights"),
            std::string::npos);
  EXPECT_NE(error_of(suite_text(kStages, "\n[metrics.is]\n")).find("fd_dinov2, fid, gt_fd, gt_loglik, is_mean, is_std, kid_mean, kid_std, precision, recall, "
                                                            "pr50k3_precision, pr50k3_recall, sfid, swd, tvar"), std::string::npos);
}

// [evaluation]'s protocol keys: the IS shuffle policy, allowed protocol mismatches, and the weights
// of the DINOv2 and VGG16 metrics, each required where a metric needs it.
TEST(SuiteParse, EvaluationProtocolKeys) {
  auto text = suite_text(kStages);
  EXPECT_FALSE(parse_suite(text, "s.toml").evaluation.is_shuffle_seed.has_value());
  EXPECT_FALSE(parse_suite(text, "s.toml").evaluation.allow_protocol_mismatch);
  auto shuffled = text;
  shuffled.replace(shuffled.find("[evaluation]\n"), 13, "[evaluation]\nis_shuffle_seed = 2020\nallow_protocol_mismatch = true\n");
  const auto e = parse_suite(shuffled, "s.toml").evaluation;
  EXPECT_EQ(e.is_shuffle_seed.value_or(0), 2020u);
  EXPECT_TRUE(e.allow_protocol_mismatch);
  auto negative = text;
  negative.replace(negative.find("[evaluation]\n"), 13, "[evaluation]\nis_shuffle_seed = -1\n");
  EXPECT_NE(error_of(negative).find("is_shuffle_seed must be in"), std::string::npos);
  EXPECT_NE(error_of(suite_text(kStages, "\n[metrics.fd_dinov2]\n")).find("needs [evaluation.reference] dinov2_weights"),
            std::string::npos);
  EXPECT_NE(error_of(suite_text(kStages, "\n[metrics.pr50k3_recall]\n")).find("needs [evaluation.reference] vgg16"),
            std::string::npos);
  auto with_dinov2 = text;
  with_dinov2.replace(with_dinov2.find("images = \"cifar10:train\""), 24,
                      "images = \"cifar10:train\"\ndinov2_weights = \"d.npz\"");
  const auto suite = parse_suite(with_dinov2 + "\n[metrics.fd_dinov2]\n", "s.toml");
  EXPECT_EQ(suite.evaluation.dinov2_weights, "d.npz");
  EXPECT_EQ(suite.record.metrics.size(), 2u);  // swd and fd_dinov2
}

TEST(SuiteParse, ShippedSuitesParseAndPlan) {
  for (const char* name : {"cifar10-smoke", "ci", "cifar10-paper", "imagenet64-paper"}) {
    const std::string path = test::source_path(std::string("suites/") + name + ".toml");
    const auto suite = load_suite(path);
    EXPECT_EQ(suite.name, name);
    EXPECT_NO_THROW(validate_suite(suite)) << name;
    const auto plan = describe_plan(suite, plan_suite_training(suite), "runs/x");
    EXPECT_NE(plan.find("total:"), std::string::npos);
    for (const auto& stage : suite.stages) EXPECT_NE(plan.find(stage.name), std::string::npos);
  }
  const auto paper = load_suite(test::source_path("suites/cifar10-paper.toml"));
  EXPECT_EQ(paper.stages.front().name, "teacher");
  EXPECT_EQ(paper.stages.front().steps, 390625);  // 200 Mimg at batch 512
  EXPECT_EQ(paper.record.references.size(), 23u);
  EXPECT_EQ(paper.evaluation.seed_sets.size(), 3u);
}

// The papers' protocols as the shipped suites state them (issue 15, items 2, 4 and 8).
TEST(SuiteParse, PaperSuitesRunEachPapersProtocol) {
  const auto stage_plans = [](const Suite& suite) {
    std::map<std::string, std::pair<const SuiteStage*, TrainPlan>> out;
    auto plans = plan_suite_training(suite);
    for (size_t i = 0; i < suite.stages.size(); ++i) out[suite.stages[i].name] = {&suite.stages[i], std::move(plans[i])};
    return out;
  };
  const auto cifar_suite = load_suite(test::source_path("suites/cifar10-paper.toml"));
  const auto cifar = stage_plans(cifar_suite);
  for (const char* name : {"cd", "ct", "ict", "ict_deep"}) {
    const auto& plan = cifar.at(name).second;
    EXPECT_EQ(plan.precond.train.form, PrecondForm::cm) << name;
    EXPECT_EQ(plan.precond.eval.form, PrecondForm::cm) << name;
    EXPECT_DOUBLE_EQ(plan.precond.eval.eps_b, 0.002) << name;
    EXPECT_TRUE(plan.method->clamps_denoised()) << name;
  }
  for (const char* name : {"cd", "ct"}) {
    EXPECT_EQ(cifar.at(name).second.net.at("arch"), "ncsnpp") << name;
    EXPECT_EQ(cifar.at(name).second.net.at("dropout"), 0.0) << name;
    EXPECT_EQ(cifar.at(name).second.method->resolved().at("distance"), "lpips") << name;
  }
  EXPECT_EQ(cifar.at("cd").first->teacher, "teacher_ncsnpp");
  EXPECT_EQ(cifar.at("teacher_ncsnpp").second.net.at("arch"), "ncsnpp");
  EXPECT_EQ(cifar.at("ict_deep").second.net.at("num_blocks"), 8);
  for (const char* name : {"ect", "sct"}) {
    const auto& plan = cifar.at(name).second;
    EXPECT_FALSE(plan.data.flip) << name;
    EXPECT_EQ(plan.precond.train.form, PrecondForm::edm) << name;
    EXPECT_EQ(plan.precond.eval.form, PrecondForm::cm) << name;
    EXPECT_DOUBLE_EQ(plan.precond.eval.eps_b, 0.003) << name;
    EXPECT_EQ(plan.method->resolved().at("stage_images"), 3200000) << name;
    EXPECT_EQ(plan.steps * plan.batch, 51200000) << name;
  }
  EXPECT_TRUE(cifar.at("teacher").second.data.flip);

  const auto imagenet_suite = load_suite(test::source_path("suites/imagenet64-paper.toml"));
  const auto imagenet = stage_plans(imagenet_suite);
  EXPECT_EQ(imagenet.at("cd").first->evaluation.sigmas.at(2), std::vector<double>{1.3824});
  EXPECT_EQ(imagenet.at("ct").first->evaluation.sigmas.at(2), std::vector<double>{1.9128});
  EXPECT_EQ(imagenet.at("ect").first->evaluation.sigmas.at(2), std::vector<double>{1.526});
  for (const char* name : {"cd", "ct", "ict", "ict_deep"}) {
    EXPECT_TRUE(imagenet.at(name).second.data.flip) << name;
    EXPECT_EQ(imagenet.at(name).first->evaluation.reference_statistics, "ref/VIRTUAL_imagenet64_labeled.npz") << name;
  }
  for (const char* name : {"ect", "sct", "teacher_edm2", "teacher"}) EXPECT_FALSE(imagenet.at(name).second.data.flip) << name;
  const auto& teacher = *imagenet.at("teacher").first;
  EXPECT_EQ(imagenet.at("teacher").second.data.source, "imagenet64-edm:train");
  EXPECT_EQ(teacher.evaluation.reference_statistics, "stats/imagenet-64x64.npz");
  EXPECT_DOUBLE_EQ(teacher.evaluation.knobs_at(511).s_churn, 40.0);
  EXPECT_DOUBLE_EQ(teacher.evaluation.knobs_at(79).s_churn, 0.0);
  EXPECT_EQ(imagenet.at("teacher_edm2").first->evaluation.posthoc_sigma_rel, std::vector<double>{0.040});
  EXPECT_EQ(imagenet.at("ict_deep").second.net.at("num_blocks"), 6);
  EXPECT_EQ(imagenet.at("ect").second.method->resolved().at("stage_images"), 3200000);
  // Every published row compares with one stage of its method, or with none (sCT, sCD).
  for (const auto* suite : {&cifar_suite, &imagenet_suite}) {
    for (const auto& row : suite->record.references) {
      EXPECT_EQ(row.citation.find("METHODS.md"), std::string::npos) << row.label;  // a paper, not a file of ours
      EXPECT_NE(row.citation.find("20"), std::string::npos) << row.label;          // authors and year
      if (row.method.empty()) {
        EXPECT_EQ(row.label.rfind("sC", 0), 0u) << row.label;
      }
    }
  }
}

// Each stage's training plan is read once, before anything trains; a stage that starts from an
// earlier one names that stage's checkpoint until it runs.
TEST(SuiteParse, StagePlansAreReadOnceInStageOrder) {
  const auto suite = parse_suite(suite_text(kStages), "s.toml");
  const auto plans = plan_suite_training(suite);
  ASSERT_EQ(plans.size(), suite.stages.size());
  for (size_t i = 0; i < plans.size(); ++i) {
    const auto& stage = suite.stages[i];
    EXPECT_EQ(plans[i].method->name(), stage.method);
    EXPECT_EQ(plans[i].steps, stage.steps);
    EXPECT_EQ(plans[i].batch, stage.batch);
    EXPECT_EQ(plans[i].seed, static_cast<uint64_t>(suite.seed));
    EXPECT_EQ(plans[i].init.empty(), stage.init.empty()) << stage.name;
    if (!stage.init.empty()) {
      EXPECT_EQ(plans[i].init, "<the last checkpoint of stage " + stage.init + ">");
      EXPECT_EQ(plans[i].config.get<std::string>("train.init"), plans[i].init);
    }
  }
}

// Every stage's trainer config is checked before anything trains: a bad key in the last stage
// fails at once, naming the stage's line and the key.
TEST(SuiteParse, StageTrainerConfigsAreValidatedUpFront) {
  test::TempDir dir;
  const auto check = [&](const std::string& stage_extra, const std::string& want) {
    const auto path = dir.file("s.toml");
    test::write_text(path, suite_text(kStages + stage_extra));
    const auto message = test::input_error_message([&] { validate_suite(load_suite(path)); });
    EXPECT_NE(message.find(want), std::string::npos) << message;
    EXPECT_NE(message.find("stage 'late'"), std::string::npos) << message;
  };
  const std::string late = "\n[stages.late]\nmethod = \"ect\"\ninit = \"ect\"\nsteps = 2\n";
  check(late + "train = { lr_schedule = \"cosine\" }\n", "'cosine'");
  check(late + "train = { optimizer = \"sgd\" }\n", "'sgd'");
  check(late + "options = { q = \"two\" }\n", "q");
  check(late + "net = { preset = \"cifar10-ddpmpp-tiny\", bogus = 1 }\n", "bogus");
  check(late + "ema = { ema = { kind = \"cosine\" } }\n", "'cosine'");
  check("\n[stages.late]\nmethod = \"edm\"\nsteps = 2\nnfe = [3]\noptions = { weighting = \"uncertainty\" }\n",
        "uncertainty");
  const auto r = test::run_cli({"run", dir.file("s.toml"), "--dry-run"});
  EXPECT_EQ(r.exit_code, 2) << r.out;

  // On W ranks every stage's batch must split over them; checked before the ranks meet.
  test::write_text(dir.file("valid.toml"), suite_text(kStages));
  const auto batch = plan_suite_training(load_suite(dir.file("valid.toml"))).front().batch;
  EXPECT_NO_THROW(validate_suite(load_suite(dir.file("valid.toml")), "cpu", 1));
  EXPECT_NE(test::input_error_message([&] { validate_suite(load_suite(dir.file("valid.toml")), "cpu", batch + 1); })
                .find("do not split evenly over " + std::to_string(batch + 1) + " ranks"),
            std::string::npos);

  // The stage's trainer config is composed from the file's tables without text, so the trainer's
  // message names the suite file and the line of the key itself.
  const auto text = suite_text(kStages + late + "train = { lr_schedule = \"cosine\" }\n");
  const auto line = std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(text.find("train = {")), '\n') + 1;
  test::write_text(dir.file("s.toml"), text);
  const auto message = test::input_error_message([&] { validate_suite(load_suite(dir.file("s.toml"))); });
  EXPECT_NE(message.find(dir.file("s.toml") + ":" + std::to_string(line) + ": train.lr_schedule 'cosine'"), std::string::npos)
      << message;
}

// Issue 15, item 1: a stage's [data], [precond] and [evaluation] over the suite-wide tables, read into
// the stage's plan and its resolved evaluation.
const std::string kProtocolStages = R"(
[stages.teacher]
method = "edm"
steps = 2
nfe = [5, 9]

[stages.teacher.evaluation.sampler]
s_churn = 40.0
s_min = 0.05
s_noise = 1.003

[stages.teacher.evaluation.sampler_by_nfe.9]
s_churn = 0.0

[stages.ct]
method = "ct"
steps = 2
data = { flip = true }
precond = { train = { form = "cm", eps_b = 0.002 }, eval = { form = "cm", eps_b = 0.002 } }

[stages.ct.evaluation]
nfe = [1, 2]
sigmas = { 2 = [1.3824] }
reference = { images = "cifar10:test" }

[stages.ct.evaluation.sampler]
clamp = false

[stages.ect]
method = "ect"
init = "teacher"
steps = 2
precond = { eval = { form = "cm", eps_b = 0.003 } }
)";

TEST(SuiteParse, StageTablesOverTheSuiteDefaults) {
  const auto suite = parse_suite(suite_text(kProtocolStages, R"(
[evaluation.sampler]
guidance = 1.5
)"), "s.toml");
  const auto plans = plan_suite_training(suite);
  std::map<std::string, size_t> at;
  for (size_t i = 0; i < suite.stages.size(); ++i) at[suite.stages[i].name] = i;
  const auto& teacher = suite.stages[at["teacher"]];
  const auto& ct = suite.stages[at["ct"]];
  const auto& ect = suite.stages[at["ect"]];

  // Data and preconditioning: the stage's keys over the suite's, the rest kept.
  EXPECT_TRUE(plans[at["ct"]].data.flip);
  EXPECT_FALSE(plans[at["teacher"]].data.flip);
  EXPECT_EQ(plans[at["ct"]].data.source, "gaussian");
  EXPECT_EQ(plans[at["ct"]].precond.train.form, PrecondForm::cm);
  EXPECT_EQ(plans[at["ct"]].precond.eval.form, PrecondForm::cm);
  EXPECT_EQ(plans[at["ect"]].precond.train.form, PrecondForm::edm);
  EXPECT_EQ(plans[at["ect"]].precond.eval.form, PrecondForm::cm);
  EXPECT_DOUBLE_EQ(plans[at["ect"]].precond.eval.eps_b, 0.003);

  // Evaluation: NFEs, levels and reference of the stage; sample counts and seed sets of the suite.
  EXPECT_EQ(ct.evaluation.nfe, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(ct.evaluation.sigmas.at(2), std::vector<double>{1.3824});
  EXPECT_EQ(ect.evaluation.sigmas.at(2), std::vector<double>{0.821});
  EXPECT_EQ(ct.evaluation.reference_images, "cifar10:test");
  EXPECT_EQ(ect.evaluation.reference_images, "cifar10:train");
  EXPECT_NE(ct.evaluation.reference_key(), ect.evaluation.reference_key());
  EXPECT_EQ(ct.evaluation.seed_sets.size(), 2u);
  EXPECT_EQ(teacher.evaluation.nfe, (std::vector<int64_t>{5, 9}));

  // Sampler knobs: the stage's keys over the suite's, an NFE's table over the stage's.
  EXPECT_DOUBLE_EQ(teacher.evaluation.knobs_at(5).s_churn, 40.0);
  EXPECT_DOUBLE_EQ(teacher.evaluation.knobs_at(5).s_min, 0.05);
  EXPECT_DOUBLE_EQ(teacher.evaluation.knobs_at(5).s_noise, 1.003);
  EXPECT_DOUBLE_EQ(teacher.evaluation.knobs_at(5).guidance, 1.5);
  EXPECT_DOUBLE_EQ(teacher.evaluation.knobs_at(9).s_churn, 0.0);
  EXPECT_DOUBLE_EQ(teacher.evaluation.knobs_at(9).s_noise, 1.003);
  ASSERT_TRUE(ct.evaluation.sampler.clamp.has_value());
  EXPECT_FALSE(*ct.evaluation.sampler.clamp);
  EXPECT_DOUBLE_EQ(ct.evaluation.sampler.guidance, 1.5);
  EXPECT_FALSE(ect.evaluation.sampler.clamp.has_value());
}

TEST(SuiteParse, StageEvaluationMistakesNameTheLine) {
  const auto with = [](const std::string& table) {
    return error_of(suite_text(R"(
[stages.ct]
method = "ct"
steps = 2
nfe = [1]
)" + table));
  };
  EXPECT_NE(with("[stages.ct.evaluation]\nnum_samples = 8\n").find("s.toml:"), std::string::npos);
  EXPECT_NE(with("[stages.ct.evaluation]\nnum_samples = 8\n").find("'num_samples' is suite-wide"), std::string::npos);
  EXPECT_NE(with("[stages.ct.evaluation]\nnfe = [2]\n").find("sets its NFEs twice"), std::string::npos);
  EXPECT_NE(with("[stages.ct.evaluation]\nsampling = 1\n").find("unknown key 'sampling'"), std::string::npos);
  EXPECT_NE(with("[stages.ct.evaluation.sampler]\ns_churn = 40.0\n").find("stage 'ct' (ct, sampler cm)"),
            std::string::npos);
  EXPECT_NE(with("[stages.ct.evaluation.sampler_by_nfe.x]\nclamp = true\n").find("keys are NFE counts"),
            std::string::npos);
  EXPECT_NE(with("[stages.ct.evaluation]\nposthoc_sigma_rel = [0.3]\n").find("must be in (0, 0.28)"),
            std::string::npos);
  EXPECT_NE(with("[stages.ct.data]\nflip = 3\n").find("no error"), std::string::npos);  // read by the plan
  EXPECT_THROW(plan_suite_training(parse_suite(suite_text(R"(
[stages.ct]
method = "ct"
steps = 2
data = { flip = 3 }
)"), "s.toml")), InputError);
}

TEST(SuiteParse, EvaluatedProfilesMustBeTrained) {
  const auto plan_error = [](const std::string& extra) {
    try {
      plan_suite_training(parse_suite(suite_text(R"(
[stages.ct]
method = "ct"
steps = 2
)" + extra), "s.toml"));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(plan_error("[stages.ct.evaluation]\nema = [\"model\"]\n"), "no error");
  const auto unknown = plan_error("[stages.ct.evaluation]\nema = [\"0.999\"]\n");
  EXPECT_NE(unknown.find("evaluates EMA profile '0.999', which it does not train"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("s.toml:"), std::string::npos) << unknown;
  const auto posthoc = plan_error("[stages.ct.evaluation]\nposthoc_sigma_rel = [0.05]\n");
  EXPECT_NE(posthoc.find("trains no power-function EMA profile"), std::string::npos) << posthoc;
  EXPECT_EQ(plan_error("[stages.ct.ema]\nphema = { name = \"p10\", kind = \"power\", sigma_rel = 0.1 }\n"
                       "[stages.ct.evaluation]\nposthoc_sigma_rel = [0.05]\nema = [\"p10\"]\n"),
            "no error");
}

TEST(SuiteParse, PublishedRowsBindToAStageOrToNone) {
  const auto row = [](const std::string& keys) {
    return "\n[[reference]]\nlabel = \"X\"\nnfe = 1\nvalue = 1.0\nsource = \"Paper, Table 1\"\n" + keys;
  };
  const auto suite = parse_suite(suite_text(kStages, row("stage = \"ct\"\n") + row("method = \"ct\"\n") + row("")),
                                 "s.toml");
  ASSERT_EQ(suite.record.references.size(), 3u);
  EXPECT_EQ(suite.record.references[0].method, "ct");  // from its stage
  EXPECT_EQ(suite.record.references[0].stage, "ct");
  EXPECT_EQ(suite.record.references[1].stage, "");
  EXPECT_EQ(suite.record.references[2].method, "");  // a method this suite does not train
  EXPECT_NE(error_of(suite_text(kStages, row("stage = \"nope\"\n"))).find("unknown stage 'nope'"), std::string::npos);
  EXPECT_NE(error_of(suite_text(kStages, row("stage = \"ct\"\nmethod = \"ect\"\n"))).find("stage 'ct' trains ct"),
            std::string::npos);
}

TEST(SuiteParse, DryRunDescribesEachStage) {
  const auto suite = parse_suite(suite_text(kProtocolStages, R"(
[[reference]]
stage = "ct"
label = "CT-LPIPS"
nfe = 1
value = 8.70
source = "Song et al. 2023, Consistency Models, Table 1"
)"), "s.toml");
  const auto text = describe_plan(suite, plan_suite_training(suite), "runs/x");
  const auto block = text.substr(text.find("stage ct (ct)"));
  const auto ct = block.substr(0, block.find("\nstage ", 1));
  EXPECT_NE(ct.find("precond    train cm (eps_b 0.002), eval cm (eps_b 0.002)"), std::string::npos) << ct;
  EXPECT_NE(ct.find("network    cifar10-ddpmpp-tiny\n"), std::string::npos) << ct;
  EXPECT_NE(ct.find("data       gaussian, flips on"), std::string::npos) << ct;
  EXPECT_NE(ct.find("budget     2 steps x batch 8 = 16 images"), std::string::npos) << ct;
  EXPECT_NE(ct.find("sampler    NFE 2: cm levels [80, 1.3824]; x0 not clamped"), std::string::npos) << ct;
  EXPECT_NE(ct.find("metric     swd"), std::string::npos) << ct;
  EXPECT_NE(ct.find("vs 16 images of cifar10:test"), std::string::npos) << ct;
  EXPECT_NE(ct.find("published  CT-LPIPS NFE 1: fid 8.7 (Song et al. 2023, Consistency Models, Table 1)"),
            std::string::npos) << ct;
  const auto teacher = text.substr(text.find("stage teacher (edm)"));
  EXPECT_NE(teacher.find("S_churn 40"), std::string::npos) << teacher;
  EXPECT_NE(text.find("stage ect (ect), after teacher"), std::string::npos) << text;
}

// The dry run's counts include the metric curve's points: CT for 10 steps with curve_every 4 is
// evaluated at steps 4, 8 and 10, each at NFE 1 and 2 on 2 seed sets of 16.
TEST(SuiteParse, DryRunCountsCurvePoints) {
  auto text = suite_text("\n[stages.ct]\nmethod = \"ct\"\nsteps = 10\n");
  text.replace(text.find("[evaluation]\n"), 13, "[evaluation]\ncurve_every = 4\n");
  const auto suite = parse_suite(text, "s.toml");
  const auto plan = describe_plan(suite, plan_suite_training(suite), "runs/x");
  const auto row = plan.substr(plan.find("\n1   ct") + 1, plan.find('\n', plan.find("\n1   ct") + 1) - plan.find("\n1   ct") - 1);
  std::istringstream tokens(row);
  std::vector<std::string> cells{std::istream_iterator<std::string>(tokens), std::istream_iterator<std::string>()};
  ASSERT_EQ(cells.size(), 11u) << row;
  EXPECT_EQ(cells[8], "3") << row;                      // points
  EXPECT_EQ(cells[9], std::to_string(3 * 2 * 2 * 16)) << row;  // sample img
  EXPECT_EQ(cells[10], std::to_string(3 * 2 * 16 * (1 + 2))) << row;  // net evals: NFE 1 + NFE 2
}
