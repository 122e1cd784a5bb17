#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/data/dataset.hpp"

/// The individual dataset readers behind load_dataset. Each returns one split as an ImageSet with a
/// filled ExampleTable (label == original_label: no noise or subsetting is applied here).
namespace mapd::data {

/// Reads an IDX image file (magic 0x00000803, [N, H, W] uint8) and its label file (magic
/// 0x00000801, [N] uint8), gzipped or plain. `class_names` are used as given when non-empty, else
/// "0".."C-1" with C = largest label + 1. Throws DataError for a missing file, a wrong magic number,
/// a size that does not match the header, or image and label counts that differ.
ImageSet read_idx(const std::filesystem::path& images_file, const std::filesystem::path& labels_file,
                  const std::vector<std::string>& class_names);

/// Locates the IDX pair of `split` ("train" or "t10k") in `dir`: <split>-images-idx3-ubyte[.gz]
/// (also the MNIST spelling <split>-images.idx3-ubyte). Throws DataError listing what was expected.
std::pair<std::filesystem::path, std::filesystem::path> find_idx_files(const std::filesystem::path& dir,
                                                                       const std::string& split);

/// Reads CIFAR binary batch files. `fine_labels` = false reads CIFAR-10 records (1 label byte +
/// 3072 pixels); true reads CIFAR-100 records (coarse byte, fine byte, 3072 pixels) and takes the
/// fine label unless `coarse` is set. Throws DataError for a missing file, a size that is not a
/// whole number of records, or a label outside [0, C).
ImageSet read_cifar(const std::vector<std::filesystem::path>& files, bool cifar100, bool coarse,
                    const std::vector<std::string>& class_names);

/// Options of the image decoders (folder and manifest).
struct DecodeOptions {
  int64_t channels = 3;  ///< 1 or 3; 0 = as stored: 1 when every file is greyscale, else 3
  /// Output height and width: every image is resized to cover them and centre-cropped. 0 = as
  /// stored: the size of the first image that decodes (the others are brought to it).
  int64_t height = 0;
  int64_t width = 0;
  int64_t memory_budget_mb = 8192;
  int64_t workers = 2;  ///< decode threads for in-memory loading
};

/// The largest image file mapd reads (512 MiB); a larger one is listed in bad_inputs.csv unread.
inline constexpr int64_t kMaxImageFileBytes = int64_t{512} << 20;

/// Decodes one image file to `channels` x height x width uint8 CHW in `out`: resized (aspect kept)
/// to cover height x width, then centre-cropped. Returns an empty string on success, else the
/// reason (unreadable, larger than kMaxImageFileBytes, truncated JPEG, unsupported format, out of
/// memory).
std::string decode_image(const std::filesystem::path& path, int64_t channels, int64_t height, int64_t width,
                         uint8_t* out);

/// Reads an image folder root/<class>/<image>: class index = position in the sorted folder names,
/// id = position in the sorted list of all image paths. Unreadable images are appended to `bad`
/// and left out. Throws DataError when the root is missing or holds no class folders with images.
ImageSet read_image_folder(const std::filesystem::path& root, const DecodeOptions& options,
                           std::vector<BadInput>& bad);

/// Reads a CSV manifest with a header naming at least `path` and `label` (optionally `id`); paths
/// are relative to the manifest's folder. Class names come from classes.txt beside the manifest when
/// present. `num_classes` 0 = from classes.txt, else largest label + 1. Throws DataError with the
/// line number for a malformed line, a label outside [0, C) or a duplicate id, and for a missing
/// image file. Unreadable images are appended to `bad` and left out.
ImageSet read_manifest(const std::filesystem::path& manifest, int64_t num_classes,
                       const DecodeOptions& options, std::vector<BadInput>& bad);

/// The Fashion-MNIST class names, index = label.
const std::vector<std::string>& fashion_mnist_class_names();

}  // namespace mapd::data
