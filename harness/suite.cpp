#include "harness/suite.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "data/gmm_source.h"
#include "methods/registry.h"
#include "harness/sample.h"
#include "methods/sampler.h"
#include "metrics/image_set_features.h"
#include "metrics/vgg16_detector.h"
#include "metrics/registry.h"

namespace cmbench {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// A table of the suite file with the suite's rules on top of Config's typed access: the keys a
// table may hold, required keys, positive counts; every message names the file and line.
class Reader {
 public:
  Reader(Config table, std::string name) : table_(std::move(table)), name_(std::move(name)) {}

  void only(const std::vector<std::string>& known) const {
    for (const auto& k : table_.unknown_keys(known)) {
      throw InputError(fmt::format("{}: unknown key '{}' in [{}] (known: {})", table_.where(k), k, name_, join(known)));
    }
  }
  bool has(const std::string& key) const { return table_.has(key); }
  std::string at(const std::string& key) const { return table_.where(key); }
  std::string here() const { return table_.where(); }

  template <class T>
  T get(const std::string& key) const {
    if (!has(key)) throw InputError(fmt::format("{}: [{}] needs key '{}'", here(), name_, key));
    return table_.get<T>(key);
  }
  std::string text(const std::string& key) const { return get<std::string>(key); }
  std::string text_or(const std::string& key, const std::string& fallback) const { return has(key) ? text(key) : fallback; }
  int64_t integer(const std::string& key) const { return get<int64_t>(key); }
  int64_t positive(const std::string& key) const {
    const int64_t v = integer(key);
    if (v <= 0) throw InputError(fmt::format("{}: '{}' in [{}] must be positive", at(key), key, name_));
    return v;
  }
  int64_t integer_or(const std::string& key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }
  double real(const std::string& key) const { return get<double>(key); }
  double real_or(const std::string& key, double fallback) const { return has(key) ? real(key) : fallback; }
  bool boolean_or(const std::string& key, bool fallback) const { return has(key) ? get<bool>(key) : fallback; }
  std::vector<std::string> texts(const std::string& key) const { return get<std::vector<std::string>>(key); }
  std::vector<int64_t> integers(const std::string& key) const { return get<std::vector<int64_t>>(key); }
  std::vector<double> reals(const std::string& key) const { return get<std::vector<double>>(key); }
  Reader table(const std::string& key) const {
    if (!has(key)) throw InputError(fmt::format("{}: [{}] needs key '{}'", here(), name_, key));
    return Reader(table_.sub(key), name_.empty() ? key : name_ + "." + key);
  }
  std::vector<std::string> keys() const { return table_.keys(); }
  uint32_t line(const std::string& key) const { return table_.line(key); }
  const Config& config() const { return table_; }
  const std::string& name() const { return name_; }

 private:
  Config table_;
  std::string name_;
};

void check_nfe(const std::vector<int64_t>& nfe, const std::string& at) {
  if (nfe.empty()) throw InputError(fmt::format("{}: the NFE list is empty", at));
  for (const int64_t n : nfe) {
    if (n <= 0) throw InputError(fmt::format("{}: NFE {} must be positive", at, n));
  }
}

// Dependency order, file order among independent stages; unknown stages and cycles name the line.
std::vector<SuiteStage> order_stages(std::vector<SuiteStage> stages) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < stages.size(); ++i) index[stages[i].name] = i;
  for (const auto& s : stages) {
    for (const auto& d : s.depends) {
      if (!index.count(d)) throw InputError(fmt::format("{}: stage '{}' depends on unknown stage '{}'", s.where, s.name, d));
      if (d == s.name) throw InputError(fmt::format("{}: stage '{}' depends on itself", s.where, s.name));
    }
  }
  std::vector<int> state(stages.size(), 0);  // 0 new, 1 on the path, 2 done
  std::vector<std::string> path;
  std::vector<SuiteStage> out;
  std::function<void(size_t)> visit = [&](size_t i) {
    if (state[i] == 2) return;
    if (state[i] == 1) {
      std::string cycle;
      auto start = std::find(path.begin(), path.end(), stages[i].name);
      for (auto it = start; it != path.end(); ++it) cycle += *it + " -> ";
      throw InputError(fmt::format("{}: dependency cycle {}{}", stages[i].where, cycle, stages[i].name));
    }
    state[i] = 1;
    path.push_back(stages[i].name);
    for (const auto& d : stages[i].depends) visit(index.at(d));
    path.pop_back();
    state[i] = 2;
    out.push_back(stages[i]);
  };
  for (size_t i = 0; i < stages.size(); ++i) visit(i);
  return out;
}

