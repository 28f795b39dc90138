// HTTP(S)/file downloads with libcurl: into `dest`.part (resumed when a previous attempt left one),
// optionally checked against a digest, then renamed onto `dest`. `dest` never holds a partial file.
#pragma once

#include <string>

#include "core/digest.h"

namespace cmbench {

struct DownloadOptions {
  long connect_timeout_s = 10;
  long stall_timeout_s = 30;  // abort when under 1 kB/s for this long
  bool progress = true;
  // When set, the finished file must have this digest (else CheckError, and the partial file is removed).
  Digest::Kind digest_kind = Digest::Kind::sha256;
  std::string expected_digest;
};

// InputError naming the URL when it cannot be reached or the server answers with an error.
void download_file(const std::string& url, const std::string& dest, const DownloadOptions& options = {});

}  // namespace cmbench
