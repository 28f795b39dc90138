#include "methods/options.h"

#include "core/error.h"

namespace cmbench {

OptionReader::OptionReader(const Config& table) : reader_(table, "method") {
  reader_.required<std::string>("name");
  preset_ = reader_.choice("preset", "cifar10", {"cifar10", "imagenet64"});
}

nlohmann::json OptionReader::finish() const {
  return reader_.finish(" for method '" + reader_.resolved()["name"].get<std::string>() + "'");
}

}  // namespace cmbench