// A key of a table keyed by NFE ([evaluation.sigmas], sampler_by_nfe) as a count >= `minimum`.
int64_t nfe_key(const Reader& table, const std::string& key, int64_t minimum) {
  try {
    size_t used = 0;
    const int64_t nfe = std::stoll(key, &used);
    if (used == key.size() && nfe >= minimum) return nfe;
  } catch (const std::exception&) {
  }
  const std::string bound = minimum > 1 ? fmt::format(" >= {}", minimum) : "";
  throw InputError(fmt::format("{}: [{}] keys are NFE counts{}, not '{}'", table.at(key), table.name(), bound, key));
}

NfeLevels parse_sigmas(const Reader& sigmas) {
  NfeLevels out;
  for (const auto& k : sigmas.keys()) {
    const int64_t nfe = nfe_key(sigmas, k, 2);
    auto levels = sigmas.reals(k);
    if (static_cast<int64_t>(levels.size()) != nfe - 1) {
      throw InputError(fmt::format("{}: NFE {} needs {} intermediate sigma(s), found {}", sigmas.at(k), nfe, nfe - 1,
                                   levels.size()));
    }
    for (size_t i = 0; i < levels.size(); ++i) {
      if (levels[i] <= 0 || (i > 0 && levels[i] >= levels[i - 1])) {
        throw InputError(fmt::format("{}: sigmas for NFE {} must be positive and descending", sigmas.at(k), nfe));
      }
    }
    out[nfe] = levels;
  }
  return out;
}

// [evaluation.reference] keys over `e`'s (a stage's table overrides the suite's key by key).
void parse_reference(const Reader& ref, SuiteEvaluation& e) {
  ref.only({"images", "statistics", "weights", "dinov2_weights", "vgg16"});
  e.reference_images = ref.text_or("images", e.reference_images);
  e.reference_statistics = ref.text_or("statistics", e.reference_statistics);
  e.weights = ref.text_or("weights", e.weights);
  e.dinov2_weights = ref.text_or("dinov2_weights", e.dinov2_weights);
  e.vgg16 = ref.text_or("vgg16", e.vgg16);
}

// The keys a stage's [stages.NAME.evaluation] may set as well as the suite's [evaluation].
void parse_shared_evaluation_keys(const Reader& r, SuiteEvaluation& e) {
  if (r.has("nfe")) {
    e.nfe = r.integers("nfe");
    check_nfe(e.nfe, r.at("nfe"));
  }
  if (r.has("sigmas")) {
    for (auto& [nfe, levels] : parse_sigmas(r.table("sigmas"))) e.sigmas[nfe] = levels;
  }
  if (r.has("ema")) {
    e.ema = r.texts("ema");
    std::set<std::string> seen;
    for (const auto& name : e.ema) {
      if (name.empty() || !seen.insert(name).second) {
        throw InputError(fmt::format("{}: EMA profile names must be non-empty and distinct", r.at("ema")));
      }
    }
  }
  if (r.has("posthoc_sigma_rel")) {
    e.posthoc_sigma_rel = r.reals("posthoc_sigma_rel");
    for (const double s : e.posthoc_sigma_rel) {
      // EDM2's profiles are defined for sigma_rel in (0, 0.28] (gamma > 0 in power_ema_gamma).
      if (!(s > 0.0 && s < 0.28)) {
        throw InputError(fmt::format("{}: posthoc_sigma_rel {} must be in (0, 0.28)", r.at("posthoc_sigma_rel"), s));
      }
    }
  }
  if (r.has("curve_every")) e.curve_every = r.positive("curve_every");
  if (r.has("reference")) parse_reference(r.table("reference"), e);
}

