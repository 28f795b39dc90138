# Third-party dependencies (DESIGN.md lists which module uses which).
find_package(Threads REQUIRED)

# CUDA builds of LibTorch 2.x with CUDA 13 may ask for a legacy NVTX target that the toolkit no
# longer ships; provide an empty stand-in so find_package(Torch) succeeds.
if(NOT TARGET CUDA::nvToolsExt)
  add_library(CUDA::nvToolsExt INTERFACE IMPORTED)
endif()
find_package(Torch REQUIRED)

# The LibTorch range this tree is built and tested against (ci/matrix: 1.13, 2.6 CUDA, 2.14).
if(Torch_VERSION VERSION_LESS 1.13)
  message(FATAL_ERROR "LibTorch ${Torch_VERSION} (${Torch_DIR}) is too old: cmbench needs LibTorch 1.13 or newer.")
endif()
if(Torch_VERSION VERSION_GREATER_EQUAL 2.15)
  message(WARNING "LibTorch ${Torch_VERSION} is newer than the newest tested (2.14); if the build or tests fail, "
          "core/torch_compat.h is where version differences go.")
endif()
# LibTorch 2.10+ refuses C++17 with an #error deep in the first translation unit; say it here.
foreach(_dir IN LISTS TORCH_INCLUDE_DIRS)
  if(EXISTS "${_dir}/torch/all.h")
    file(STRINGS "${_dir}/torch/all.h" _needs_cxx20 REGEX "__cplusplus < 202002L")
    if(_needs_cxx20 AND CMAKE_CXX_STANDARD LESS 20)
      message(FATAL_ERROR "LibTorch ${Torch_VERSION} needs C++20, but CMAKE_CXX_STANDARD is ${CMAKE_CXX_STANDARD}: "
              "configure without -DCMAKE_CXX_STANDARD (20 is the default) or with -DCMAKE_CXX_STANDARD=20.")
    endif()
  endif()
endforeach()
# A CUDA LibTorch whose libraries cannot all be loaded (cuDNN is the usual one: pip's nvidia-cudnn-cu12
# package, or Debian's nvidia-cudnn installer) would link with undefined references or fail at start.
find_library(CMBENCH_TORCH_CUDA_LIBRARY torch_cuda HINTS ${TORCH_INSTALL_PREFIX}/lib NO_DEFAULT_PATH)
if(NOT CMBENCH_TORCH_CUDA_LIBRARY)
  find_library(CMBENCH_TORCH_CUDA_LIBRARY torch_cuda)
endif()
set(CMBENCH_TORCH_HAS_CUDA OFF)
if(CMBENCH_TORCH_CUDA_LIBRARY AND TORCH_LIBRARIES MATCHES "torch_cuda|c10_cuda")
  set(CMBENCH_TORCH_HAS_CUDA ON)
  find_program(CMBENCH_LDD ldd)
  if(CMBENCH_LDD)
    execute_process(COMMAND ${CMBENCH_LDD} "${CMBENCH_TORCH_CUDA_LIBRARY}" OUTPUT_VARIABLE _ldd ERROR_QUIET)
    string(REGEX MATCHALL "[^\t\n ]+ => not found" _missing "${_ldd}")
    if(_missing)
      string(REPLACE " => not found" "" _missing "${_missing}")
      message(FATAL_ERROR "${CMBENCH_TORCH_CUDA_LIBRARY} needs libraries this machine does not have: ${_missing} "
              "(libcudnn: install cuDNN 9, e.g. pip install nvidia-cudnn-cu12, or add its folder to LD_LIBRARY_PATH).")
    endif()
  endif()
  message(STATUS "LibTorch ${Torch_VERSION} with CUDA (${CMBENCH_TORCH_CUDA_LIBRARY})")
endif()

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
# libzip and libarchive through pkg-config; a machine without pkg-config (a GPU machine building
# against the prefix of scripts/bundle-deps) gets the same PkgConfig:: targets from a plain lookup.
find_package(PkgConfig QUIET)
foreach(_entry IN ITEMS "LIBZIP;libzip;zip.h;zip" "LIBARCHIVE;libarchive;archive.h;archive")
  list(GET _entry 0 _prefix)
  list(GET _entry 1 _module)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(${_prefix} REQUIRED IMPORTED_TARGET ${_module})
  else()
    list(GET _entry 2 _header)
    list(GET _entry 3 _library)
    find_path(${_prefix}_INCLUDE_DIR ${_header} REQUIRED)
    find_library(${_prefix}_LIBRARY ${_library} REQUIRED)
    add_library(PkgConfig::${_prefix} INTERFACE IMPORTED)
    target_include_directories(PkgConfig::${_prefix} INTERFACE "${${_prefix}_INCLUDE_DIR}")
    target_link_libraries(PkgConfig::${_prefix} INTERFACE "${${_prefix}_LIBRARY}")
    message(STATUS "${_module} (no pkg-config): ${${_prefix}_LIBRARY}")
  endif()
endforeach()

# JPEG decoding (data/jpeg_decoder.cpp, `cmbench data convert` of ILSVRC2012 folders) with the library
# Debian's python3-pil links, libjpeg-turbo, so that decoded pixels equal PIL's.
find_package(JPEG QUIET)
if(NOT JPEG_FOUND)
  message(FATAL_ERROR "libjpeg not found (jpeglib.h and libjpeg, for data/jpeg_decoder.cpp): Debian: apt install "
          "libjpeg62-turbo-dev (or libjpeg-dev), as scripts/install-deps does.")
endif()
find_file(CMBENCH_JPEG_CONFIG_HEADER jconfig.h HINTS ${JPEG_INCLUDE_DIRS}
          PATH_SUFFIXES ${CMAKE_LIBRARY_ARCHITECTURE} NO_CACHE)
