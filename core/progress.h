// Progress for long work: a redrawn bar (items, rate, ETA) when stderr is a terminal, plain periodic
// lines otherwise (logs and CI). Output goes to stderr so that --json stdout stays clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace cmbench {

class ProgressBar {
 public:
  // total = 0 means unknown. `unit` names the items ("img", "step").
  ProgressBar(std::string label, int64_t total, std::string unit = "it");
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void advance(int64_t items = 1);
  void set_done(int64_t done);
  void set_status(std::string status);  // e.g. "loss 0.123"
  void finish();

  // For tests: render to a given stream, forcing terminal or plain mode and the plain interval.
  void set_output(std::FILE* out, bool terminal, double plain_interval_s = 10.0);
  std::string render_line() const;  // the current state as one line

 private:
  void maybe_draw(bool force);

  std::string label_, unit_, status_;
  int64_t total_ = 0, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::FILE* out_ = stderr;
  bool terminal_ = false;
  bool finished_ = false;
  bool enabled_ = true;
  double plain_interval_s_ = 10.0;
};

std::string format_duration(double seconds);  // "1:02:03", "02:03"

}  // namespace cmbench
