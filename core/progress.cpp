#include "core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace cmbench {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{:02}:{:02}", s / 60, s % 60);
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
  terminal_ = ::isatty(::fileno(stderr)) != 0;
  const char* quiet = std::getenv("CMBENCH_NO_PROGRESS");
  enabled_ = !(quiet && *quiet && std::string(quiet) != "0");
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::set_output(std::FILE* out, bool terminal, double plain_interval_s) {
  out_ = out;
  terminal_ = terminal;
  plain_interval_s_ = plain_interval_s;
  enabled_ = true;
}

void ProgressBar::advance(int64_t items) { set_done(done_ + items); }

void ProgressBar::set_done(int64_t done) {
  done_ = done;
  maybe_draw(false);
}

void ProgressBar::set_status(std::string status) { status_ = std::move(status); }

std::string ProgressBar::render_line() const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::string line = label_;
  if (total_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    if (terminal_) {
      constexpr int width = 24;
      const int filled = static_cast<int>(fraction * width);
      line += " [" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
    }
    const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : NAN;
    line += fmt::format(" {}/{} {} ({:.0f}%) {:.3g} {}/s elapsed {} eta {}", done_, total_, unit_,
                        100.0 * fraction, rate, unit_, format_duration(elapsed), format_duration(eta));
  } else {
    line += fmt::format(" {} {} {:.3g} {}/s elapsed {}", done_, unit_, rate, unit_, format_duration(elapsed));
  }
  if (!status_.empty()) line += " " + status_;
  return line;
}

void ProgressBar::maybe_draw(bool force) {
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  const double min_interval = terminal_ ? 0.1 : plain_interval_s_;
  if (!force && since < min_interval) return;
  last_draw_ = now;
  if (terminal_) {
    std::fprintf(out_, "\r\033[K%s", render_line().c_str());
  } else {
    std::fprintf(out_, "%s\n", render_line().c_str());
  }
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (finished_) return;
  maybe_draw(true);
  if (enabled_ && terminal_) std::fputc('\n', out_);
  finished_ = true;
}

}  // namespace cmbench
