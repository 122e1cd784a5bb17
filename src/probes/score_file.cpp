#include "mapd/probes/score_file.hpp"

#include <zlib.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <unordered_map>

#include "mapd/core/csv.hpp"
#include "mapd/core/csv_field.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"

namespace mapd::probes {
namespace {

uint64_t read_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

/// Parses the bytes of one .npy file; `where` names it in errors.
std::vector<double> parse_npy(const std::string& bytes, const std::string& where) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  MAPD_CHECK(bytes.size() >= 10 && std::memcmp(p, "\x93NUMPY", 6) == 0, DataError,
             where + ": not a .npy array (bad magic)");
  const int major = p[6];
  size_t header_len = 0;
  size_t offset = 0;
  if (major == 1) {
    header_len = read_le(p + 8, 2);
    offset = 10;
  } else {
    MAPD_CHECK(bytes.size() >= 12, DataError, where + ": truncated .npy header");
    header_len = read_le(p + 8, 4);
    offset = 12;
  }
  MAPD_CHECK(offset + header_len <= bytes.size(), DataError, where + ": truncated .npy header");
  const std::string header = bytes.substr(offset, header_len);
  auto value_of = [&](const std::string& key) {
    const auto k = header.find("'" + key + "'");
    MAPD_CHECK(k != std::string::npos, DataError, where + ": .npy header lacks '" + key + "'");
    const auto colon = header.find(':', k);
    return header.substr(colon + 1);
  };
  std::string descr = value_of("descr");
  const auto q1 = descr.find('\'');
  const auto q2 = descr.find('\'', q1 + 1);
  descr = descr.substr(q1 + 1, q2 - q1 - 1);
  const std::string fortran = value_of("fortran_order");
  const bool fortran_order = fortran.find("True") < fortran.find("False");
  std::string shape_text = value_of("shape");
  shape_text = shape_text.substr(shape_text.find('(') + 1, shape_text.find(')') - shape_text.find('(') - 1);
  std::vector<int64_t> shape;
  std::stringstream ss(shape_text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    shape.push_back(std::stoll(item));
  }
  int64_t n = 1;
  for (auto s : shape) n *= s;
  const bool one_d = shape.size() == 1 || (shape.size() == 2 && (shape[1] == 1 || shape[0] == 1));
  MAPD_CHECK(one_d, DataError,
             fmt::format("{}: expected a 1-D array of scores, got shape ({})", where, shape_text));
  (void)fortran_order;  // irrelevant for 1-D data
  MAPD_CHECK(descr.size() >= 3, DataError, where + ": unsupported dtype '" + descr + "'");
  const char order = descr[0];
  const char kind = descr[1];
  const int size = std::stoi(descr.substr(2));
  const bool big = order == '>';
  const bool supported =
      (kind == 'f' && (size == 4 || size == 8)) ||
      ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
      (kind == 'b' && size == 1);
  MAPD_CHECK(supported, DataError,
             fmt::format("{}: unsupported dtype '{}' (use float32/64 or an integer type)", where, descr));
  const size_t data_offset = offset + header_len;
  MAPD_CHECK(data_offset + static_cast<size_t>(n) * static_cast<size_t>(size) <= bytes.size(), DataError,
             fmt::format("{}: truncated: {} values of {} bytes announced", where, n, size));
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    unsigned char buf[8];
    std::memcpy(buf, p + data_offset + static_cast<size_t>(i) * size, static_cast<size_t>(size));
    if (big) std::reverse(buf, buf + size);
    const uint64_t raw = read_le(buf, size);
    double v = 0.0;
    if (kind == 'f' && size == 4) {
      float f;
      const auto r32 = static_cast<uint32_t>(raw);
      std::memcpy(&f, &r32, 4);
      v = f;
    } else if (kind == 'f') {
      double d;
      std::memcpy(&d, &raw, 8);
      v = d;
    } else if (kind == 'i') {
      const int shift = 64 - 8 * size;
      v = static_cast<double>(static_cast<int64_t>(raw << shift) >> shift);
    } else {
      v = static_cast<double>(raw);
    }
    out[static_cast<size_t>(i)] = v;
  }
  return out;
}

struct ZipMember {
  std::string name;
  uint16_t method = 0;
  uint64_t compressed = 0;
  uint64_t uncompressed = 0;
  uint64_t local_offset = 0;
};