set(_jpeg_turbo "")
if(CMBENCH_JPEG_CONFIG_HEADER)
  file(STRINGS "${CMBENCH_JPEG_CONFIG_HEADER}" _jpeg_turbo REGEX "define LIBJPEG_TURBO_VERSION ")
endif()
if(_jpeg_turbo)
  string(REGEX REPLACE ".*LIBJPEG_TURBO_VERSION +" "" _jpeg_turbo "${_jpeg_turbo}")
  message(STATUS "JPEG: libjpeg-turbo ${_jpeg_turbo} (${JPEG_LIBRARIES})")
else()
  message(WARNING "JPEG: ${JPEG_LIBRARIES} is not libjpeg-turbo; decoded JPEG pixels may differ from PIL's "
          "(Debian: libjpeg62-turbo-dev).")
endif()

# PNG decoding and encoding (core/png_opencv.cpp or core/png_libpng.cpp): cmbench_image_io carries
# the backend's libraries, CMBENCH_IMAGE_IO_DEFINITION selects its source file in core/.
add_library(cmbench_image_io INTERFACE)
if(CMBENCH_IMAGE_IO STREQUAL "libpng")
  find_package(PNG REQUIRED)
  target_link_libraries(cmbench_image_io INTERFACE PNG::PNG)
  set(CMBENCH_IMAGE_IO_DEFINITION CMBENCH_IMAGE_IO_LIBPNG)
elseif(CMBENCH_IMAGE_IO STREQUAL "opencv")
  # Debian's split -dev packages ship no OpenCVConfig.cmake, so fall back to a plain lookup.
  find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
  if(OpenCV_FOUND)
    target_include_directories(cmbench_image_io SYSTEM INTERFACE ${OpenCV_INCLUDE_DIRS})
    target_link_libraries(cmbench_image_io INTERFACE ${OpenCV_LIBS})
  else()
    find_path(OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
    target_include_directories(cmbench_image_io SYSTEM INTERFACE ${OPENCV_INCLUDE_DIR})
    foreach(part core imgproc imgcodecs)
      find_library(OPENCV_${part}_LIBRARY opencv_${part} REQUIRED)
      target_link_libraries(cmbench_image_io INTERFACE ${OPENCV_${part}_LIBRARY})
    endforeach()
  endif()
  set(CMBENCH_IMAGE_IO_DEFINITION CMBENCH_IMAGE_IO_OPENCV)
else()
  message(FATAL_ERROR "CMBENCH_IMAGE_IO is '${CMBENCH_IMAGE_IO}': use opencv or libpng.")
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

# Multi-process runs (core/process_group.cpp, issue 13) use LibTorch's own c10d: ProcessGroupGloo
# and TCPStore are compiled into libtorch_cpu, but their header needs Gloo's headers (Debian:
# libgloo-dev). Without them cmbench builds as before and a multi-rank start stops with one line.
set(CMBENCH_C10D_DEFINITIONS "")
# A PyTorch installation may ship its own Gloo headers beside its c10d ones; those match it best.
find_path(CMBENCH_GLOO_INCLUDE_DIR gloo/config.h HINTS ${TORCH_INCLUDE_DIRS})
set(_pg_gloo_header "")
foreach(_dir IN LISTS TORCH_INCLUDE_DIRS)
  if(EXISTS "${_dir}/torch/csrc/distributed/c10d/ProcessGroupGloo.hpp")
    set(_pg_gloo_header "${_dir}/torch/csrc/distributed/c10d/ProcessGroupGloo.hpp")
  endif()
endforeach()
if(CMBENCH_GLOO_INCLUDE_DIR AND _pg_gloo_header)
  set(CMBENCH_C10D_DEFINITIONS CMBENCH_HAVE_C10D_GLOO USE_C10D_GLOO)
  message(STATUS "Multi-process runs: c10d Gloo (${CMBENCH_GLOO_INCLUDE_DIR}/gloo)")
else()
  message(STATUS "Multi-process runs: off (no gloo/config.h; Debian: apt install libgloo-dev)")
endif()
# CUDA tensors' collectives on ProcessGroupNCCL, compiled into a CUDA LibTorch's libtorch_cuda; its
# header needs nccl.h (Debian: libnccl-dev; a PyTorch wheel: the nvidia-nccl-cu12 package beside it).
# Without it, CUDA tensors are staged through the CPU for Gloo.
if(CMBENCH_C10D_DEFINITIONS AND CMBENCH_TORCH_HAS_CUDA)
  set(_pg_nccl_header "")
  foreach(_dir IN LISTS TORCH_INCLUDE_DIRS)
    if(EXISTS "${_dir}/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp")
      set(_pg_nccl_header "${_dir}/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp")
    endif()
  endforeach()
  find_path(CMBENCH_NCCL_INCLUDE_DIR nccl.h
    HINTS $ENV{NCCL_ROOT}/include $ENV{NCCL_INCLUDE_DIR} ${CUDAToolkit_INCLUDE_DIRS}
          "${TORCH_INSTALL_PREFIX}/../nvidia/nccl/include")
  if(_pg_nccl_header AND CMBENCH_NCCL_INCLUDE_DIR)
    list(APPEND CMBENCH_C10D_DEFINITIONS CMBENCH_HAVE_C10D_NCCL USE_C10D_NCCL)
    message(STATUS "Multi-process runs: c10d NCCL for CUDA tensors (${CMBENCH_NCCL_INCLUDE_DIR}/nccl.h)")
  else()
    message(STATUS "Multi-process runs: no NCCL (no nccl.h; Debian: apt install libnccl-dev), "
                   "CUDA tensors go through Gloo on the CPU")
  endif()
endif()