// The sampler tables, each one's keys over those before it, read into typed knobs.
SamplerKnobs merged_sampler_knobs(const std::vector<Config>& tables) {
  Config merged;
  merged.put("sampler", Config());
  for (const auto& t : tables) merged.merge("sampler", t);
  return read_sampler_knobs(merged.sub("sampler"));
}

// The raw sampler tables of one level (a suite's [evaluation] or a stage's [stages.NAME.evaluation]).
struct SamplerTables {
  Config all;                          // [..sampler]
  std::map<int64_t, Config> by_nfe;    // [..sampler_by_nfe.N]
};

SamplerTables sampler_tables(const Reader& r) {
  SamplerTables out;
  if (r.has("sampler")) out.all = r.table("sampler").config();
  if (r.has("sampler_by_nfe")) {
    const auto by = r.table("sampler_by_nfe");
    for (const auto& k : by.keys()) {
      out.by_nfe[nfe_key(by, k, 1)] = by.table(k).config();
    }
  }
  return out;
}

// The knobs of every level, later levels' keys over earlier ones, NFE tables over the level's table.
void resolve_knobs(const std::vector<SamplerTables>& levels, SuiteEvaluation& e) {
  std::vector<Config> all;
  std::set<int64_t> nfes;
  for (const auto& level : levels) {
    all.push_back(level.all);
    for (const auto& [nfe, table] : level.by_nfe) nfes.insert(nfe);
  }
  e.sampler = merged_sampler_knobs(all);
  e.sampler_by_nfe.clear();
  for (const int64_t nfe : nfes) {
    std::vector<Config> tables = all;
    for (const auto& level : levels) {
      const auto it = level.by_nfe.find(nfe);
      if (it != level.by_nfe.end()) tables.push_back(it->second);
    }
    e.sampler_by_nfe[nfe] = merged_sampler_knobs(tables);
  }
}

void apply_stage_evaluation(const Reader& r, const SamplerTables& suite_sampler, SuiteEvaluation& e) {
  const std::vector<std::string> suite_wide = {"num_samples", "seed_sets", "batch", "grid", "allow_protocol_mismatch",
                                               "is_shuffle_seed", "truth_probes", "target_draws"};
  for (const auto& key : suite_wide) {
    if (r.has(key)) {
      throw InputError(fmt::format("{}: '{}' is suite-wide: set it in [evaluation] (every stage is measured alike)",
                                   r.at(key), key));
    }
  }
  r.only({"nfe", "sigmas", "sampler", "sampler_by_nfe", "ema", "posthoc_sigma_rel", "reference", "curve_every"});
  parse_shared_evaluation_keys(r, e);
  resolve_knobs({suite_sampler, sampler_tables(r)}, e);
}

SuiteEvaluation parse_evaluation(const Reader& r) {
  r.only({"nfe", "sigmas", "num_samples", "seed_sets", "batch", "grid", "reference", "allow_protocol_mismatch",
          "is_shuffle_seed", "sampler", "sampler_by_nfe", "ema", "posthoc_sigma_rel", "curve_every", "truth_probes",
          "target_draws"});
  SuiteEvaluation e;
  e.nfe = r.integers("nfe");
  parse_shared_evaluation_keys(r, e);
  resolve_knobs({sampler_tables(r)}, e);
  e.num_samples = r.positive("num_samples");
  for (const auto& text : r.texts("seed_sets")) {
    const auto range = parse_seed_range(text, r.at("seed_sets") + ": seed set");
    if (range.count() != e.num_samples) {
      throw InputError(fmt::format("{}: seed set '{}' holds {} seeds, num_samples is {}", r.at("seed_sets"), text,
                                   range.count(), e.num_samples));
    }
    e.seed_sets.push_back(range);
  }
  if (e.seed_sets.empty()) throw InputError(fmt::format("{}: seed_sets is empty", r.at("seed_sets")));
  e.batch = r.has("batch") ? r.positive("batch") : e.batch;
  e.grid = r.boolean_or("grid", true);
  if (r.has("truth_probes")) e.truth_probes = r.positive("truth_probes");
  if (r.has("target_draws")) e.target_draws = r.positive("target_draws");
  e.allow_protocol_mismatch = r.boolean_or("allow_protocol_mismatch", false);
  if (r.has("is_shuffle_seed")) {
    const auto seed = r.integer("is_shuffle_seed");
    if (seed < 0 || seed > 0xffffffffLL) {
      throw InputError(fmt::format("{}: is_shuffle_seed must be in [0, 2^32 - 1]", r.at("is_shuffle_seed")));
    }
    e.is_shuffle_seed = static_cast<uint32_t>(seed);
  }
  return e;
}

