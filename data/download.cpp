#include "data/download.h"

#include <curl/curl.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"

namespace cmbench {

namespace {

struct Transfer {
  std::FILE* file = nullptr;
  std::unique_ptr<ProgressBar> bar;
  curl_off_t resumed_from = 0;
};

size_t write_chunk(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  return std::fwrite(data, size, count, transfer->file) * size;
}

int report_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (total > 0 && !transfer->bar) {
    transfer->bar = std::make_unique<ProgressBar>("download", (transfer->resumed_from + total) / 1024, "kB");
  }
  if (transfer->bar) transfer->bar->set_done((transfer->resumed_from + now) / 1024);
  return 0;
}

}  // namespace

void download_file(const std::string& url, const std::string& dest, const DownloadOptions& options) {
  namespace fs = std::filesystem;
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!curl_ready) throw InputError(fmt::format("{}: libcurl failed to initialize", url));
  const std::string partial = dest + ".part";
  std::error_code ec;
  if (fs::path(dest).has_parent_path()) fs::create_directories(fs::path(dest).parent_path(), ec);

  Transfer transfer;
  transfer.resumed_from = fs::exists(partial) ? static_cast<curl_off_t>(fs::file_size(partial)) : 0;
  transfer.file = std::fopen(partial.c_str(), transfer.resumed_from > 0 ? "ab" : "wb");
  if (!transfer.file) throw InputError(fmt::format("{}: cannot write", partial));

  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, options.connect_timeout_s);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, options.stall_timeout_s);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write_chunk);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl.get(), CURLOPT_RESUME_FROM_LARGE, transfer.resumed_from);
  if (options.progress) {
    curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, report_progress);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &transfer);
  }
  CURLcode code = curl_easy_perform(curl.get());
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  // The server cannot resume (no byte ranges), or refuses the range (416: the partial file is as long
  // as the resource or longer, so it cannot be a prefix of it): start again from the beginning.
  if (transfer.resumed_from > 0 &&
      (code == CURLE_RANGE_ERROR || (code == CURLE_HTTP_RETURNED_ERROR && status == 416))) {
    transfer.file = std::freopen(partial.c_str(), "wb", transfer.file);
    if (!transfer.file) throw InputError(fmt::format("{}: cannot write", partial));
    transfer.resumed_from = 0;
    curl_easy_setopt(curl.get(), CURLOPT_RESUME_FROM_LARGE, curl_off_t{0});
    code = curl_easy_perform(curl.get());
  }
  const bool flushed = std::fclose(transfer.file) == 0;
  if (transfer.bar) transfer.bar->finish();
  if (code != CURLE_OK) {
    if (fs::exists(partial, ec) && fs::file_size(partial, ec) == 0) fs::remove(partial, ec);  // nothing to resume
    throw InputError(fmt::format("{}: download failed: {}", url, error[0] ? error : curl_easy_strerror(code)));
  }
  if (!flushed) throw InputError(fmt::format("{}: write failed", partial));
  if (!options.expected_digest.empty()) {
    const std::string got = file_digest_hex(options.digest_kind, partial);
    if (got != options.expected_digest) {
      fs::remove(partial, ec);
      throw CheckError(fmt::format("{}: checksum mismatch: got {}, expected {} (removed; run again to restart)", url,
                                   got, options.expected_digest));
    }
  }
  fsync_path(partial);
  fs::rename(partial, dest);
}

}  // namespace cmbench
