#pragma once

#include <stdexcept>
#include <string>

/// Error types of mapd. Library code throws one of these with a message a user can act on
/// (what went wrong, where: file, key path or example id, and what to do). Only `main` maps them
/// to process exit codes (docs/user-guide.md §5).
namespace mapd {

/// Process exit codes (docs/user-guide.md §5, README.md).
enum class ExitCode : int {
  kOk = 0,
  kFailure = 1,      ///< an unexpected internal error (a bug)
  kBadConfig = 2,    ///< bad configuration or command-line arguments
  kDataError = 3,    ///< unreadable or inconsistent input data
  kIoError = 4,      ///< a file could not be read or written
  kDiverged = 5,     ///< training produced a NaN or infinite loss
  kDistributed = 6,  ///< another process of a data-parallel job failed, or the job's rendezvous failed
  kInternal = 70,    ///< an internal invariant does not hold (a bug in mapd; EX_SOFTWARE)
};

/// Base class of all mapd errors.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  /// The exit code `main` returns for this error.
  [[nodiscard]] virtual ExitCode exit_code() const { return ExitCode::kFailure; }
};

/// A configuration file, key, value or command-line argument is wrong.
class ConfigError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] ExitCode exit_code() const override { return ExitCode::kBadConfig; }
};

/// Input data is missing, malformed or inconsistent.
class DataError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] ExitCode exit_code() const override { return ExitCode::kDataError; }
};

/// Reading or writing a file failed.
class IoError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] ExitCode exit_code() const override { return ExitCode::kIoError; }
};

/// Training produced a NaN or infinite loss.
class DivergedError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] ExitCode exit_code() const override { return ExitCode::kDiverged; }
};

/// A data-parallel job cannot go on: the rendezvous failed, another rank died or threw, or a
/// collective timed out (dist.timeout_s).
class DistributedError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] ExitCode exit_code() const override { return ExitCode::kDistributed; }
};

/// An internal invariant does not hold: a bug in mapd, not in the user's input. The message
/// names the source file and line (thrown through MAPD_ASSERT).
class InternalError : public Error {
 public:
  InternalError(const std::string& message, const char* file, int line)
      : Error("internal error (" + std::string(file) + ":" + std::to_string(line) + "): " + message +
              "; please report this as a bug") {}
  [[nodiscard]] ExitCode exit_code() const override { return ExitCode::kInternal; }
};

/// Training stopped because of a signal after the last complete epoch was checkpointed.
class InterruptedError : public Error {
 public:
  InterruptedError(const std::string& message, int signal_number)
      : Error(message), signal_number_(signal_number) {}
  [[nodiscard]] ExitCode exit_code() const override { return static_cast<ExitCode>(128 + signal_number_); }
  [[nodiscard]] int signal_number() const { return signal_number_; }

 private:
  int signal_number_;
};

}  // namespace mapd

/// Throws `ErrorType(message)` unless `condition` holds. `message` is any expression convertible
/// to std::string (typically built with fmt::format); it is only evaluated on failure.
#define MAPD_CHECK(condition, ErrorType, message) \
  do {                                            \
    if (!(condition)) {                           \
      throw ErrorType(message);                   \
    }                                             \
  } while (false)

/// Throws InternalError(message, __FILE__, __LINE__) unless `condition` holds: for invariants of
/// mapd's own code, never for what a user can get wrong (that is MAPD_CHECK with a user error).
#define MAPD_ASSERT(condition, message)                         \
  do {                                                          \
    if (!(condition)) {                                         \
      throw ::mapd::InternalError(message, __FILE__, __LINE__); \
    }                                                           \
  } while (false)
