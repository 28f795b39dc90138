// TOML configs and suites (core/config.h, core/config_reader.h, harness/suite.h): the input is a TOML
// text, then after the first NUL byte one `--set key=value` override per line. The text is read as a
// suite file (`cmbench run SUITE`) and, with the overrides, as a training config (`cmbench train
// --config FILE --set ...`).
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "fuzz/util.h"
#include "harness/suite.h"
#include "harness/train_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cmbench::fuzz::init_once();
  if (size > cmbench::fuzz::kMaxInputBytes) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find('\0');
  const std::string text(input.substr(0, split));
  std::vector<std::string> sets;
  if (split != std::string_view::npos) {
    std::string_view rest = input.substr(split + 1);
    while (!rest.empty()) {
      const auto end = rest.find('\n');
      sets.emplace_back(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
  }
  cmbench::fuzz::expect_contract([&] { (void)cmbench::parse_suite(text, "input.toml"); });
  cmbench::fuzz::expect_contract([&] {
    auto config = cmbench::Config::from_string(text, "input.toml");
    config.set_all(sets);
    (void)config.to_toml();
    (void)config.to_json().dump();
    (void)cmbench::read_train_plan(config);
  });
  return 0;
}
