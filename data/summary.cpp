#include "data/summary.h"

#include <algorithm>
#include <optional>

#include "core/digest.h"
#include "core/progress.h"

namespace cmbench {

std::string content_sha256(const ImageSource& source, bool progress, int64_t chunk) {
  Digest digest(Digest::Kind::sha256);
  std::optional<ProgressBar> bar;  // none at all without progress (a bar prints even when idle)
  if (progress) bar.emplace("checksum", source.size(), "img");
  for (int64_t begin = 0; begin < source.size(); begin += chunk) {
    const int64_t end = std::min(source.size(), begin + chunk);
    const torch::Tensor images = source.read(begin, end);
    digest.update(images.data_ptr<uint8_t>(), static_cast<size_t>(images.numel()));
    if (bar) bar->advance(end - begin);
  }
  if (bar) bar->finish();
  return digest.hex();
}

SourceSummary summarize(const ImageSource& source, bool progress) {
  SourceSummary summary;
  summary.name = source.name();
  summary.count = source.size();
  summary.height = source.height();
  summary.width = source.width();
  summary.channels = source.channels();
  summary.has_labels = source.has_labels();
  if (summary.has_labels) {
    const torch::Tensor labels = source.labels().contiguous();
    const int64_t* values = labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < labels.numel(); ++i) {
      if (values[i] >= static_cast<int64_t>(summary.label_counts.size())) summary.label_counts.resize(values[i] + 1, 0);
      ++summary.label_counts[static_cast<size_t>(values[i])];
    }
  }
  summary.content_sha256 = content_sha256(source, progress);
  return summary;
}

}  // namespace cmbench