// The stage's option, train, net and EMA tables are views of the parsed suite file, so the
// trainer's messages name the suite file and line of each key.
SuiteStage parse_stage(const Reader& r, const std::string& name, const SuiteEvaluation& evaluation,
                       const SamplerTables& suite_sampler, int64_t default_batch) {
  r.only({"method", "description", "depends", "init", "teacher", "steps", "images", "batch", "options", "train", "net",
          "ema", "data", "precond", "evaluation", "nfe"});
  SuiteStage s;
  s.name = name;
  s.where = r.here();
  if (name.find('.') != std::string::npos) throw InputError(fmt::format("{}: stage name '{}' must not contain '.'", s.where, name));
  s.method = r.text("method");
  if (!method_registry().contains(s.method)) {
    throw InputError(fmt::format("{}: unknown method '{}' (known: {})", r.at("method"), s.method,
                                 method_registry().joined_names()));
  }
  // The method's rules (teacher, sampler) come from its registry entry, read with default options.
  const auto method = make_method(s.method);
  s.sampler = method->default_sampler();
  s.description = r.text_or("description", "");
  s.init = r.text_or("init", "");
  s.teacher = r.text_or("teacher", "");
  if (method->needs_teacher() && s.teacher.empty()) {
    throw InputError(fmt::format("{}: stage '{}' ({}) needs teacher = STAGE", s.where, name, s.method));
  }
  if (r.has("depends")) s.depends = r.texts("depends");
  for (const auto& d : {s.init, s.teacher}) {
    if (!d.empty() && std::find(s.depends.begin(), s.depends.end(), d) == s.depends.end()) s.depends.push_back(d);
  }
  s.batch = r.has("batch") ? r.positive("batch") : default_batch;
  if (s.batch <= 0) throw InputError(fmt::format("{}: stage '{}' needs batch (or train.batch)", s.where, name));
  if (r.has("steps") == r.has("images")) {
    throw InputError(fmt::format("{}: stage '{}' needs exactly one budget: steps or images", s.where, name));
  }
  if (r.has("steps")) {
    s.steps = r.positive("steps");
  } else {
    const int64_t images = r.positive("images");
    s.steps = images / s.batch + (images % s.batch != 0);  // rounded up without overflowing near 2^63
  }
  const auto table = [&](const char* key) { return r.has(key) ? r.table(key).config() : Config(); };
  s.options = table("options");
  if (s.options.has("name")) {
    throw InputError(fmt::format("{}: the method name belongs in stages.{}.method", s.options.where("name"), name));
  }
  s.train = table("train");
  s.net = table("net");
  s.ema = table("ema");
  s.data = table("data");
  s.precond = table("precond");
  for (const char* owned : {"steps", "batch", "init", "teacher"}) {
    if (s.train.has(owned)) {
      throw InputError(fmt::format("{}: set '{}' on the stage itself, not in stages.{}.train", s.train.where(owned), owned,
                                   name));
    }
  }
  s.evaluation = evaluation;
  if (r.has("evaluation")) {
    const auto own = r.table("evaluation");
    if (r.has("nfe") && own.has("nfe")) {
      throw InputError(fmt::format("{}: stage '{}' sets its NFEs twice (nfe and evaluation.nfe)", r.at("nfe"), name));
    }
    apply_stage_evaluation(own, suite_sampler, s.evaluation);
  }
  if (r.has("nfe")) {
    s.evaluation.nfe = r.integers("nfe");
    check_nfe(s.evaluation.nfe, r.at("nfe"));
  }
  const auto at = r.has("evaluation") ? r.table("evaluation").here() : s.where;
  const auto sampler = make_sampler(s.sampler);
  for (const int64_t n : s.evaluation.nfe) {
    try {
      sampler->settings_for_nfe(n, s.evaluation.sigmas);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: stage '{}' ({}, sampler {}): {}", r.has("nfe") ? r.at("nfe") : at, name,
                                   s.method, s.sampler, e.what()));
    }
  }
  try {
    sampler->check_knobs(s.evaluation.sampler);
    for (const auto& [nfe, knobs] : s.evaluation.sampler_by_nfe) sampler->check_knobs(knobs);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: stage '{}' ({}, sampler {}): {}", at, name, s.method, s.sampler, e.what()));
  }
  return s;
}

