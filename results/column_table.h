// A table of typed columns stored as one HDF5 compound dataset (int64, float64 and fixed-length
// UTF-8 string members), so that h5py gives a structured array and pandas a DataFrame
// (pd.DataFrame(f[path][()])). Each column's unit and meaning are attributes of the dataset
// ("<column>.unit", "<column>.meaning"); the dataset's own meaning is the attribute "meaning".
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cmbench::results {

class ColumnTable {
 public:
  enum class Kind { integer, real, text };

  void add_integers(std::string name, std::vector<int64_t> values, std::string unit, std::string meaning);
  void add_reals(std::string name, std::vector<double> values, std::string unit, std::string meaning);
  void add_texts(std::string name, std::vector<std::string> values, std::string meaning);

  size_t rows() const { return rows_; }
  bool has(const std::string& name) const;
  // Column values; InputError naming `where` when the column is missing or of another kind.
  const std::vector<int64_t>& integers(const std::string& name) const;
  const std::vector<double>& reals(const std::string& name) const;
  const std::vector<std::string>& texts(const std::string& name) const;

  void write(H5::Group& group, const std::string& dataset, const std::string& meaning) const;
  // Reads any compound dataset of integer, float and fixed-length string members.
  static ColumnTable read(const H5::Group& group, const std::string& dataset);

 private:
  struct Column {
    std::string name, unit, meaning;
    Kind kind = Kind::integer;
    std::vector<int64_t> integers;
    std::vector<double> reals;
    std::vector<std::string> texts;
  };
  void add(Column column, size_t count);
  const Column& column(const std::string& name, Kind kind) const;

  std::vector<Column> columns_;
  size_t rows_ = 0;
  bool sized_ = false;
  std::string where_;  // file:dataset it was read from, for messages
};

}  // namespace cmbench::results
