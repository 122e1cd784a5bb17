#include "mapd/core/csv.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mapd/core/error.hpp"

namespace mapd {
namespace {

using Fields = std::vector<std::string>;

Fields split(const std::string& line) { return split_csv_line(line, "t.csv:1"); }

/// The message of the DataError that splitting `line` throws ("" when it throws none).
std::string error_of(const std::string& line, const std::string& where) {
  try {
    (void)split_csv_line(line, where);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(SplitCsvLine, PlainFieldsAndBlanksAroundThem) {
  EXPECT_EQ(split("a,b,c"), (Fields{"a", "b", "c"}));
  EXPECT_EQ(split(" a ,\tb\t, c"), (Fields{"a", "b", "c"}));
  EXPECT_EQ(split("a b,c"), (Fields{"a b", "c"}));  // blanks inside a field stay
  EXPECT_EQ(split(""), (Fields{""}));
  EXPECT_EQ(split("a,,b,"), (Fields{"a", "", "b", ""}));
}

TEST(SplitCsvLine, QuotedFieldsKeepCommasDoubledQuotesAndBlanks) {
  EXPECT_EQ(split("\"a,b\",c"), (Fields{"a,b", "c"}));
  EXPECT_EQ(split("\"say \"\"hi\"\"\",x"), (Fields{"say \"hi\"", "x"}));
  EXPECT_EQ(split("\"\"\"\""), (Fields{"\""}));
  EXPECT_EQ(split("\"\",b"), (Fields{"", "b"}));
  EXPECT_EQ(split("  \" a \"  ,b"), (Fields{" a ", "b"}));  // blanks outside the quotes are dropped
  // What write_bad_inputs writes reads back.
  EXPECT_EQ(split("\"a,b.jpg\",\"say \"\"hi\"\"\""), (Fields{"a,b.jpg", "say \"hi\""}));
}

TEST(SplitCsvLine, CrlfAndLfLineEndsAreNotPartOfTheLastField) {
  EXPECT_EQ(split("a,b\r\n"), (Fields{"a", "b"}));
  EXPECT_EQ(split("a,b\r"), (Fields{"a", "b"}));
  EXPECT_EQ(split("a,\"b\"\n"), (Fields{"a", "b"}));
  EXPECT_EQ(split("\"x\ry\",z\r"), (Fields{"x\ry", "z"}));  // a CR inside quotes is data
}

TEST(SplitCsvLine, UnterminatedQuoteIsADataErrorNamingWhere) {
  const auto message = error_of("1,\"img/a.png,3", "labels.csv:7");
  EXPECT_NE(message.find("labels.csv:7: field 2 has an unterminated quote"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot span lines"), std::string::npos) << message;
  EXPECT_NE(error_of("\"a\"\"", "f:1").find("unterminated quote"), std::string::npos);
  EXPECT_NE(error_of("\"a\r\n", "f:1").find("unterminated quote"), std::string::npos);
}

TEST(SplitCsvLine, StrayQuotesAreDataErrors) {
  auto message = error_of("\"a\"b,c", "f.csv:2");
  EXPECT_NE(message.find("f.csv:2: field 1 has text after its closing quote"), std::string::npos) << message;
  message = error_of("a,b\"c\"", "f.csv:3");
  EXPECT_NE(message.find("f.csv:3: field 2 has a quote inside an unquoted field"), std::string::npos)
      << message;
}

}  // namespace
}  // namespace mapd