results::MetricPolicy default_policy(const MetricOutput& output) {
  return {output.name, output.higher_is_better ? "higher" : "lower", output.rtol, output.atol, output.aggregate};
}

// What a metric needs from [evaluation.reference]; InputError at `at` when the suite lacks it.
void check_reference(const Metric& metric, const std::string& name, const SuiteEvaluation& e, const std::string& at) {
  const auto features = metric.features();
  if (needs_detector(features) && e.weights.empty()) {
    throw InputError(fmt::format("{}: metric '{}' needs [evaluation.reference] weights", at, name));
  }
  if (needs_dinov2(features) && e.dinov2_weights.empty()) {
    throw InputError(fmt::format("{}: metric '{}' needs [evaluation.reference] dinov2_weights ({})", at, name,
                                 dinov2_missing_weights_message()));
  }
  if (needs_vgg16(features) && e.vgg16.empty()) {
    throw InputError(fmt::format("{}: metric '{}' needs [evaluation.reference] vgg16 ({})", at, name,
                                 missing_vgg16_message()));
  }
  if (features.count(Feature::ground_truth) && !parse_gmm_spec(e.reference_images)) {
    throw InputError(fmt::format("{}: metric '{}' needs [evaluation.reference] images = \"gmm:FILE.npz\" (the exact "
                                 "mixture it compares with; got \"{}\")", at, name, e.reference_images));
  }
  if (metric.image_sets() < 2) return;
  for (const auto feature : features) {
    const bool from_statistics = is_statistics_feature(feature) && !metric.equal_set_sizes();
    if (from_statistics && e.reference_statistics.empty() && e.reference_images.empty()) {
      throw InputError(fmt::format("{}: metric '{}' needs [evaluation.reference] statistics or images", at, name));
    }
    if (!from_statistics && e.reference_images.empty()) {
      throw InputError(fmt::format("{}: metric '{}' needs [evaluation.reference] images", at, name));
    }
  }
}

