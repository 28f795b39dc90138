// `cmbench sample --sigmas` parsing (DESIGN.md): numbers, once, at the edge.
#include <gtest/gtest.h>

#include "core/error.h"
#include "harness/sample.h"

namespace cmbench {
namespace {

TEST(SampleSigmas, ParseOnceIntoNumbers) {
  EXPECT_TRUE(parse_sigma_list("").empty());
  EXPECT_EQ(parse_sigma_list("1.5,0.3"), (std::vector<double>{1.5, 0.3}));
  EXPECT_EQ(parse_sigma_list("0.821"), std::vector<double>{0.821});
  try {
    parse_sigma_list("1.5,x");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "--sigmas '1.5,x': 'x' is not a number");
  }
  EXPECT_THROW(parse_sigma_list("0.3q"), InputError);
}

}  // namespace
}  // namespace cmbench
