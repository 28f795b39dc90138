// The program's own __assert_fail (app/libhdf5_assertions.cpp), linked into this test program as it
// is into cmbench. The assertion is raised directly here; in a build whose libhdf5 has assertions
// (the sanitize job's libhdf5 2.2) the CLI test below also reaches it from inside libhdf5.
#include <assert.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>

#include "core/hdf5.h"
#include "test_util.h"

namespace cmbench {
namespace {

TEST(LibHdf5Assertions, OneInLibhdf5WhileAFileIsReadEndsWithOneLineAndStatus2) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        const h5::ReadDeadline deadline("runs/store.h5");
        __assert_fail("H5_addr_defined(addr)", "./src/H5AC.c", 1281, "H5AC_protect");
      },
      testing::ExitedWithCode(2),
      "^cmbench: error: runs/store.h5: libhdf5 stopped on its own check reading this damaged HDF5 file "
      "\\(H5AC.c:1281: H5_addr_defined\\(addr\\)\\)\n$");
}

TEST(LibHdf5Assertions, TheNewestFileBeingReadIsNamed) {
  {
    const h5::ReadDeadline outer("a.h5");
    {
      const h5::ReadDeadline inner("b.h5");
      EXPECT_EQ(h5::file_being_read(), "b.h5");
    }
    EXPECT_EQ(h5::file_being_read(), "a.h5");
  }
  EXPECT_EQ(h5::file_being_read(), std::nullopt);
}

TEST(LibHdf5Assertions, OthersAbortAsGlibcsOwnDoes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // libhdf5's, with no file being read.
  EXPECT_EXIT(__assert_fail("H5_addr_defined(addr)", "./src/H5AC.c", 1281, "H5AC_protect"),
              testing::KilledBySignal(SIGABRT), "\\./src/H5AC\\.c:1281: H5AC_protect: Assertion `H5_addr_defined\\(addr\\)' failed\\.");
  // Not libhdf5's, while a file is being read.
  EXPECT_EXIT(
      {
        const h5::ReadDeadline deadline("a.h5");
        __assert_fail("x > 0", "core/ema.cpp", 7, "update");
      },
      testing::KilledBySignal(SIGABRT), "core/ema\\.cpp:7: update: Assertion `x > 0' failed\\.");
}

// A store whose object header continues at an undefined address: libhdf5 1.10.8 (Debian 12) refuses
// it with an error, libhdf5 2.2 with assertions (Debian testing) aborts in H5AC_protect. Either way
// cmbench answers with one line naming the file and status 2.
TEST(LibHdf5Assertions, ADamagedStoreGivesOneLineWhicheverLibhdf5ReadsIt) {
  const auto store = test::source_path("fuzz/libhdf5-assertions/store/object_header_continuation_at_undefined_address.h5");
  ASSERT_TRUE(std::filesystem::exists(store)) << store;
  for (const std::vector<std::string>& args : {std::vector<std::string>{"table", store},
                                               std::vector<std::string>{"compare", store, store}}) {
    const auto result = test::run_cli(args);
    EXPECT_EQ(result.exit_code, 2) << args[0] << ": " << result.err;
    EXPECT_EQ(result.err.rfind("cmbench: error: " + store + ": ", 0), 0u) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

}  // namespace
}  // namespace cmbench
