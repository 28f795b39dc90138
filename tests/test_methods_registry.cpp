// The method registry (methods/registry.h): the make_method(name, preset) shorthand and the message
// for an unknown name. Run-time registration: tests/test_app_plugin_method.cpp.
#include <gtest/gtest.h>

#include "core/error.h"
#include "methods/registry.h"
#include "test_util.h"

namespace cmbench {
namespace {

TEST(MethodRegistry, ShorthandReadsThePresetDefaults) {
  EXPECT_EQ(make_method("ect")->resolved().at("q").get<double>(), 2.0);
  EXPECT_EQ(make_method("ect", "imagenet64")->resolved().at("q").get<double>(), 4.0);
  EXPECT_EQ(make_method("ect", "imagenet64")->resolved(),
            make_method(Config::from_string("name = \"ect\"\npreset = \"imagenet64\"\n", "<test>"))->resolved());
}

TEST(MethodRegistry, UnknownNameListsTheRegisteredOnes) {
  EXPECT_EQ(method_registry().joined_names(), "cd, ct, ect, edm, ict, sct");
  const auto message = test::input_error_message([] { make_method("ctm"); });
  EXPECT_EQ(message, "unknown method 'ctm' (known: cd, ct, ect, edm, ict, sct)");
}

}  // namespace
}  // namespace cmbench
