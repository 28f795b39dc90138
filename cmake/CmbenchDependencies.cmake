# Third-party dependencies (DESIGN.md lists which module uses which).
find_package(Threads REQUIRED)

# CUDA builds of LibTorch 2.x with CUDA 13 may ask for a legacy NVTX target that the toolkit no
# longer ships; provide an empty stand-in so find_package(Torch) succeeds.
if(NOT TARGET CUDA::nvToolsExt)
  add_library(CUDA::nvToolsExt INTERFACE IMPORTED)
endif()
find_package(Torch REQUIRED)

# PyTorch wheels built for manylinux2014 (up to about 2.5) use the pre-C++11 std::string ABI; every
# system library cmbench links (fmt, spdlog, HDF5 C++, OpenCV, GTest, benchmark) uses the C++11 ABI.
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
  message(FATAL_ERROR "LibTorch (${TORCH_CXX_FLAGS}) uses the pre-C++11 libstdc++ ABI, Debian's libraries "
          "the C++11 ABI: use a cxx11-ABI LibTorch (the libtorch-cxx11-abi-shared-with-deps archive, or a "
          "torch wheel where torch._C._GLIBCXX_USE_CXX11_ABI is True).")
endif()

# TorchConfig of some 2.x versions links the legacy libnvToolsExt.so by path; CUDA >= 12.9 has none.
list(FILTER TORCH_LIBRARIES EXCLUDE REGEX "-NOTFOUND$")
if(TARGET torch::nvtoolsext)
  get_target_property(_nvtx_libs torch::nvtoolsext INTERFACE_LINK_LIBRARIES)
  if(_nvtx_libs)
    list(FILTER _nvtx_libs EXCLUDE REGEX "-NOTFOUND$")
    set_property(TARGET torch::nvtoolsext PROPERTY INTERFACE_LINK_LIBRARIES "${_nvtx_libs}")
  endif()
endif()

find_package(HDF5 REQUIRED COMPONENTS C CXX)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(CURL REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)

# OpenCV: Debian's split -dev packages ship no OpenCVConfig.cmake, so fall back to a plain lookup.
find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
if(OpenCV_FOUND)
  add_library(cmbench_opencv INTERFACE)
  target_include_directories(cmbench_opencv SYSTEM INTERFACE ${OpenCV_INCLUDE_DIRS})
  target_link_libraries(cmbench_opencv INTERFACE ${OpenCV_LIBS})
else()
  find_path(OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
  add_library(cmbench_opencv INTERFACE)
  target_include_directories(cmbench_opencv SYSTEM INTERFACE ${OPENCV_INCLUDE_DIR})
  foreach(part core imgproc imgcodecs)
    find_library(OPENCV_${part}_LIBRARY opencv_${part} REQUIRED)
    target_link_libraries(cmbench_opencv INTERFACE ${OPENCV_${part}_LIBRARY})
  endforeach()
endif()

add_library(cmbench_hdf5 INTERFACE)
target_include_directories(cmbench_hdf5 SYSTEM INTERFACE ${HDF5_INCLUDE_DIRS})
target_link_libraries(cmbench_hdf5 INTERFACE ${HDF5_LIBRARIES} ${HDF5_CXX_LIBRARIES})
target_compile_definitions(cmbench_hdf5 INTERFACE ${HDF5_DEFINITIONS})

# LibTorch, with its include folders marked as system headers (they are not warning-free).
add_library(cmbench_torch INTERFACE)
# PyTorch wheels ship fmt headers of their own (torch/include/fmt, fmt 10-12) in a folder searched
# before /usr/include, so <fmt/...> would resolve there while fmt::fmt and spdlog link Debian's
# libfmt 9. A folder holding only a link to the system fmt goes first.
get_target_property(_fmt_include fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
find_path(CMBENCH_SYSTEM_FMT_DIR fmt/format.h HINTS ${_fmt_include} NO_CMAKE_PATH NO_CMAKE_ENVIRONMENT_PATH)
foreach(_dir IN LISTS TORCH_INCLUDE_DIRS)
  get_filename_component(_dir "${_dir}" REALPATH)
  get_filename_component(_system_fmt "${CMBENCH_SYSTEM_FMT_DIR}" REALPATH)
  if(EXISTS "${_dir}/fmt/format.h" AND NOT _dir STREQUAL _system_fmt)
    set(_fmt_first "${PROJECT_BINARY_DIR}/fmt-first")
    file(MAKE_DIRECTORY "${_fmt_first}")
    file(CREATE_LINK "${CMBENCH_SYSTEM_FMT_DIR}/fmt" "${_fmt_first}/fmt" SYMBOLIC)
    target_include_directories(cmbench_torch SYSTEM BEFORE INTERFACE "${_fmt_first}")
    message(STATUS "LibTorch ships fmt headers in ${_dir}; using the system fmt in ${CMBENCH_SYSTEM_FMT_DIR}")
    break()
  endif()
endforeach()
target_include_directories(cmbench_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
target_link_libraries(cmbench_torch INTERFACE ${TORCH_LIBRARIES})
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(cmbench_torch INTERFACE ${_torch_flags})
