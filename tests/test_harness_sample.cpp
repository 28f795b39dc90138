// `cmbench sample` level rules (DESIGN.md: --steps / --sigmas).
#include <gtest/gtest.h>

#include "harness/sample.h"

namespace cmbench {
namespace {

TEST(Samplers, LevelRules) {
  EXPECT_EQ(resolve_levels(0, "", 80, 0.821), std::vector<double>{80.0});
  EXPECT_EQ(resolve_levels(2, "", 80, 0.821), (std::vector<double>{80.0, 0.821}));
  EXPECT_EQ(resolve_levels(0, "1.5,0.3", 80, 0.821), (std::vector<double>{80.0, 1.5, 0.3}));
  EXPECT_EQ(resolve_levels(3, "1.5,0.3", 80, 0.821), (std::vector<double>{80.0, 1.5, 0.3}));
  EXPECT_THROW(resolve_levels(2, "1.5,0.3", 80, 0.821), std::exception);
  EXPECT_THROW(resolve_levels(3, "", 80, 0.821), std::exception);
  EXPECT_THROW(resolve_levels(0, "1.5,x", 80, 0.821), std::exception);
}

}  // namespace
}  // namespace cmbench
