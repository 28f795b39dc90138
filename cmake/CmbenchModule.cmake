# cmbench_module(NAME DEPENDS dep...): one library per top-level folder. Every .cpp in the folder
# belongs to it, so a later change only adds files. A folder with no sources yet is an INTERFACE target.
function(cmbench_module name)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  file(GLOB _sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*.cpp")
  set(_target cmbench_${name})
  if(_sources)
    add_library(${_target} STATIC ${_sources})
    target_include_directories(${_target} PUBLIC "${PROJECT_SOURCE_DIR}" "${PROJECT_BINARY_DIR}/generated")
    target_link_libraries(${_target} PUBLIC ${ARG_DEPENDS})
    cmbench_warnings(${_target})
    if(CMBENCH_USE_PCH)
      target_precompile_headers(${_target} REUSE_FROM cmbench_pch)
    endif()
  else()
    add_library(${_target} INTERFACE)
    target_include_directories(${_target} INTERFACE "${PROJECT_SOURCE_DIR}" "${PROJECT_BINARY_DIR}/generated")
    target_link_libraries(${_target} INTERFACE ${ARG_DEPENDS})
  endif()
  add_library(cmbench::${name} ALIAS ${_target})
endfunction()

set(CMBENCH_WARNING_FLAGS -Wall -Wextra)

function(cmbench_warnings target)
  target_compile_options(${target} PRIVATE ${CMBENCH_WARNING_FLAGS})
  if(CMBENCH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# The third-party libraries of core, hence of every module and program.
add_library(cmbench_base INTERFACE)
target_link_libraries(cmbench_base INTERFACE
  cmbench_torch cmbench_hdf5 fmt::fmt spdlog::spdlog nlohmann_json::nlohmann_json
  tomlplusplus::tomlplusplus PkgConfig::LIBZIP OpenSSL::Crypto Threads::Threads)

# One precompiled LibTorch header shared by every target (saves ~15 s per translation unit). GCC uses
# it only where the compile definitions match (HDF5 2.x adds -D_FILE_OFFSET_BITS=64 and friends), so
# it is compiled with every definition core's libraries bring.
if(CMBENCH_USE_PCH)
  file(WRITE "${PROJECT_BINARY_DIR}/generated/pch_stub.cpp" "// precompiled-header carrier\n")
  add_library(cmbench_pch STATIC "${PROJECT_BINARY_DIR}/generated/pch_stub.cpp")
  target_link_libraries(cmbench_pch PUBLIC cmbench_base)
  target_compile_options(cmbench_pch PRIVATE ${CMBENCH_WARNING_FLAGS})
  target_precompile_headers(cmbench_pch PRIVATE <torch/torch.h>)
endif()
