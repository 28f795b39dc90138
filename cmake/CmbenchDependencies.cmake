# Third-party dependencies (DESIGN.md lists which module uses which).
find_package(Threads REQUIRED)

# CUDA builds of LibTorch 2.x with CUDA 13 may ask for a legacy NVTX target that the toolkit no
# longer ships; provide an empty stand-in so find_package(Torch) succeeds.
if(NOT TARGET CUDA::nvToolsExt)
  add_library(CUDA::nvToolsExt INTERFACE IMPORTED)
endif()
find_package(Torch REQUIRED)

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
target_include_directories(cmbench_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
target_link_libraries(cmbench_torch INTERFACE ${TORCH_LIBRARIES})
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(cmbench_torch INTERFACE ${_torch_flags})
