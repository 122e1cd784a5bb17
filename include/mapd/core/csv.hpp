#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// The one CSV field splitter of mapd (manifests, user probe lists, score files, the difficulty
/// pilot's scores). In core: modules without data (knn) read CSV too.
namespace mapd {

/// Splits one CSV record (RFC 4180) into its fields:
/// - fields are separated by commas; a line ending "\r\n" (CRLF) or "\n" is not part of the record;
/// - a field whose first non-blank character is a double quote is quoted: it runs to the matching
///   closing quote, may contain commas, and a doubled quote ("") inside it stands for one quote;
///   its content is kept verbatim (blanks included);
/// - spaces and tabs around a field (outside the quotes) are dropped, so "a, b" gives "a" and "b".
/// A record must fit on one line (a quoted field cannot span lines). Throws DataError naming
/// `where` (typically "file:line") for an unterminated quoted field, for text after a closing
/// quote, and for a quote inside an unquoted field (RFC 4180 allows quotes only in quoted fields).
std::vector<std::string> split_csv_line(std::string_view line, const std::string& where);

/// The decimal integer that is all of `text` (an optional sign, then digits; no blanks), or nothing
/// (also when it does not fit int64). Labels and integer ids of CSV files go through it.
std::optional<int64_t> parse_int64(std::string_view text);

}  // namespace mapd
