#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/record/dynamics_store.hpp"

/// Helpers of the end-to-end tests: a tiny learnable IDX dataset written by the test, and the real
/// mapd binary run in the foreground (popen) or in the background (fork/exec, for signals).
namespace mapd::cli::testing {

namespace stdfs = std::filesystem;

/// A fresh, empty temporary folder named after the test.
inline stdfs::path temp_dir(const std::string& name) {
  const auto dir =
      stdfs::temp_directory_path() / ("mapd_pipeline_test_" + name + "_" + std::to_string(::getpid()));
  stdfs::remove_all(dir);
  stdfs::create_directories(dir);
  return dir;
}

inline void put_be32(std::vector<uint8_t>& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    bytes.push_back(static_cast<uint8_t>(value >> static_cast<uint32_t>(shift)));
  }
}

/// Side of the pattern images.
inline constexpr int kPatternSide = 28;

/// One kPatternSide x kPatternSide grey image of class `label` (0..9) into `pixels`: dim noise in
/// [0, 60) plus a bright 7x6 block whose position on a 4x3 grid is the class.
inline void pattern_image(int label, std::mt19937& gen, std::vector<uint8_t>& pixels) {
  constexpr int kSide = kPatternSide;
  pixels.resize(static_cast<size_t>(kSide * kSide));
  for (auto& p : pixels) p = static_cast<uint8_t>(gen() % 60);
  const int top = (label / 4) * 9 + 1;
  const int left = (label % 4) * 7;
  for (int y = top; y < top + 7; ++y) {
    for (int x = left; x < left + 6; ++x) {
      pixels[static_cast<size_t>(y * kSide + x)] = static_cast<uint8_t>(200 + gen() % 55);
    }
  }
}

/// Writes `<split>-images-idx3-ubyte` and `<split>-labels-idx1-ubyte` (uncompressed) into `dir`:
/// `n` 28x28 grey images, label i % 10, dim noise in [0, 60) plus a bright 7x6 block whose position
/// on a 4x3 grid is the class, so a small CNN learns the classes within an epoch or two.
inline void write_pattern_idx(const stdfs::path& dir, const std::string& split, int n, uint32_t seed) {
  constexpr int kSide = kPatternSide;
  constexpr int kClasses = 10;
  std::mt19937 gen(seed);
  std::vector<uint8_t> images;
  put_be32(images, 0x803);
  put_be32(images, static_cast<uint32_t>(n));
  put_be32(images, kSide);
  put_be32(images, kSide);
  std::vector<uint8_t> labels;
  put_be32(labels, 0x801);
  put_be32(labels, static_cast<uint32_t>(n));
  std::vector<uint8_t> pixels(kSide * kSide);
  for (int i = 0; i < n; ++i) {
    const int label = i % kClasses;
    pattern_image(label, gen, pixels);
    images.insert(images.end(), pixels.begin(), pixels.end());
    labels.push_back(static_cast<uint8_t>(label));
  }
  std::ofstream(dir / (split + "-images-idx3-ubyte"), std::ios::binary)
      .write(reinterpret_cast<const char*>(images.data()), static_cast<std::streamsize>(images.size()));
  std::ofstream(dir / (split + "-labels-idx1-ubyte"), std::ios::binary)
      .write(reinterpret_cast<const char*>(labels.data()), static_cast<std::streamsize>(labels.size()));
}

