// Shared pieces of the `cmbench` command-line program. Each subcommand group lives in its own file
// (cmd_*.cpp) and registers itself on the root app; a chosen subcommand stores its action, which
// run_command_line() (app/command_line.h) runs after parsing and global set-up.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace cmbench::cli {

using Action = std::function<void()>;

// Makes `action` the one run_command_line() runs when `command` was selected on the command line.
void on_selected(CLI::App* command, Action action);

// The registered-but-unimplemented answer (exit 2), until the owning issue lands.
void not_implemented(CLI::App* command, const std::string& issue);

// Prints one JSON object on stdout.
void print_json(const nlohmann::json& object);

void add_data_commands(CLI::App& app);
void add_net_commands(CLI::App& app);
void add_train_commands(CLI::App& app);   // train, sample
void add_metric_commands(CLI::App& app);  // fid, is, swd, frechet, features, stats
void add_selftest_commands(CLI::App& app);
void add_suite_commands(CLI::App& app);   // run, table, compare
void add_ema_commands(CLI::App& app);     // ema reconstruct
void add_truth_commands(CLI::App& app);          // truth fit, truth info (ground-truth mixtures)
void add_truth_metric_commands(CLI::App& app);   // consistency-error, gt-fd, gt-loglik
void add_report_commands(CLI::App& app);         // report, findings
void add_target_commands(CLI::App& app);         // target-stats

}  // namespace cmbench::cli
