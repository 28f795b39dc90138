#include "app/command_line.h"

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "app/cli.h"
#include "app/launch.h"
#include "core/device.h"
#include "core/error.h"
#include "core/log.h"

namespace cmbench::cli {

namespace {
Action& pending_action() {
  static Action action;
  return action;
}
}  // namespace

void on_selected(CLI::App* command, Action action) {
  command->callback([action = std::move(action)] { pending_action() = action; });
}

void not_implemented(CLI::App* command, const std::string& issue) {
  on_selected(command, [command, issue] {
    throw InputError("cmbench " + command->get_name() + ": not implemented yet (" + issue + ")");
  });
}

void print_json(const nlohmann::json& object) { std::cout << object.dump(2) << std::endl; }

int run_command_line(int argc, char** argv) {
  // --nproc N: this command as N local workers (app/launch.h), each parsing the command itself.
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (const auto nproc = take_nproc_option(args); nproc && *nproc > 1) return launch_local_workers(args, *nproc);
  } catch (const Error& e) {
    std::cerr << "cmbench: error: " << e.what() << std::endl;
    return static_cast<int>(e.code());
  }
  std::vector<std::string> storage{argc > 0 ? argv[0] : "cmbench"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> parsed_argv;
  for (auto& arg : storage) parsed_argv.push_back(arg.data());
  parsed_argv.push_back(nullptr);
  argc = static_cast<int>(storage.size());
  argv = parsed_argv.data();

  CLI::App app{"cmbench: a reproducible benchmark and evaluation suite for consistency models"};
  app.name("cmbench");
  app.require_subcommand(1);
  app.set_version_flag("--version", [] {
    configure_threads();
    return "cmbench " + code_version() + "\nLibTorch " + torch_version() + "\ndevice " + device_description();
  });
  int threads = 0;
  std::string log_level;
  app.add_option("--threads", threads, "intra-op threads (0: $CMBENCH_THREADS, else every core)")
      ->check(CLI::NonNegativeNumber);
  int nproc = 1;  // read before parsing (take_nproc_option); here for --help
  app.add_option("--nproc", nproc, "run the command as N local processes (ranks), like torchrun --standalone")
      ->check(CLI::PositiveNumber);
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off (default $CMBENCH_LOG or info)");

  add_data_commands(app);
  add_net_commands(app);
  add_train_commands(app);
  add_metric_commands(app);
  add_selftest_commands(app);
  add_suite_commands(app);
  add_ema_commands(app);
  add_truth_commands(app);
  add_truth_metric_commands(app);
  add_report_commands(app);
  add_target_commands(app);

  pending_action() = nullptr;  // a previous in-process call's command must not run again
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "cmbench: " << e.what() << "\nRun with --help for more information." << std::endl;
    return static_cast<int>(ExitCode::bad_input);
  } catch (const Error& e) {
    std::cerr << "cmbench: error: " << e.what() << std::endl;
    return static_cast<int>(e.code());
  }

  try {
    init_logging(log_level);
    configure_threads(threads);
    pending_action()();
  } catch (const Error& e) {
    std::cerr << "cmbench: error: " << e.what() << std::endl;
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::cerr << "cmbench: error: " << e.what() << std::endl;
    return static_cast<int>(ExitCode::bad_input);
  }
  return 0;
}

int run_command_line(const std::vector<std::string>& args) {
  std::vector<std::string> storage{"cmbench"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return run_command_line(static_cast<int>(storage.size()), argv.data());
}

}  // namespace cmbench::cli
