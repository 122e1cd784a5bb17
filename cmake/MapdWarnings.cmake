# mapd_warnings: the warning flags every mapd target uses; -Werror under CI (MAPD_WERROR).
add_library(mapd_warnings INTERFACE)
target_compile_options(mapd_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wcast-align
  -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough)
if(MAPD_WERROR)
  target_compile_options(mapd_warnings INTERFACE -Werror)
endif()
if(MAPD_SANITIZE)
  # Under ASan, GCC 12 reports "may be used uninitialized" inside libstdc++'s own inlined code
  # (std::function in <regex>; GCC bug 105562), which -Werror would turn into a failed build. The
  # release build keeps the warning, so mapd's own code is still checked for it there.
  target_compile_options(mapd_warnings INTERFACE -Wno-maybe-uninitialized)
endif()
