#pragma once

#include <string>
#include <string_view>

namespace mapd {

/// `value` as one field of a CSV record that split_csv_line (RFC 4180) reads back verbatim:
/// as it is when it holds no comma, quote, line break or surrounding blank, else quoted with its
/// quotes doubled. Text ids, paths and reasons go through it; numbers need not.
inline std::string csv_field(std::string_view value) {
  const bool blank_edge = !value.empty() && (value.front() == ' ' || value.front() == '\t' ||
                                             value.back() == ' ' || value.back() == '\t');
  if (value.find_first_of(",\"\r\n") == std::string_view::npos && !blank_edge) {
    return std::string(value);
  }
  std::string quoted = "\"";
  for (const char c : value) {
    if (c == '"') {
      quoted += '"';
    }
    quoted += c;
  }
  return quoted + '"';
}

}  // namespace mapd
