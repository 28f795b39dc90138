// The launcher environments of issue 13: torchrun's variables, an srun task's, none; Slurm host lists.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/error.h"
#include "core/launch_env.h"
#include "test_util.h"

using namespace cmbench;

namespace {

EnvLookup environment(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(std::map<std::string, std::string> vars) {
  return test::input_error_message([&] { read_launch_env(environment(std::move(vars))); });
}

}  // namespace

TEST(CoreLaunchEnv, NoLauncherIsOneProcess) {
  const auto env = read_launch_env(environment({}));
  EXPECT_EQ(env.launcher, Launcher::single);
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.rank, 0);
  EXPECT_FALSE(env.distributed());
}

TEST(CoreLaunchEnv, ReadsTorchrun) {
  const auto env = read_launch_env(environment(
      {{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.2"}, {"MASTER_PORT", "29400"},
       {"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_PROCID", "0"}}));  // torchrun inside a Slurm job wins
  EXPECT_EQ(env.launcher, Launcher::torchrun);
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.master_addr, "10.0.0.2");
  EXPECT_EQ(env.port, 29400);
  EXPECT_TRUE(env.distributed());
  EXPECT_EQ(env.describe(), "rank 5 of 8 (torchrun, local rank 1, rendezvous 10.0.0.2:29400)");
}

TEST(CoreLaunchEnv, ReadsAnSrunTask) {
  const auto env = read_launch_env(environment({{"SLURM_STEP_NUM_TASKS", "4"}, {"SLURM_NTASKS", "4"},
                                                {"SLURM_PROCID", "3"}, {"SLURM_LOCALID", "1"},
                                                {"SLURM_STEP_NODELIST", "gpu[07-08]"}, {"SLURM_JOB_ID", "123456"}}));
  EXPECT_EQ(env.launcher, Launcher::slurm);
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.master_addr, "gpu07");
  EXPECT_EQ(env.port, 29500 + 456);
  // MASTER_ADDR and MASTER_PORT, when the job script sets them, win over the node list.
  const auto set = read_launch_env(environment({{"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_PROCID", "0"},
                                                {"SLURM_JOB_NODELIST", "a1,a2"}, {"MASTER_ADDR", "head"},
                                                {"MASTER_PORT", "4000"}}));
  EXPECT_EQ(set.master_addr, "head");
  EXPECT_EQ(set.port, 4000);
}

TEST(CoreLaunchEnv, ABatchScriptShellIsOneProcess) {
  const auto env = read_launch_env(environment({{"SLURM_NTASKS", "8"}, {"SLURM_PROCID", "0"}, {"SLURM_JOB_ID", "7"},
                                                {"SLURM_JOB_NODELIST", "n[1-2]"}}));
  EXPECT_EQ(env.launcher, Launcher::single);
  EXPECT_EQ(env.world_size, 1);
}

TEST(CoreLaunchEnv, BadValuesNameTheVariable) {
  EXPECT_NE(error_of({{"WORLD_SIZE", "two"}, {"RANK", "0"}}).find("WORLD_SIZE='two'"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}}).find("RANK is not set"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}})
                .find("RANK=2 is not below WORLD_SIZE=2"),
            std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT='70000' is not a TCP port"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_PROCID", "-1"}}).find("SLURM_PROCID='-1'"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_PROCID", "1"}}).find("SLURM_JOB_NODELIST is not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_PROCID", "1"}, {"SLURM_JOB_NODELIST", "n[1-2"}})
                .find("SLURM_JOB_NODELIST='n[1-2' is not a Slurm host list"),
            std::string::npos);
}

TEST(CoreLaunchEnv, FirstHostOfASlurmHostList) {
  EXPECT_EQ(first_slurm_host("node1", "L"), "node1");
  EXPECT_EQ(first_slurm_host("node1,node2", "L"), "node1");
  EXPECT_EQ(first_slurm_host("gpu[07-09,12],cpu1", "L"), "gpu07");
  EXPECT_EQ(first_slurm_host("gpu[3,5-6]", "L"), "gpu3");
  EXPECT_EQ(first_slurm_host("rack[2-3]-n[001-004]", "L"), "rack2-n001");
  EXPECT_EQ(first_slurm_host("n[1-2].cluster", "L"), "n1.cluster");
  for (const char* bad : {"", ",n1", "n[", "n]1", "n[-2]", "n[a-b]"})
    EXPECT_THROW(first_slurm_host(bad, "L"), InputError) << bad;
}

TEST(CoreLaunchEnv, SecondsVariables) {
  const auto env = environment({{"A", "2.5"}, {"ZERO", "0"}, {"WORD", "soon"}, {"NEG", "-1"}, {"INF", "inf"}});
  EXPECT_EQ(seconds_variable(env, "A", false), 2.5);
  EXPECT_EQ(seconds_variable(env, "UNSET", false), std::nullopt);
  EXPECT_EQ(seconds_variable(env, "ZERO", true), 0.0);
  const auto error = [&](const std::string& name, bool zero_allowed) {
    return test::input_error_message([&] { seconds_variable(env, name, zero_allowed); });
  };
  EXPECT_NE(error("ZERO", false).find("ZERO='0' is not a positive number of seconds"), std::string::npos);
  EXPECT_NE(error("WORD", true).find("WORD='soon' is not a non-negative number of seconds"), std::string::npos);
  EXPECT_NE(error("NEG", true).find("NEG='-1'"), std::string::npos);
  EXPECT_NE(error("INF", false).find("INF='inf'"), std::string::npos);
}
