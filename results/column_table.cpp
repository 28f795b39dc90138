#include "results/column_table.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/error.h"
#include "core/hdf5.h"
#include "core/utf8.h"

namespace cmbench::results {

namespace {

const char* kind_name(ColumnTable::Kind kind) {
  switch (kind) {
    case ColumnTable::Kind::integer: return "integer";
    case ColumnTable::Kind::real: return "real";
    case ColumnTable::Kind::text: return "text";
  }
  return "?";
}

H5::StrType text_type(size_t size) {
  H5::StrType type(H5::PredType::C_S1, std::max<size_t>(size, 1));
  type.setStrpad(H5T_STR_NULLPAD);
  type.setCset(H5T_CSET_UTF8);
  return type;
}

size_t text_width(const std::vector<std::string>& values) {
  size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  return width;
}

}  // namespace

void ColumnTable::add(Column column, size_t count) {
  if (sized_ && count != rows_) {
    throw std::logic_error(fmt::format("column '{}' has {} rows, table has {}", column.name, count, rows_));
  }
  rows_ = count;
  sized_ = true;
  columns_.push_back(std::move(column));
}

void ColumnTable::add_integers(std::string name, std::vector<int64_t> values, std::string unit, std::string meaning) {
  Column c{std::move(name), std::move(unit), std::move(meaning), Kind::integer, std::move(values), {}, {}};
  const size_t n = c.integers.size();
  add(std::move(c), n);
}

void ColumnTable::add_reals(std::string name, std::vector<double> values, std::string unit, std::string meaning) {
  Column c{std::move(name), std::move(unit), std::move(meaning), Kind::real, {}, std::move(values), {}};
  const size_t n = c.reals.size();
  add(std::move(c), n);
}

void ColumnTable::add_texts(std::string name, std::vector<std::string> values, std::string meaning) {
  Column c{std::move(name), "", std::move(meaning), Kind::text, {}, {}, std::move(values)};
  const size_t n = c.texts.size();
  add(std::move(c), n);
}

bool ColumnTable::has(const std::string& name) const {
  return std::any_of(columns_.begin(), columns_.end(), [&](const Column& c) { return c.name == name; });
}

const ColumnTable::Column& ColumnTable::column(const std::string& name, Kind kind) const {
  for (const auto& c : columns_) {
    if (c.name != name) continue;
    if (c.kind != kind) {
      throw InputError(fmt::format("{}: column '{}' is {}, expected {}", where_, name, kind_name(c.kind), kind_name(kind)));
    }
    return c;
  }
  throw InputError(fmt::format("{}: missing column '{}'", where_, name));
}

const std::vector<int64_t>& ColumnTable::integers(const std::string& name) const {
  return column(name, Kind::integer).integers;
}
const std::vector<double>& ColumnTable::reals(const std::string& name) const { return column(name, Kind::real).reals; }
const std::vector<std::string>& ColumnTable::texts(const std::string& name) const {
  return column(name, Kind::text).texts;
}

void ColumnTable::write(H5::Group& group, const std::string& dataset, const std::string& meaning) const {
  std::vector<size_t> offsets, widths;
  size_t row_size = 0;
  for (const auto& c : columns_) {
    const size_t width = c.kind == Kind::text ? text_width(c.texts) : 8;
    offsets.push_back(row_size);
    widths.push_back(width);
    row_size += width;
  }
  H5::CompType type(std::max<size_t>(row_size, 1));
  for (size_t i = 0; i < columns_.size(); ++i) {
    const auto& c = columns_[i];
    if (c.kind == Kind::integer) type.insertMember(c.name, offsets[i], H5::PredType::NATIVE_INT64);
    if (c.kind == Kind::real) type.insertMember(c.name, offsets[i], H5::PredType::NATIVE_DOUBLE);
    if (c.kind == Kind::text) type.insertMember(c.name, offsets[i], text_type(widths[i]));
  }
  std::vector<char> buffer(std::max<size_t>(rows_ * row_size, 1), 0);
  for (size_t r = 0; r < rows_; ++r) {
    char* row = buffer.data() + r * row_size;
    for (size_t i = 0; i < columns_.size(); ++i) {
      const auto& c = columns_[i];
      if (c.kind == Kind::integer) std::memcpy(row + offsets[i], &c.integers[r], 8);
      if (c.kind == Kind::real) std::memcpy(row + offsets[i], &c.reals[r], 8);
      if (c.kind == Kind::text) std::memcpy(row + offsets[i], c.texts[r].data(), c.texts[r].size());
    }
  }
  const hsize_t dims[1] = {rows_};
  H5::DataSet data = group.createDataSet(dataset, type, H5::DataSpace(1, dims), h5::untimed_dataset_properties());
  if (rows_ > 0) data.write(buffer.data(), type);
  h5::set_attribute(data, "meaning", meaning);
  for (const auto& c : columns_) {
    if (!c.unit.empty()) h5::set_attribute(data, c.name + ".unit", c.unit);
    if (!c.meaning.empty()) h5::set_attribute(data, c.name + ".meaning", c.meaning);
  }
}

ColumnTable ColumnTable::read(const H5::Group& group, const std::string& dataset) {
  ColumnTable table;
  table.where_ = fmt::format("{}:{}", group.getFileName(), dataset);
  if (!h5::has_child(group, dataset)) throw InputError(fmt::format("{}: missing dataset", table.where_));
  H5::DataSet data = group.openDataSet(dataset);
  if (data.getTypeClass() != H5T_COMPOUND) throw InputError(fmt::format("{}: not a compound dataset", table.where_));
  H5::CompType file_type = data.getCompType();
  H5::DataSpace space = data.getSpace();
  if (space.getSimpleExtentNdims() != 1) throw InputError(fmt::format("{}: not a one-dimensional table", table.where_));
  const hsize_t rows = h5::checked_element_count(data, table.where_);

  const int members = file_type.getNmembers();
  std::vector<size_t> offsets, widths;
  std::vector<Kind> kinds;
  size_t row_size = 0;
  for (int m = 0; m < members; ++m) {
    const H5T_class_t cls = file_type.getMemberClass(static_cast<unsigned>(m));
    Kind kind;
    size_t width = 8;
    if (cls == H5T_INTEGER) {
      kind = Kind::integer;
    } else if (cls == H5T_FLOAT) {
      kind = Kind::real;
    } else if (cls == H5T_STRING) {
      H5::StrType member = file_type.getMemberStrType(static_cast<unsigned>(m));
      if (member.isVariableStr()) {
        throw InputError(fmt::format("{}: variable-length string column '{}' is not supported", table.where_,
                                     file_type.getMemberName(static_cast<unsigned>(m))));
      }
      kind = Kind::text;
      width = member.getSize();
    } else {
      throw InputError(fmt::format("{}: column '{}' has an unsupported type", table.where_,
                                   file_type.getMemberName(static_cast<unsigned>(m))));
    }
    kinds.push_back(kind);
    offsets.push_back(row_size);
    widths.push_back(width);
    row_size += width;
  }
  // Numbers widen to 8 bytes in memory; more than that means columns that overlap in the file.
  if (row_size > 8 * std::max<size_t>(file_type.getSize(), 1))
    throw InputError(fmt::format("{}: columns take {} bytes a row, more than the {} a row holds", table.where_, row_size,
                                 file_type.getSize()));
  H5::CompType memory_type(std::max<size_t>(row_size, 1));
  for (int m = 0; m < members; ++m) {
    const auto name = file_type.getMemberName(static_cast<unsigned>(m));
    if (kinds[m] == Kind::integer) memory_type.insertMember(name, offsets[m], H5::PredType::NATIVE_INT64);
    if (kinds[m] == Kind::real) memory_type.insertMember(name, offsets[m], H5::PredType::NATIVE_DOUBLE);
    if (kinds[m] == Kind::text) memory_type.insertMember(name, offsets[m], text_type(widths[m]));
  }
  std::vector<char> buffer(std::max<size_t>(rows * row_size, 1), 0);
  if (rows > 0) data.read(buffer.data(), memory_type);

  for (int m = 0; m < members; ++m) {
    const auto name = file_type.getMemberName(static_cast<unsigned>(m));
    const auto attribute = [&](const std::string& suffix) {
      const auto key = name + suffix;
      return h5::has_attribute(data, key) ? h5::get_string_attribute(data, key) : std::string();
    };
    Column c{name, attribute(".unit"), attribute(".meaning"), kinds[m], {}, {}, {}};
    for (hsize_t r = 0; r < rows; ++r) {
      const char* field = buffer.data() + r * row_size + offsets[m];
      if (c.kind == Kind::integer) {
        int64_t v;
        std::memcpy(&v, field, 8);
        c.integers.push_back(v);
      } else if (c.kind == Kind::real) {
        double v;
        std::memcpy(&v, field, 8);
        c.reals.push_back(v);
      } else {
        c.texts.emplace_back(field, strnlen(field, widths[m]));
        if (!is_utf8(c.texts.back())) {
          throw InputError(fmt::format("{}: {} column '{}' row {} is not UTF-8 text", group.getFileName(), dataset, name, r));
        }
      }
    }
    table.columns_.push_back(std::move(c));
  }
  table.rows_ = rows;
  table.sized_ = true;
  return table;
}

}  // namespace cmbench::results
