#include "mapd/core/csv.hpp"

#include <fmt/format.h>

#include <charconv>

#include "mapd/core/error.hpp"

namespace mapd {
namespace {

bool blank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::vector<std::string> split_csv_line(std::string_view line, const std::string& where) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string> fields;
  size_t i = 0;
  while (true) {
    const size_t column = fields.size() + 1;
    while (i < line.size() && blank(line[i])) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      const size_t open = i++;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] != '"') {
          field += line[i++];
        } else if (i + 1 < line.size() && line[i + 1] == '"') {
          field += '"';
          i += 2;
        } else {
          closed = true;
          ++i;
          break;
        }
      }
      MAPD_CHECK(
          closed, DataError,
          fmt::format("{}: field {} has an unterminated quote (opened at character {}); close it with \" "
                      "(a field cannot span lines)",
                      where, column, open + 1));
      while (i < line.size() && blank(line[i])) ++i;
      MAPD_CHECK(i == line.size() || line[i] == ',', DataError,
                 fmt::format("{}: field {} has text after its closing quote (character {}); quote the whole "
                             "field and double the quotes inside it",
                             where, column, i + 1));
    } else {
      const size_t begin = i;
      while (i < line.size() && line[i] != ',') {
        MAPD_CHECK(line[i] != '"', DataError,
                   fmt::format("{}: field {} has a quote inside an unquoted field (character {}); quote the "
                               "whole field and double the quotes inside it",
                               where, column, i + 1));
        ++i;
      }
      size_t end = i;
      while (end > begin && blank(line[end - 1])) --end;
      field.assign(line.substr(begin, end - begin));
    }
    fields.push_back(std::move(field));
    if (i == line.size()) break;
    ++i;  // the comma
  }
  return fields;
}

std::optional<int64_t> parse_int64(std::string_view text) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && text.front() == '-') return std::nullopt;
  }
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace mapd
