#pragma once

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include "mapd/core/log.hpp"

namespace mapd::test {

/// A fresh, empty directory for the current gtest (`<tmp>/<prefix>_<test name>_<pid>`).
inline std::filesystem::path fresh_test_dir(const std::string& prefix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const auto dir = std::filesystem::temp_directory_path() /
                   (prefix + "_" + info->name() + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// A test that trains into a fresh directory (`dir_`, removed afterwards), logging at the level of
/// $MAPD_TEST_LOG (default warn).
class RunDirTest : public ::testing::Test {
 protected:
  explicit RunDirTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override {
    log::init(std::getenv("MAPD_TEST_LOG") != nullptr ? std::getenv("MAPD_TEST_LOG") : "warn");
    dir_ = fresh_test_dir(prefix_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string prefix_;
  std::filesystem::path dir_;
};

}  // namespace mapd::test
