#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>

/// Error checks that look at the message too: an error of the right type that no longer names the
/// key, file or number a user needs is a regression.
namespace mapd::test {

/// Runs `action` and succeeds when it throws an `E` whose message contains every one of `parts`;
/// the failure says what was thrown instead (another type, nothing, or the message lacking a part).
template <typename E, typename F>
::testing::AssertionResult throws_with(F&& action, std::initializer_list<std::string_view> parts) {
  try {
    action();
  } catch (const E& e) {
    const std::string message = e.what();
    for (const auto part : parts) {
      if (message.find(part) == std::string::npos) {
        return ::testing::AssertionFailure() << "the message lacks '" << part << "': " << message;
      }
    }
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw another type: " << e.what();
  }
  return ::testing::AssertionFailure() << "threw nothing";
}

}  // namespace mapd::test

/// EXPECT_THROW that also checks the message:
/// `MAPD_EXPECT_THROW_WITH(parse_amp_mode("fp8"), ConfigError, "train.amp", "'fp8'");`
#define MAPD_EXPECT_THROW_WITH(statement, type, ...) \
  EXPECT_TRUE(::mapd::test::throws_with<type>([&] { statement; }, {__VA_ARGS__})) << "in: " #statement
