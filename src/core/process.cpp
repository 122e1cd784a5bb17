#include "mapd/core/process.hpp"

#include <unistd.h>

#include <fstream>

namespace mapd::process {

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t total_pages = 0;
  int64_t resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  const long page = ::sysconf(_SC_PAGESIZE);
  return page > 0 ? resident_pages * page : 0;
}

}  // namespace mapd::process
