// One description of how a record's fields are stored: name, unit, meaning and the member it holds.
// The writer and the reader of the result store both walk the same list, so a column or attribute
// added there is written, read and documented at once.
//
//   const std::vector<Field<TrainingPoint>> kCurve = {{"step", &TrainingPoint::step, "steps", "..."}, ...};
//   write_table(group, "training_curve", "meaning", run.curve, kCurve);
//   run.curve = read_table(group, "training_curve", kCurve);
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/hdf5.h"
#include "results/column_table.h"

namespace cmbench::results {

template <class Record>
struct Field {
  const char* name;
  std::variant<int64_t Record::*, double Record::*, std::string Record::*> member;
  const char* unit;  // unused for text fields
  const char* meaning;
  bool optional = false;  // a column added later: tables written before lack it and read it as the default
};

template <class Record>
using Fields = std::vector<Field<Record>>;

template <class Member>
struct MemberValue;
template <class Record, class Value>
struct MemberValue<Value Record::*> {
  using type = Value;
};

// `rows` as the compound dataset `dataset` of `group`, one member per field, in the fields' order.
template <class Record>
void write_table(H5::Group& group, const std::string& dataset, const std::string& meaning,
                 const std::vector<Record>& rows, const Fields<Record>& fields) {
  ColumnTable table;
  for (const auto& field : fields) {
    std::visit(
        [&](auto member) {
          using Value = typename MemberValue<decltype(member)>::type;
          std::vector<Value> values;
          for (const auto& row : rows) values.push_back(row.*member);
          if constexpr (std::is_same_v<Value, int64_t>) {
            table.add_integers(field.name, std::move(values), field.unit, field.meaning);
          } else if constexpr (std::is_same_v<Value, double>) {
            table.add_reals(field.name, std::move(values), field.unit, field.meaning);
          } else {
            table.add_texts(field.name, std::move(values), field.meaning);
          }
        },
        field.member);
  }
  table.write(group, dataset, meaning);
}

// The rows of a dataset written by write_table; InputError when a field's column is missing.
template <class Record>
std::vector<Record> read_table(const H5::Group& group, const std::string& dataset, const Fields<Record>& fields) {
  const auto table = ColumnTable::read(group, dataset);
  std::vector<Record> rows(table.rows());
  for (const auto& field : fields) {
    if (field.optional && !table.has(field.name)) continue;
    std::visit(
        [&](auto member) {
          using Value = typename MemberValue<decltype(member)>::type;
          const std::vector<Value>* values = nullptr;
          if constexpr (std::is_same_v<Value, int64_t>) {
            values = &table.integers(field.name);
          } else if constexpr (std::is_same_v<Value, double>) {
            values = &table.reals(field.name);
          } else {
            values = &table.texts(field.name);
          }
          for (size_t i = 0; i < rows.size(); ++i) rows[i].*member = (*values)[i];
        },
        field.member);
  }
  return rows;
}

// Each field as the attribute NAME of `object`, beside NAME.unit (numbers) and NAME.meaning.
template <class Record>
void write_attributes(H5::H5Object& object, const Record& record, const Fields<Record>& fields) {
  for (const auto& field : fields) {
    std::visit(
        [&](auto member) {
          h5::set_attribute(object, field.name, record.*member);
          if constexpr (!std::is_same_v<typename MemberValue<decltype(member)>::type, std::string>) {
            h5::set_attribute(object, std::string(field.name) + ".unit", std::string(field.unit));
          }
          h5::set_attribute(object, std::string(field.name) + ".meaning", std::string(field.meaning));
        },
        field.member);
  }
}

template <class Record>
void read_attributes(const H5::H5Object& object, Record& record, const Fields<Record>& fields) {
  for (const auto& field : fields) {
    std::visit(
        [&](auto member) {
          using Value = typename MemberValue<decltype(member)>::type;
          if constexpr (std::is_same_v<Value, int64_t>) {
            record.*member = h5::get_int_attribute(object, field.name);
          } else if constexpr (std::is_same_v<Value, double>) {
            record.*member = h5::get_double_attribute(object, field.name);
          } else {
            record.*member = h5::get_string_attribute(object, field.name);
          }
        },
        field.member);
  }
}

}  // namespace cmbench::results
