# mapd_warnings: the warning flags every mapd target uses; -Werror under CI (MAPD_WERROR).
add_library(mapd_warnings INTERFACE)
target_compile_options(mapd_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wcast-align
  -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough)
if(MAPD_WERROR)
  target_compile_options(mapd_warnings INTERFACE -Werror)
endif()
