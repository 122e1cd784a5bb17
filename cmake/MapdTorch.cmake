# LibTorch from the PyTorch wheel (torch==2.11.0, the GPU machines' version), found through
# `torch.utils.cmake_prefix_path` of the Python that scripts/setup installs it into.
#
# The Python is, in order: -DMAPD_PYTHON=..., $MAPD_VENV/bin/python, the default virtual environment
# of scripts/setup (~/.cache/mapd/venv-torch-2.11.0), python3 on PATH. -DTorch_DIR=... skips it.
#
# The wheel's LibTorch is built with CUDA: its CMake config finds the machine's CUDA toolkit (nvcc,
# cudart, cuBLAS, ...) and mapd links libtorch_cuda, so one binary runs on CPU-only machines and on
# GPU nodes. Torch headers are slow to parse (docs/benchmarks.md, build and CI), so every target that
# includes them reuses one precompiled header (mapd_torch_pch) instead of parsing torch.h again.
set(MAPD_TORCH_VERSION "2.11.0" CACHE STRING "The LibTorch version mapd is built and tested against")

if(NOT Torch_DIR)
  if(NOT MAPD_PYTHON)
    set(_mapd_candidates)
    if(DEFINED ENV{MAPD_VENV})
      list(APPEND _mapd_candidates "$ENV{MAPD_VENV}/bin/python")
    endif()
    list(APPEND _mapd_candidates "$ENV{HOME}/.cache/mapd/venv-torch-${MAPD_TORCH_VERSION}/bin/python")
    foreach(candidate IN LISTS _mapd_candidates)
      if(EXISTS "${candidate}")
        set(MAPD_PYTHON "${candidate}")
        break()
      endif()
    endforeach()
    if(NOT MAPD_PYTHON)
      find_program(MAPD_PYTHON NAMES python3 python)
    endif()
  endif()
  set(MAPD_PYTHON "${MAPD_PYTHON}" CACHE FILEPATH "Python whose torch package provides LibTorch")
  execute_process(
    COMMAND "${MAPD_PYTHON}" -c "import torch, torch.utils; print(torch.utils.cmake_prefix_path); print(torch.__version__)"
    OUTPUT_VARIABLE _mapd_torch_out ERROR_VARIABLE _mapd_torch_err RESULT_VARIABLE _mapd_torch_rc
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _mapd_torch_rc EQUAL 0)
    message(FATAL_ERROR
      "mapd: '${MAPD_PYTHON}' cannot import torch (${_mapd_torch_err}).\n"
      "Run scripts/setup (it installs torch==${MAPD_TORCH_VERSION} into a virtual environment), or "
      "pass -DMAPD_PYTHON=<python with torch> or -DTorch_DIR=<prefix>/share/cmake/Torch.")
  endif()
  string(REPLACE "\n" ";" _mapd_torch_out "${_mapd_torch_out}")
  list(GET _mapd_torch_out 0 _mapd_torch_prefix)
  list(GET _mapd_torch_out 1 _mapd_torch_found)
  message(STATUS "mapd: torch ${_mapd_torch_found} from ${MAPD_PYTHON}")
  list(PREPEND CMAKE_PREFIX_PATH "${_mapd_torch_prefix}")
endif()

# Torch's config looks for the CUDA toolkit itself; point it at the usual install when nvcc is not on
# PATH. Without a toolkit the wheel's config still works for CPU code only when TorchConfig allows it.
if(NOT CUDAToolkit_ROOT AND NOT DEFINED ENV{CUDAToolkit_ROOT} AND EXISTS "/usr/local/cuda/bin/nvcc")
  set(CUDAToolkit_ROOT "/usr/local/cuda")
endif()
find_package(Torch REQUIRED)

# The wheel's include folder carries its own {fmt} (v12) next to ATen and c10, and comes before
# /usr/include on every compile line that uses torch. mapd links Debian's libfmt and libspdlog
# (built against fmt 9), so Debian's fmt headers must win: a folder that holds only a link to them
# is put first on every target's include path (SYSTEM, so its headers do not warn).
get_target_property(_mapd_fmt_include fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
if(NOT _mapd_fmt_include)
  set(_mapd_fmt_include "/usr/include")
endif()
list(GET _mapd_fmt_include 0 _mapd_fmt_include)
set(_mapd_fmt_first "${PROJECT_BINARY_DIR}/fmt-first-include")
file(MAKE_DIRECTORY "${_mapd_fmt_first}")
file(CREATE_LINK "${_mapd_fmt_include}/fmt" "${_mapd_fmt_first}/fmt" SYMBOLIC)
include_directories(BEFORE SYSTEM "${_mapd_fmt_first}")
if(Torch_VERSION VERSION_LESS 2.0)
  message(FATAL_ERROR "mapd needs LibTorch 2.x (found ${Torch_VERSION} in ${Torch_DIR}); run scripts/setup")
endif()
message(STATUS "mapd: LibTorch ${Torch_VERSION} (${Torch_DIR})")

# One OpenMP runtime per process: the wheel ships its own libgomp.so.1, which the loader takes for
# torch and, by soname, for mapd's OpenMP code too; link against that same file.
if(EXISTS "${TORCH_INSTALL_PREFIX}/lib/libgomp.so.1" AND NOT OpenMP_gomp_LIBRARY)
  set(OpenMP_gomp_LIBRARY "${TORCH_INSTALL_PREFIX}/lib/libgomp.so.1" CACHE FILEPATH "libgomp of the PyTorch wheel")
endif()

function(mapd_use_torch_pch target)
  if(NOT TARGET mapd_torch_pch)
    add_library(mapd_torch_pch STATIC "${PROJECT_SOURCE_DIR}/cmake/torch_pch.cpp")
    target_link_libraries(mapd_torch_pch PUBLIC ${TORCH_LIBRARIES} mapd_warnings)
    target_precompile_headers(mapd_torch_pch PUBLIC <torch/torch.h>)
  endif()
  target_link_libraries(${target} PRIVATE mapd_torch_pch)
  target_precompile_headers(${target} REUSE_FROM mapd_torch_pch)
  # The header was precompiled with -fPIC; an executable would otherwise compile with -fPIE, and
  # GCC refuses a PCH built with different code-model settings (-Winvalid-pch).
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    target_compile_options(${target} PRIVATE -fPIC)
  endif()
endfunction()
