#include "results/records.h"

namespace cmbench::results {

MetricPolicy policy_for(const SuiteRecord* suite, const std::string& metric) {
  if (suite) {
    for (const auto& policy : suite->metrics) {
      if (policy.metric == metric) return policy;
    }
  }
  MetricPolicy fallback;
  fallback.metric = metric;
  return fallback;
}

const SuiteRecord* find_suite(const StoreContents& store, const std::string& name) {
  for (const auto& suite : store.suites) {
    if (suite.name == name) return &suite;
  }
  return nullptr;
}

}  // namespace cmbench::results