std::vector<ZipMember> zip_directory(const std::string& bytes, const std::string& where) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  MAPD_CHECK(n >= 22, DataError, where + ": not a .npz (zip) archive");
  size_t eocd = std::string::npos;
  for (size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;) {
    if (read_le(p + i, 4) == 0x06054b50) {
      eocd = i;
      break;
    }
  }
  MAPD_CHECK(eocd != std::string::npos, DataError,
             where + ": not a .npz (zip) archive: no central directory");
  const uint64_t count = read_le(p + eocd + 10, 2);
  const uint64_t dir_offset = read_le(p + eocd + 16, 4);
  MAPD_CHECK(dir_offset != 0xFFFFFFFFULL && count != 0xFFFF, DataError,
             where + ": zip64 archives over 4 GB are not supported; save the scores as .npy or CSV");
  std::vector<ZipMember> members;
  size_t at = dir_offset;
  for (uint64_t m = 0; m < count; ++m) {
    MAPD_CHECK(at + 46 <= n && read_le(p + at, 4) == 0x02014b50, DataError,
               where + ": corrupt zip central directory");
    ZipMember z;
    z.method = static_cast<uint16_t>(read_le(p + at + 10, 2));
    z.compressed = read_le(p + at + 20, 4);
    z.uncompressed = read_le(p + at + 24, 4);
    const size_t name_len = read_le(p + at + 28, 2);
    const size_t extra_len = read_le(p + at + 30, 2);
    const size_t comment_len = read_le(p + at + 32, 2);
    z.local_offset = read_le(p + at + 42, 4);
    MAPD_CHECK(at + 46 + name_len + extra_len <= n, DataError, where + ": corrupt zip central directory");
    z.name.assign(bytes.data() + at + 46, name_len);
    // zip64 extended information (numpy writes members with force_zip64).
    size_t e = at + 46 + name_len;
    const size_t e_end = e + extra_len;
    while (e + 4 <= e_end) {
      const uint64_t tag = read_le(p + e, 2);
      const size_t len = read_le(p + e + 2, 2);
      if (tag == 0x0001) {
        size_t f = e + 4;
        if (z.uncompressed == 0xFFFFFFFFULL) z.uncompressed = read_le(p + f, 8), f += 8;
        if (z.compressed == 0xFFFFFFFFULL) z.compressed = read_le(p + f, 8), f += 8;
        if (z.local_offset == 0xFFFFFFFFULL) z.local_offset = read_le(p + f, 8);
      }
      e += 4 + len;
    }
    members.push_back(z);
    at += 46 + name_len + extra_len + comment_len;
  }
  return members;
}

std::string zip_extract(const std::string& bytes, const ZipMember& z, const std::string& where) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t lo = z.local_offset;
  MAPD_CHECK(lo + 30 <= bytes.size() && read_le(p + lo, 4) == 0x04034b50, DataError,
             where + ": corrupt zip member " + z.name);
  const size_t start = lo + 30 + read_le(p + lo + 26, 2) + read_le(p + lo + 28, 2);
  MAPD_CHECK(start + z.compressed <= bytes.size(), DataError, where + ": truncated zip member " + z.name);
  if (z.method == 0) return bytes.substr(start, z.compressed);
  MAPD_CHECK(z.method == 8, DataError,
             fmt::format("{}: member {} uses zip compression method {} (supported: stored, deflate)", where,
                         z.name, z.method));
  std::string out(z.uncompressed, '\0');
  z_stream stream{};
  MAPD_CHECK(inflateInit2(&stream, -MAX_WBITS) == Z_OK, DataError, where + ": zlib init failed");
  stream.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(bytes.data() + start));
  stream.avail_in = static_cast<uInt>(z.compressed);
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&stream, Z_FINISH);
  inflateEnd(&stream);
  MAPD_CHECK(rc == Z_STREAM_END, DataError, where + ": cannot decompress member " + z.name);
  return out;
}

std::string strip_npy(const std::string& name) {
  return name.size() > 4 && name.substr(name.size() - 4) == ".npy" ? name.substr(0, name.size() - 4) : name;
}

}  // namespace

NumericArray read_npy(const std::filesystem::path& path) {
  return {parse_npy(fs::read_file(path), path.string()), ""};
}

NumericArray read_npz(const std::filesystem::path& path, const std::string& key) {
  const std::string bytes = fs::read_file(path);
  const std::string where = path.string();
  const auto members = zip_directory(bytes, where);
  std::vector<std::string> names;
  names.reserve(members.size());
  for (const auto& m : members) names.push_back(strip_npy(m.name));
  const ZipMember* chosen = nullptr;
  const std::string wanted = key.empty() ? "scores" : key;
  for (const auto& m : members) {
    if (strip_npy(m.name) == wanted) chosen = &m;
  }
  if (chosen == nullptr && key.empty() && members.size() == 1) chosen = &members.front();
  if (chosen == nullptr) {
    std::string list;
    for (size_t i = 0; i < names.size(); ++i) list += (i ? ", " : "") + names[i];
    throw DataError(
        fmt::format("{}: no array '{}' in the archive (members: {}); name the scores array "
                    "'scores' or save it alone",
                    where, wanted, list.empty() ? "none" : list));
  }
  return {parse_npy(zip_extract(bytes, *chosen, where), where + ":" + chosen->name), strip_npy(chosen->name)};
}