// [metrics.NAME] for any value of the metric registry, with the registry's direction, tolerance
// and aggregation as defaults. A metric named through one of its values stores all of them
// (is_mean brings is_std), so those the suite leaves out get the registry's policy.
std::vector<results::MetricPolicy> parse_metrics(const Reader& r, const SuiteEvaluation& e) {
  std::vector<results::MetricPolicy> out;
  std::set<std::string> named, metrics;
  for (const auto& name : r.keys()) {
    const std::string metric_name = metric_of_output(name);
    if (metric_name.empty()) {
      throw InputError(fmt::format("{}: unknown metric '{}' (known: {})", r.at(name), name, join(metric_output_names())));
    }
    const auto metric = metric_registry().create(metric_name);
    const auto m = r.table(name);
    m.only({"direction", "rtol", "atol", "aggregate"});
    MetricOutput defaults;
    for (const auto& o : metric->outputs()) {
      if (o.name == name) defaults = o;
    }
    auto p = default_policy(defaults);
    p.direction = m.text_or("direction", p.direction);
    if (p.direction != "lower" && p.direction != "higher") {
      throw InputError(fmt::format("{}: direction must be \"lower\" or \"higher\"", m.at("direction")));
    }
    p.rtol = m.real_or("rtol", p.rtol);
    p.atol = m.real_or("atol", p.atol);
    if (p.rtol < 0 || p.atol < 0) throw InputError(fmt::format("{}: tolerances must be >= 0", m.here()));
    p.aggregate = m.text_or("aggregate", p.aggregate);
    if (p.aggregate != "mean" && p.aggregate != "min" && p.aggregate != "max") {
      throw InputError(fmt::format("{}: aggregate must be mean, min or max", m.at("aggregate")));
    }
    check_reference(*metric, name, e, m.here());
    out.push_back(p);
    named.insert(name);
    metrics.insert(metric_name);
  }
  if (out.empty()) throw InputError(fmt::format("{}: [metrics] names no metric", r.here()));
  for (const auto& metric_name : metrics) {
    for (const auto& o : metric_registry().create(metric_name)->outputs()) {
      if (!named.count(o.name)) out.push_back(default_policy(o));
    }
  }
  return out;
}

std::vector<results::ReferenceRow> parse_references(const Config& file, const std::vector<SuiteStage>& stages) {
  std::vector<results::ReferenceRow> out;
  const size_t count = file.count("reference");
  for (size_t i = 0; i < count; ++i) {
    const Reader r(file.sub("reference." + std::to_string(i)), "[reference]");
    r.only({"method", "label", "nfe", "metric", "value", "num_samples", "source", "stage"});
    results::ReferenceRow row;
    // A row without a method is printed beside the results but compares with no stage (a method
    // this suite does not train, e.g. sCT).
    row.method = r.text_or("method", "");
    if (!row.method.empty() && !method_registry().contains(row.method)) {
      throw InputError(fmt::format("{}: unknown method '{}' (known: {})", r.at("method"), row.method,
                                   method_registry().joined_names()));
    }
    row.label = r.text("label");
    row.nfe = r.positive("nfe");
    row.metric = r.text_or("metric", "fid");
    row.value = r.real("value");
    row.num_samples = r.integer_or("num_samples", 50000);
    row.citation = r.text("source");
    row.stage = r.text_or("stage", "");
    if (!row.stage.empty()) {
      const auto it = std::find_if(stages.begin(), stages.end(), [&](const SuiteStage& s) { return s.name == row.stage; });
      if (it == stages.end()) throw InputError(fmt::format("{}: unknown stage '{}'", r.at("stage"), row.stage));
      if (row.method.empty()) row.method = it->method;
      if (it->method != row.method) {
        throw InputError(fmt::format("{}: stage '{}' trains {}, the row compares with {}", r.at("stage"), row.stage,
                                     it->method, row.method));
      }
    }
    out.push_back(row);
  }
  return out;
}

// What each finding kind reads (results/records.h, FindingSpec): stage counts and NFE counts.
struct FindingShape {
  size_t min_stages, max_stages, nfe_count;
  bool reads_others;
};

const std::map<std::string, FindingShape>& finding_shapes() {
  static const std::map<std::string, FindingShape> shapes = {
      {"below", {2, 2, 1, false}},
      {"decreasing", {2, SIZE_MAX, 1, false}},
      {"reaches_first", {1, SIZE_MAX, 1, true}},
      {"nfe_improves", {1, SIZE_MAX, 2, false}},
      {"curve_not_worse", {2, 2, 1, false}},
  };
  return shapes;
}

std::string finding_kinds() {
  std::vector<std::string> names;
  for (const auto& [name, shape] : finding_shapes()) names.push_back(name);
  return join(names);
}

