#include "mapd/data/png.hpp"

#include <zlib.h>

#include <fmt/format.h>

#include <array>
#include <cstdlib>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"

namespace mapd::data {
namespace {

void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out += static_cast<char>((v >> static_cast<uint32_t>(shift)) & 0xFF);
}

/// One chunk: length, type, data, CRC-32 of type and data.
void put_chunk(std::string& out, const char (&type)[5], const std::string& data) {
  put_be32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.append(type, 4);
  out += data;
  const auto crc =
      ::crc32(0L, reinterpret_cast<const Bytef*>(out.data() + start), static_cast<uInt>(out.size() - start));
  put_be32(out, static_cast<uint32_t>(crc));
}

/// Paeth predictor of the PNG spec (filter type 4).
uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a);
  const int pb = std::abs(p - b);
  const int pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<uint8_t>(a);
  return static_cast<uint8_t>(pb <= pc ? b : c);
}

}  // namespace

std::string encode_png(const PixelView& image) {
  MAPD_ASSERT(image.data != nullptr && image.height > 0 && image.width > 0, "encode_png: empty image");
  MAPD_ASSERT(image.channels == 1 || image.channels == 3,
              fmt::format("encode_png: {} channels (expected 1 or 3)", image.channels));
  const int64_t channels = image.channels;
  const int64_t line = image.width * channels;
  const int64_t stride = image.row_bytes > 0 ? image.row_bytes : line;
  // Rows in PNG order (RGB), each with the filter that gives the smallest sum of absolute
  // residuals (the usual heuristic): None for flat areas, Up or Paeth for photos and grids.
  std::vector<uint8_t> raw(static_cast<size_t>(image.height * (line + 1)));
  std::vector<uint8_t> previous(static_cast<size_t>(line), 0);
  std::vector<uint8_t> current(static_cast<size_t>(line));
  std::array<std::vector<uint8_t>, 5> candidates;
  for (auto& c : candidates) c.resize(static_cast<size_t>(line));
  for (int64_t y = 0; y < image.height; ++y) {
    const uint8_t* src = image.data + y * stride;
    for (int64_t x = 0; x < image.width; ++x) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t from = channels == 3 && image.bgr ? 2 - c : c;
        current[static_cast<size_t>(x * channels + c)] = src[x * channels + from];
      }
    }
    for (int64_t i = 0; i < line; ++i) {
      const int a = i >= channels ? current[static_cast<size_t>(i - channels)] : 0;
      const int b = previous[static_cast<size_t>(i)];
      const int c = i >= channels ? previous[static_cast<size_t>(i - channels)] : 0;
      const int v = current[static_cast<size_t>(i)];
      const auto k = static_cast<size_t>(i);
      candidates[0][k] = static_cast<uint8_t>(v);
      candidates[1][k] = static_cast<uint8_t>(v - a);
      candidates[2][k] = static_cast<uint8_t>(v - b);
      candidates[3][k] = static_cast<uint8_t>(v - (a + b) / 2);
      candidates[4][k] = static_cast<uint8_t>(v - paeth(a, b, c));
    }
    size_t best = 0;
    int64_t best_cost = -1;
    for (size_t f = 0; f < candidates.size(); ++f) {
      int64_t cost = 0;
      for (const uint8_t r : candidates[f]) cost += r < 128 ? r : 256 - r;
      if (best_cost < 0 || cost < best_cost) {
        best = f;
        best_cost = cost;
      }
    }
    uint8_t* dst = raw.data() + y * (line + 1);
    dst[0] = static_cast<uint8_t>(best);
    std::copy(candidates[best].begin(), candidates[best].end(), dst + 1);
    previous.swap(current);
  }
  uLongf packed_size = ::compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  const int rc = ::compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, raw.data(),
                             static_cast<uLong>(raw.size()), 6);
  MAPD_CHECK(rc == Z_OK, Error, fmt::format("encode_png: zlib failed ({})", rc));
  packed.resize(packed_size);

  std::string header;
  put_be32(header, static_cast<uint32_t>(image.width));
  put_be32(header, static_cast<uint32_t>(image.height));
  header += static_cast<char>(8);                      // bit depth
  header += static_cast<char>(channels == 3 ? 2 : 0);  // colour type: RGB or grey
  header.append(3, '\0');                              // deflate, adaptive filtering, no interlace
  std::string out("\x89PNG\r\n\x1a\n", 8);
  put_chunk(out, "IHDR", header);
  put_chunk(out, "IDAT", packed);
  put_chunk(out, "IEND", std::string());
  return out;
}

void write_png(const std::filesystem::path& path, const PixelView& image) {
  fs::write_file_atomic(path, encode_png(image));
}

}  // namespace mapd::data
