# OpenCV: only the three modules mapd uses (core, imgproc, imgcodecs), from Debian's per-module
# -dev packages. Debian ships OpenCVConfig.cmake only in libopencv-dev, which pulls in every module
# (and through them GDAL, FFmpeg, GStreamer, Qt ...); mapd needs none of those, so the imported
# targets are made here, with the names OpenCV's own config would give them.
find_path(MAPD_OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
set(OpenCV_INCLUDE_DIRS "${MAPD_OPENCV_INCLUDE_DIR}")
set(_mapd_opencv_modules core imgproc)
if(MAPD_IMGCODECS)
  list(APPEND _mapd_opencv_modules imgcodecs)
endif()
foreach(module IN LISTS _mapd_opencv_modules)
  find_library(MAPD_OPENCV_${module}_LIBRARY NAMES opencv_${module} REQUIRED)
  if(NOT TARGET opencv_${module})
    add_library(opencv_${module} SHARED IMPORTED)
    set_target_properties(opencv_${module} PROPERTIES
      IMPORTED_LOCATION "${MAPD_OPENCV_${module}_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${MAPD_OPENCV_INCLUDE_DIR}")
  endif()
endforeach()
set_property(TARGET opencv_imgproc APPEND PROPERTY INTERFACE_LINK_LIBRARIES opencv_core)
if(MAPD_IMGCODECS)
  set_property(TARGET opencv_imgcodecs APPEND PROPERTY INTERFACE_LINK_LIBRARIES opencv_imgproc opencv_core)
endif()
message(STATUS "mapd: OpenCV ${_mapd_opencv_modules} in ${MAPD_OPENCV_INCLUDE_DIR}")