// Stage names of a finding's list: each known, none twice.
std::vector<std::string> finding_stages(const Reader& r, const std::string& key, const std::vector<SuiteStage>& stages,
                                        std::set<std::string>& seen) {
  std::vector<std::string> out = r.texts(key);
  for (const auto& name : out) {
    const bool known =
        std::any_of(stages.begin(), stages.end(), [&](const SuiteStage& s) { return s.name == name; });
    if (!known) throw InputError(fmt::format("{}: unknown stage '{}' in '{}'", r.at(key), name, key));
    if (!seen.insert(name).second) throw InputError(fmt::format("{}: stage '{}' is named twice", r.at(key), name));
  }
  return out;
}

std::vector<results::FindingSpec> parse_findings(const Config& file, const std::vector<SuiteStage>& stages,
                                                 const std::vector<results::MetricPolicy>& metrics) {
  std::vector<results::FindingSpec> out;
  std::set<std::string> ids;
  const size_t count = file.count("finding");
  for (size_t i = 0; i < count; ++i) {
    const Reader r(file.sub("finding." + std::to_string(i)), "[finding]");
    r.only({"id", "claim", "kind", "stages", "others", "metrics", "nfe", "threshold", "rtol", "ema", "why"});
    results::FindingSpec f;
    f.id = r.text("id");
    if (f.id.empty() || !ids.insert(f.id).second) {
      throw InputError(fmt::format("{}: finding id '{}' must be non-empty and unique", r.at("id"), f.id));
    }
    f.claim = r.text("claim");
    f.kind = r.text("kind");
    const auto shape = finding_shapes().find(f.kind);
    if (shape == finding_shapes().end()) {
      throw InputError(fmt::format("{}: unknown finding kind '{}' (known: {})", r.at("kind"), f.kind, finding_kinds()));
    }
    const auto& [min_stages, max_stages, nfe_count, reads_others] = shape->second;
    std::set<std::string> seen;
    f.stages = finding_stages(r, "stages", stages, seen);
    if (f.stages.size() < min_stages || f.stages.size() > max_stages) {
      const auto wanted = min_stages == max_stages ? fmt::format("exactly {}", min_stages)
                                                   : fmt::format("at least {}", min_stages);
      throw InputError(fmt::format("{}: a '{}' finding compares {} stages, found {}", r.at("stages"), f.kind, wanted,
                                   f.stages.size()));
    }
    for (const char* key : {"others", "threshold"}) {
      if (r.has(key) != reads_others) {
        throw InputError(fmt::format("{}: '{}' {} a '{}' finding", reads_others ? r.here() : r.at(key), key,
                                     reads_others ? "is needed by" : "is for reaches_first, not", f.kind));
      }
    }
    if (reads_others) {
      f.others = finding_stages(r, "others", stages, seen);
      if (f.others.empty()) throw InputError(fmt::format("{}: 'others' is empty", r.at("others")));
      f.threshold = r.real("threshold");
    }
    f.metrics = r.texts("metrics");
    if (f.metrics.empty()) throw InputError(fmt::format("{}: 'metrics' is empty", r.at("metrics")));
    if (reads_others && f.metrics.size() != 1) {
      throw InputError(fmt::format("{}: a reaches_first finding reads one metric", r.at("metrics")));
    }
    for (const auto& metric : f.metrics) {
      const bool known =
          std::any_of(metrics.begin(), metrics.end(), [&](const results::MetricPolicy& p) { return p.metric == metric; });
      if (!known) {
        std::vector<std::string> names;
        for (const auto& p : metrics) names.push_back(p.metric);
        throw InputError(fmt::format("{}: metric '{}' is not one the suite measures (its [metrics]: {})", r.at("metrics"),
                                     metric, join(names)));
      }
    }
    f.nfe = r.integers("nfe");
    if (f.nfe.size() != nfe_count) {
      throw InputError(fmt::format("{}: a '{}' finding reads {} NFE value(s), found {}", r.at("nfe"), f.kind, nfe_count,
                                   f.nfe.size()));
    }
    for (const int64_t n : f.nfe) {
      if (n < 0) throw InputError(fmt::format("{}: NFE {} must be >= 0", r.at("nfe"), n));
    }
    if (nfe_count == 2 && f.nfe[0] == f.nfe[1]) {
      throw InputError(fmt::format("{}: nfe_improves compares two different NFEs", r.at("nfe")));
    }
    f.rtol = r.real_or("rtol", 0.0);
    if (!(f.rtol >= 0)) throw InputError(fmt::format("{}: rtol must be >= 0", r.at("rtol")));
    f.ema = r.text_or("ema", "");
    f.why = r.text_or("why", "");
    out.push_back(f);
  }
  return out;
}

}  // namespace


