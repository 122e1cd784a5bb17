// mapd entry point: the only place where errors become exit codes (exit codes: docs/user-guide.md §5).
#include <exception>
#include <iostream>

#include "mapd/cli/cli.hpp"
#include "mapd/core/error.hpp"

int main(int argc, char** argv) {
  try {
    return mapd::cli::run(argc, argv);
  } catch (const mapd::Error& e) {
    std::cerr << "mapd: error: " << e.what() << "\n";
    return static_cast<int>(e.exit_code());
  } catch (const std::exception& e) {
    std::cerr << "mapd: internal error: " << e.what() << "\n";
    return static_cast<int>(mapd::ExitCode::kFailure);
  }
}
