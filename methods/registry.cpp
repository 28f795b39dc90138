#include "methods/registry.h"

namespace cmbench {

std::unique_ptr<Method> make_edm(const Config&);
std::unique_ptr<Method> make_cd(const Config&);
std::unique_ptr<Method> make_ct(const Config&);
std::unique_ptr<Method> make_ict(const Config&);
std::unique_ptr<Method> make_ect(const Config&);
std::unique_ptr<Method> make_sct(const Config&);
void translate_edm_case(const LossCase&, LossCaseInputs&);
void translate_cd_case(const LossCase&, LossCaseInputs&);
void translate_ct_case(const LossCase&, LossCaseInputs&);
void translate_grid_case(const LossCase&, LossCaseInputs&);  // iCT: CT's grid keys without a distance
void translate_ect_case(const LossCase&, LossCaseInputs&);
void translate_sct_case(const LossCase&, LossCaseInputs&);

MethodRegistry& MethodRegistry::add(const std::string& name, Factory factory, std::string description,
                                    LossCaseTranslation translation) {
  Registry::add(name, std::move(factory), std::move(description));
  if (translation) translations_.emplace(name, std::move(translation));
  return *this;
}

const LossCaseTranslation* MethodRegistry::loss_case_translation(const std::string& name) const {
  auto it = translations_.find(name);
  return it == translations_.end() ? nullptr : &it->second;
}

namespace {

MethodRegistry& registry() {
  static MethodRegistry registry = [] {
    MethodRegistry r("method");
    r.add("edm", make_edm, "EDM diffusion pretraining (the teacher)", translate_edm_case);
    r.add("cd", make_cd, "consistency distillation (Song et al. 2023)", translate_cd_case);
    r.add("ct", make_ct, "consistency training (Song et al. 2023)", translate_ct_case);
    r.add("ict", make_ict, "improved consistency training (Song & Dhariwal 2023)", translate_grid_case);
    r.add("ect", make_ect, "easy consistency tuning (Geng et al.)", translate_ect_case);
    r.add("sct", make_sct, "stable consistency tuning (Wang, Geng, Li 2024)", translate_sct_case);
    return r;
  }();
  return registry;
}

}  // namespace

const MethodRegistry& method_registry() { return registry(); }

void register_method(const std::string& name, MethodRegistry::Factory factory, std::string description,
                     LossCaseTranslation translation) {
  registry().add(name, std::move(factory), std::move(description), std::move(translation));
}

std::unique_ptr<Method> make_method(const Config& table) {
  return method_registry().create(table.get<std::string>("name"), table);
}

std::unique_ptr<Method> make_method(const std::string& name, const std::string& preset) {
  Config table;
  table.put("name", name);
  if (!preset.empty()) table.put("preset", preset);
  return make_method(table);
}

}  // namespace cmbench