std::string SuiteEvaluation::reference_key() const {
  return fmt::format("{}\n{}\n{}\n{}\n{}", reference_images, reference_statistics, weights, dinov2_weights, vgg16);
}

const SamplerKnobs& SuiteEvaluation::knobs_at(int64_t nfe) const {
  const auto it = sampler_by_nfe.find(nfe);
  return it == sampler_by_nfe.end() ? sampler : it->second;
}

std::string Suite::dataset() const { return base.has("data.source") ? base.get<std::string>("data.source") : ""; }

Suite parse_suite(const std::string& text, const std::string& source) {
  const auto file = Config::from_string(text, source);
  const Reader r(file, "");
  r.only({"suite", "data", "net", "precond", "ema", "train", "stages", "evaluation", "metrics", "reference",
          "finding"});
  Suite suite;
  suite.path = source;
  const auto head = r.table("suite");
  head.only({"name", "description", "seed"});
  suite.name = head.text("name");
  if (suite.name.empty() || suite.name.find_first_of("/\\ ") != std::string::npos) {
    throw InputError(fmt::format("{}: suite name '{}' must be non-empty without spaces or slashes", head.at("name"), suite.name));
  }
  suite.description = head.text_or("description", "");
  suite.seed = head.integer_or("seed", 0);

  suite.base = Config::from_string("", source);
  for (const char* key : {"data", "net", "precond", "ema", "train"}) {
    if (r.has(key)) suite.base.put(key, r.table(key).config());
  }
  if (!suite.base.has("data")) throw InputError(fmt::format("{}: missing [data]", source));
  if (!suite.base.has("net")) throw InputError(fmt::format("{}: missing [net]", source));
  if (!suite.base.has("data.source")) throw InputError(fmt::format("{}: [data] needs source", r.at("data")));
  const int64_t default_batch = suite.base.get_or<int64_t>("train.batch", 0);

  suite.evaluation = parse_evaluation(r.table("evaluation"));

  const auto stages = r.table("stages");
  std::vector<std::pair<uint32_t, std::string>> file_order;
  for (const auto& key : stages.keys()) file_order.push_back({stages.line(key), key});
  std::sort(file_order.begin(), file_order.end());
  if (file_order.empty()) throw InputError(fmt::format("{}: [stages] is empty", r.at("stages")));
  std::vector<SuiteStage> parsed;
  const auto evaluation_table = r.table("evaluation");
  const auto suite_sampler = sampler_tables(evaluation_table);
  for (const auto& [line, name] : file_order) {
    parsed.push_back(parse_stage(stages.table(name), name, suite.evaluation, suite_sampler, default_batch));
  }
  suite.stages = order_stages(std::move(parsed));

  suite.record.name = suite.name;
  suite.record.dataset = suite.dataset();
  suite.record.metrics = parse_metrics(r.table("metrics"), suite.evaluation);
  // A stage's own reference must serve the suite's metrics too.
  for (const auto& stage : suite.stages) {
    for (const auto& policy : suite.record.metrics) {
      check_reference(*metric_registry().create(metric_of_output(policy.metric)), policy.metric, stage.evaluation,
                      fmt::format("{} (stage '{}')", stage.where, stage.name));
    }
  }
  if (r.has("reference")) suite.record.references = parse_references(file, suite.stages);
  if (r.has("finding")) suite.record.findings = parse_findings(file, suite.stages, suite.record.metrics);
  return suite;
}

Suite load_suite(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open suite file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_suite(text.str(), path);
}

}  // namespace cmbench
