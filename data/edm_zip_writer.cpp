#include "data/edm_zip_writer.h"

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/png.h"

namespace cmbench {

namespace {

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;

void add_entry(struct archive* zip, const std::string& name, const void* data, size_t size, const std::string& path) {
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(), archive_entry_free);
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_mtime(entry.get(), 946684800, 0);  // fixed (2000-01-01): equal content gives equal files
  if (archive_write_header(zip, entry.get()) != ARCHIVE_OK ||
      archive_write_data(zip, data, size) != static_cast<la_ssize_t>(size)) {
    throw InputError(fmt::format("{}: writing {} failed: {}", path, name, archive_error_string(zip)));
  }
}

}  // namespace

std::string edm_zip_entry_name(int64_t index) {
  const std::string digits = fmt::format("{:08d}", index);
  return digits.substr(0, 5) + "/img" + digits + ".png";
}

void write_edm_zip(const ImageSource& source, const std::string& path, bool progress) {
  // dataset_tool's open_dest makes the zip's folder.
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!folder.empty() && !std::filesystem::is_directory(folder, ec) && !std::filesystem::create_directories(folder, ec)) {
    throw InputError(fmt::format("{}: cannot make the folder {}: {}", path, folder.string(), ec.message()));
  }
  atomic_write(path, [&](const std::string& temporary) {
    ArchivePtr zip(archive_write_new(), archive_write_free);
    archive_write_set_format_zip(zip.get());
    archive_write_set_format_option(zip.get(), "zip", "compression", "store");
    if (archive_write_open_filename(zip.get(), temporary.c_str()) != ARCHIVE_OK) {
      throw InputError(fmt::format("{}: cannot write: {}", path, archive_error_string(zip.get())));
    }
    std::optional<ProgressBar> bar;  // none at all without progress (a bar prints even when idle)
    if (progress) bar.emplace("convert", source.size(), "img");
    nlohmann::json labels = nlohmann::json::array();
    const torch::Tensor label_values = source.has_labels() ? source.labels().contiguous() : torch::Tensor();
    constexpr int64_t kChunk = 256;
    for (int64_t begin = 0; begin < source.size(); begin += kChunk) {
      const int64_t end = std::min(source.size(), begin + kChunk);
      const torch::Tensor images = source.read(begin, end);
      const uint8_t* pixels = images.data_ptr<uint8_t>();
      const int64_t image_bytes = source.height() * source.width() * source.channels();
      for (int64_t i = begin; i < end; ++i) {
        const auto png = encode_png(pixels + (i - begin) * image_bytes, source.height(), source.width(),
                                    source.channels());
        const std::string name = edm_zip_entry_name(i);
        add_entry(zip.get(), name, png.data(), png.size(), path);
        if (label_values.defined()) labels.push_back({name, label_values.data_ptr<int64_t>()[i]});
      }
      if (bar) bar->advance(end - begin);
    }
    nlohmann::json meta;
    meta["labels"] = label_values.defined() ? labels : nlohmann::json(nullptr);
    const std::string json = meta.dump();
    add_entry(zip.get(), "dataset.json", json.data(), json.size(), path);
    if (archive_write_close(zip.get()) != ARCHIVE_OK) {
      throw InputError(fmt::format("{}: finishing the zip failed: {}", path, archive_error_string(zip.get())));
    }
    if (bar) bar->finish();
  });
}

}  // namespace cmbench