std::vector<double> read_score_file(const std::filesystem::path& path, const std::vector<int64_t>& ids,
                                    bool subset, const std::vector<std::string>& names) {
  const auto ext = path.extension().string();
  const std::string where = path.string();
  std::vector<double> out(ids.size());
  if (ext == ".h5" || ext == ".hdf5") {
    throw ConfigError(fmt::format(
        "probes.score_file: {}: HDF5 score files are not read by mapd; convert the scores to .npy or CSV, "
        "e.g. python3 -c \"import h5py, numpy; numpy.save('scores.npy', h5py.File('{}')['scores'][:])\"",
        where, where));
  }
  if (ext == ".npy" || ext == ".npz") {
    const auto array = ext == ".npy" ? read_npy(path) : read_npz(path, "");
    const auto n = static_cast<int64_t>(array.values.size());
    if (!subset) {
      MAPD_CHECK(n == static_cast<int64_t>(ids.size()), DataError,
                 fmt::format("probes.score_file: {} holds {} scores but the training split has {} examples; "
                             "the array must be aligned with the dataset in its stored order",
                             where, n, ids.size()));
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      MAPD_CHECK(ids[i] >= 0 && ids[i] < n, DataError,
                 fmt::format("probes.score_file: {} holds {} scores but the training split has {} examples "
                             "with ids up to {} (example id {} has no score); the array must be aligned "
                             "with the dataset in its stored order",
                             where, n, ids.size(), *std::max_element(ids.begin(), ids.end()), ids[i]));
      out[i] = array.values[static_cast<size_t>(ids[i])];
    }
  } else {
    const std::string text = fs::read_file(path);
    std::istringstream in(text);
    std::string line;
    int64_t line_no = 0;
    int id_col = -1;
    int score_col = -1;
    std::unordered_map<std::string, double> by_id;
    // The key of an id: as written for text ids, else the integer ("007" is 7).
    const auto key_of = [&](const std::string& cell, const std::string& at) {
      if (!names.empty()) return cell;
      const auto value = parse_int64(cell);
      MAPD_CHECK(value.has_value(), DataError,
                 fmt::format("{}: id '{}' is not an integer (the dataset's ids are integers)", at, cell));
      return std::to_string(*value);
    };
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      const auto at = fmt::format("probes.score_file: {}:{}", where, line_no);
      const auto cells = split_csv_line(line, at);
      if (id_col < 0) {
        for (size_t i = 0; i < cells.size(); ++i) {
          if (cells[i] == "id") id_col = static_cast<int>(i);
          if (cells[i] == "score") score_col = static_cast<int>(i);
        }
        MAPD_CHECK(id_col >= 0 && score_col >= 0, DataError,
                   fmt::format("{}: the header must name the columns 'id' and 'score', got '{}'", at, line));
        continue;
      }
      MAPD_CHECK(static_cast<int>(cells.size()) > std::max(id_col, score_col), DataError,
                 at + ": too few columns");
      const std::string id = key_of(cells[static_cast<size_t>(id_col)], at);
      double score = 0.0;
      try {
        size_t used = 0;
        score = std::stod(cells[static_cast<size_t>(score_col)], &used);
        MAPD_CHECK(used == cells[static_cast<size_t>(score_col)].size(), DataError,
                   fmt::format("{}: score '{}' is not a number", at, cells[static_cast<size_t>(score_col)]));
      } catch (const std::logic_error&) {
        throw DataError(fmt::format("{}: cannot parse '{}' as id,score", at, line));
      }
      MAPD_CHECK(by_id.emplace(id, score).second, DataError,
                 fmt::format("{}: example id {} appears twice", at, id));
    }
    MAPD_CHECK(id_col >= 0, DataError,
               "probes.score_file: " + where + ": empty file; expected 'id,score' rows");
    std::vector<std::string> missing;
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::string key = names.empty() ? std::to_string(ids[i]) : names[i];
      const auto it = by_id.find(key);
      if (it == by_id.end()) {
        missing.push_back(key);
      } else {
        out[i] = it->second;
      }
    }
    if (!missing.empty()) {
      std::string first;
      for (size_t i = 0; i < std::min<size_t>(missing.size(), 5); ++i) {
        first += (i ? ", " : "") + missing[i];
      }
      throw DataError(
          fmt::format("probes.score_file: {} has {} rows but {} of the {} training examples have no "
                      "score (first ids: {}); the file must list every example id",
                      where, by_id.size(), missing.size(), ids.size(), first));
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    MAPD_CHECK(std::isfinite(out[i]), DataError,
               fmt::format("probes.score_file: {}: the score of example id {} is not finite", where,
                           names.empty() ? std::to_string(ids[i]) : names[i]));
  }
  return out;
}

void write_score_csv(const std::filesystem::path& path, const std::vector<int64_t>& ids,
                     const std::vector<double>& scores, const std::vector<std::string>& names) {
  std::string text = "id,score\n";
  text.reserve(ids.size() * 24);
  for (size_t i = 0; i < ids.size(); ++i) {
    text +=
        fmt::format("{},{:.9g}\n", names.empty() ? std::to_string(ids[i]) : csv_field(names[i]), scores[i]);
  }
  fs::write_file_atomic(path, text);
}

}  // namespace mapd::probes
