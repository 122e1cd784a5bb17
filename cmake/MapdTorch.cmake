# LibTorch helpers. Torch headers cost ~20 s per translation unit, so every target that includes
# them reuses one precompiled header (mapd_torch_pch) instead of parsing torch.h again.
#
# Debian's LibTorch (1.13) installs TorchConfig.cmake under /usr/lib/<arch>/cmake/Torch; a LibTorch
# 2.x (for example the one inside a PyTorch wheel) is selected with -DTorch_DIR=<prefix>/share/cmake/Torch.

# Torch's CMake config appends its own flags (-D_GLIBCXX_USE_CXX11_ABI, ...) to TORCH_CXX_FLAGS;
# they are applied through the imported target, so nothing else is needed here.

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
