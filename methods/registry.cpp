#include "methods/registry.h"

namespace cmbench {

std::unique_ptr<Method> make_edm(const Config&);
std::unique_ptr<Method> make_cd(const Config&);
std::unique_ptr<Method> make_ct(const Config&);
std::unique_ptr<Method> make_ict(const Config&);
std::unique_ptr<Method> make_ect(const Config&);
std::unique_ptr<Method> make_sct(const Config&);

const MethodRegistry& method_registry() {
  static const MethodRegistry registry = [] {
    MethodRegistry r("method");
    r.add("edm", make_edm, "EDM diffusion pretraining (the teacher)");
    r.add("cd", make_cd, "consistency distillation (Song et al. 2023)");
    r.add("ct", make_ct, "consistency training (Song et al. 2023)");
    r.add("ict", make_ict, "improved consistency training (Song & Dhariwal 2023)");
    r.add("ect", make_ect, "easy consistency tuning (Geng et al.)");
    r.add("sct", make_sct, "stable consistency tuning (Wang, Geng, Li 2024)");
    return r;
  }();
  return registry;
}

std::unique_ptr<Method> make_method(const Config& table) {
  return method_registry().create(table.get<std::string>("name"), table);
}

}  // namespace cmbench
