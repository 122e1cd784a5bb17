#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

/// Difficulty score files (probes.score_file) and small numeric-array readers. No torch here.
namespace mapd::probes {

/// A 1-D numeric array read from a .npy file or one member of a .npz archive, as doubles.
struct NumericArray {
  std::vector<double> values;
  std::string name;  ///< npz member name (without .npy), empty for .npy
};

/// Reads a 1-D (or [N, 1]) .npy array of float32/64, (u)int8/16/32/64 or bool, little or big
/// endian, C order. Throws DataError naming the file for anything else, IoError when unreadable.
NumericArray read_npy(const std::filesystem::path& path);

/// Reads member `key` (or, with an empty key: `scores` if present, else the only member) of a
/// .npz archive (stored or deflate-compressed, as written by numpy.savez / savez_compressed).
/// Throws DataError listing the members when the choice is ambiguous or the key is missing.
NumericArray read_npz(const std::filesystem::path& path, const std::string& key);

/// Reads a difficulty score per example of a split with ids `ids`, returned in the order of `ids`.
/// Formats by extension:
///  - `.csv`: header with `id` and `score` columns; every id must be present (DataError listing the
///    first missing ids otherwise); extra rows are ignored;
///  - `.npy` / `.npz` (member `scores` or the only one): aligned with the dataset as stored, i.e.
///    value `ids[i]` is the score of example i. When `subset` is false (no data.limit) the length
///    must equal ids.size(); otherwise it must cover every id. DataError with both lengths if not.
///  - `.h5`: not read (HDF5 is confined to module record, which has no generic reader) — a
///    ConfigError suggests converting to .npy or CSV.
/// Non-finite scores are a DataError naming the id. `names`: the split's text ids
/// (data::ExampleTable::name), which a CSV's id column then holds; empty: integer ids.
std::vector<double> read_score_file(const std::filesystem::path& path, const std::vector<int64_t>& ids,
                                    bool subset, const std::vector<std::string>& names = {});

/// Writes `id,score` rows (what read_score_file reads back) atomically; ids are `names` when given.
void write_score_csv(const std::filesystem::path& path, const std::vector<int64_t>& ids,
                     const std::vector<double>& scores, const std::vector<std::string>& names = {});

}  // namespace mapd::probes
