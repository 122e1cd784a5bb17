#include "mapd/train/signals.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include "mapd/core/error.hpp"

#include "../common/expect_error.hpp"

namespace mapd::train {
namespace {

volatile std::sig_atomic_t g_previous_handler_calls = 0;
void previous_handler(int) { g_previous_handler_calls = g_previous_handler_calls + 1; }

TEST(StopSignalGuard, RecordsTheSignalInsteadOfDyingAndRestoresTheHandler) {
  std::signal(SIGUSR1, previous_handler);
  {
    StopSignalGuard guard;
    EXPECT_EQ(StopSignalGuard::pending(), 0);
    std::raise(SIGUSR1);
    EXPECT_EQ(StopSignalGuard::pending(), SIGUSR1);
  }
  EXPECT_EQ(StopSignalGuard::pending(), 0);
  EXPECT_EQ(g_previous_handler_calls, 0);
  std::raise(SIGUSR1);
  EXPECT_EQ(g_previous_handler_calls, 1);
  std::signal(SIGUSR1, SIG_DFL);
}

TEST(StopSignalGuard, OnlyOneGuardAtATime) {
  StopSignalGuard guard;
  try {
    StopSignalGuard second;
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("only one guard may be active at a time"), std::string::npos)
        << e.what();
  }
}

TEST(StopSignalGuard, DescribesEachSignal) {
  EXPECT_NE(std::string(StopSignalGuard::describe(SIGTERM)).find("SIGTERM"), std::string::npos);
  EXPECT_NE(std::string(StopSignalGuard::describe(SIGINT)).find("SIGINT"), std::string::npos);
  EXPECT_NE(std::string(StopSignalGuard::describe(SIGUSR1)).find("SIGUSR1"), std::string::npos);
}

}  // namespace
}  // namespace mapd::train