/// The images of write_pattern_idx as binary PGM files in `dir`, listed by `dir`/manifest.csv
/// with text ids ("img-000000", ...; the eighth is "batch 1, img 7", quoted) as a user's
/// spreadsheet export would: a UTF-8 byte order mark first. Returns the ids in manifest order.
inline std::vector<std::string> write_pattern_manifest(const stdfs::path& dir, int n, uint32_t seed) {
  constexpr int kSide = kPatternSide;
  constexpr int kClasses = 10;
  std::mt19937 gen(seed);
  stdfs::create_directories(dir);
  std::ofstream manifest(dir / "manifest.csv");
  manifest << "\xEF\xBB\xBFid,path,label\n";
  std::vector<std::string> ids;
  std::vector<uint8_t> pixels(kSide * kSide);
  for (int i = 0; i < n; ++i) {
    const int label = i % kClasses;
    pattern_image(label, gen, pixels);
    const std::string name = "p" + std::to_string(i) + ".pgm";
    std::ofstream pgm(dir / name, std::ios::binary);
    pgm << "P5\n" << kSide << " " << kSide << "\n255\n";
    pgm.write(reinterpret_cast<const char*>(pixels.data()), static_cast<std::streamsize>(pixels.size()));
    char id[16];
    std::snprintf(id, sizeof id, "img-%06d", i);
    ids.emplace_back(i == 7 ? "batch 1, img 7" : id);
    manifest << (i == 7 ? "\"batch 1, img 7\"" : ids.back()) << "," << name << "," << label << "\n";
  }
  return ids;
}

/// The output and exit code of one foreground run of the binary.
struct Result {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs `mapd ARGUMENTS` (a shell command line) to completion.
inline Result run_mapd(const std::string& arguments) {
  const std::string command = std::string(MAPD_BINARY) + " " + arguments + " 2>&1";
  Result result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

/// Starts `mapd ARGS...` in the background with stdout and stderr going to `log_file`, with the
/// variables `env` ("NAME=value") added to its environment.
inline pid_t spawn_mapd(const std::vector<std::string>& args, const stdfs::path& log_file,
                        const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv_text{MAPD_BINARY};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& variable : env) {
      const auto equals = variable.find('=');
      ::setenv(variable.substr(0, equals).c_str(), variable.substr(equals + 1).c_str(), 1);
    }
    const int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

/// Waits for `pid`; returns its exit code, or 128 + N when signal N killed it.
inline int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Committed epochs of `dynamics.h5` (a live run is read as a SWMR reader); -1 when the file does
/// not exist yet or cannot be opened at this moment (the writer is still creating it).
inline int64_t committed_epochs(const stdfs::path& dynamics) {
  if (!stdfs::exists(dynamics)) return -1;
  try {
    return record::DynamicsStore::open_read(dynamics).complete_epochs();
  } catch (const Error&) {
    return -1;
  }
}

/// Polls `dynamics` until at least `epochs` are committed; false if `pid` exited first or after
/// `timeout`.
inline bool wait_for_epochs(const stdfs::path& dynamics, int64_t epochs, pid_t pid,
                            std::chrono::seconds timeout = std::chrono::seconds(120)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (committed_epochs(dynamics) >= epochs) return true;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

/// Polls `log` until it contains `text`; false if `pid` exited first or after `timeout`.
inline bool wait_for_text(const stdfs::path& log, const std::string& text, pid_t pid,
                          std::chrono::seconds timeout = std::chrono::seconds(120)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(log, std::ios::binary);
    const std::string contents{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (contents.find(text) != std::string::npos) return true;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

/// The text of a file ("" when missing).
inline std::string read_text(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Non-empty lines of a text file.
inline std::vector<std::string> read_lines(const stdfs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

/// /epochs/{loss, pred, true_prob} of the committed epochs, example-major as read_losses lays them
/// out: value of example i at epoch e at [i * epochs + e].
struct Trajectories {
  int64_t epochs = 0;
  int64_t examples = 0;
  std::vector<float> loss;
  std::vector<int32_t> pred;
  std::vector<float> true_prob;
};

inline Trajectories read_trajectories(const stdfs::path& dynamics) {
  const auto store = record::DynamicsStore::open_read(dynamics);
  Trajectories t;
  t.epochs = store.complete_epochs();
  t.examples = store.num_examples();
  const auto size = static_cast<size_t>(t.epochs * t.examples);
  t.loss.resize(size);
  t.pred.resize(size);
  t.true_prob.resize(size);
  if (size > 0) {
    store.read_losses(0, t.examples, 0, t.epochs, t.loss.data());
    store.read_preds(0, t.examples, 0, t.epochs, t.pred.data());
    store.read_true_probs(0, t.examples, 0, t.epochs, t.true_prob.data());
  }
  return t;
}

}  // namespace mapd::cli::testing
