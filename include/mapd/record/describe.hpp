#pragma once

#include <filesystem>
#include <iosfwd>

/// Human-readable summaries of mapd's HDF5 files (`mapd inspect`). No torch here.
namespace mapd::record {

/// Which mapd file an HDF5 file is.
enum class StoreKind { kDynamics, kAssignments };

/// Tells a dynamics.h5 from an assignments.h5 (by the root attribute `mapd_file`, else by the
/// datasets present). Throws IoError naming the file when it is not HDF5 or not a mapd file.
StoreKind detect_store_kind(const std::filesystem::path& path);

/// Writes a summary of the dynamics or assignment file `path` to `out`.
/// Dynamics: shape, committed epochs, view, dtype, seed, versions, category and class names,
/// counts per role, and loss statistics (count, mean and median of the loss at the last committed
/// epoch and of each example's mean loss over the committed epochs) per role and per probe
/// category. Assignments: k, epoch range, and per assigned category the count, fraction and mean
/// max_prob. Only committed epochs are read, so it works on a live run. Throws IoError.
void describe_store(const std::filesystem::path& path, std::ostream& out);

}  // namespace mapd::record
