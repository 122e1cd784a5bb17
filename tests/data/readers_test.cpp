#include "mapd/data/readers.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <fstream>

#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/data/dataset.hpp"

#include "fixtures.hpp"

namespace mapd::data {
namespace {

using testing::temp_dir;

config::DataConfig idx_config(const std::filesystem::path& dir) {
  config::DataConfig c;
  c.format = "idx";
  c.path = dir.string();
  c.name = "tiny";
  return c;
}

/// An image-folder config reading `root` at `image_size` x `image_size`.
config::DataConfig folder_config(const std::filesystem::path& root, int64_t image_size) {
  config::DataConfig c;
  c.format = "folder";
  c.path = root.string();
  c.image_size = image_size;
  return c;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "<no DataError>";
}

TEST(IdxReader, ReadsGzippedTrainAndTest) {
  const auto dir = temp_dir("idx_gz");
  testing::write_idx(dir, "train", 30, 5, 4, 3, /*gzip=*/true);
  testing::write_idx(dir, "t10k", 9, 5, 4, 3, /*gzip=*/true);
  const auto ds = load_dataset(idx_config(dir), {});
  EXPECT_EQ(ds.train.size(), 30);
  ASSERT_TRUE(ds.test.has_value());
  EXPECT_EQ(ds.test->size(), 9);
  EXPECT_EQ(ds.train.channels, 1);
  EXPECT_EQ(ds.train.height, 5);
  EXPECT_EQ(ds.train.width, 4);
  EXPECT_EQ(ds.train.class_names, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(ds.train.examples.id[7], 7);
  EXPECT_EQ(ds.train.examples.label[7], 1);
  EXPECT_EQ(ds.train.examples.original_label[7], 1);
  EXPECT_EQ(ds.train.examples.source[7], "train-images-idx3-ubyte.gz#7");
  std::vector<uint8_t> image(20);
  ds.train.read(7, image.data());
  EXPECT_EQ(image[0], (7 * 7 + 1) % 256);
  EXPECT_EQ(image[19], (7 * 7 + 1) % 256);
}

TEST(IdxReader, ReadsPlainFilesAndConvertsChannels) {
  const auto dir = temp_dir("idx_plain");
  testing::write_idx(dir, "train", 12, 3, 3, 4, /*gzip=*/false);
  auto cfg = idx_config(dir);
  cfg.channels = 3;
  const auto ds = load_dataset(cfg, {});
  EXPECT_EQ(ds.train.size(), 12);
  EXPECT_FALSE(ds.test.has_value());
  EXPECT_EQ(ds.train.channels, 3);
  std::vector<uint8_t> image(27);
  ds.train.read(2, image.data());
  EXPECT_EQ(image[0], 2 * 7 + 2);
  EXPECT_EQ(image[26], 2 * 7 + 2);
}

TEST(IdxReader, WrongMagicIsDataError) {
  const auto dir = temp_dir("idx_magic");
  testing::write_idx(dir, "train", 4, 2, 2, 2, false, /*image_magic=*/0x801);
  const auto message = error_of([&] { load_dataset(idx_config(dir), {}); });
  EXPECT_NE(message.find("magic number"), std::string::npos) << message;
  EXPECT_NE(message.find("train-images-idx3-ubyte"), std::string::npos) << message;
}

TEST(IdxReader, TruncatedFileIsDataError) {
  const auto dir = temp_dir("idx_size");
  testing::write_idx(dir, "train", 10, 4, 4, 2, false);
  std::filesystem::resize_file(dir / "train-images-idx3-ubyte", 16 + 9 * 16 + 3);
  const auto message = error_of([&] { load_dataset(idx_config(dir), {}); });
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

/// An IDX image file whose header says `n` images of `rows` x `cols`, followed by `payload` bytes.
void write_idx_header(const std::filesystem::path& dir, uint32_t n, uint32_t rows, uint32_t cols,
                      size_t payload) {
  std::vector<uint8_t> images;
  testing::put_be32(images, 0x803);
  testing::put_be32(images, n);
  testing::put_be32(images, rows);
  testing::put_be32(images, cols);
  images.resize(images.size() + payload, 7);
  std::vector<uint8_t> labels;
  testing::put_be32(labels, 0x801);
  testing::put_be32(labels, n);
  labels.resize(labels.size() + std::min<size_t>(n, 1U << 20U), 0);
  testing::write_bytes(dir / "train-images-idx3-ubyte", images, false);
  testing::write_bytes(dir / "train-labels-idx1-ubyte", labels, false);
}

// Issue 13 item 8: dimensions whose product overflows 64 bits, and 0x0 images, ended in "internal
// error".
TEST(IdxReader, OverflowingDimensionsAndEmptyImagesAreDataErrors) {
  const auto dir = temp_dir("idx_overflow");
  // 4 images of 2^31 x 2^31 pixels: 4 * 2^62 wraps around to 0, so the header "matched" a file of
  // 16 bytes.
  write_idx_header(dir, 4, 1U << 31U, 1U << 31U, 0);
  auto message = error_of([&] { load_dataset(idx_config(dir), {}); });
  EXPECT_NE(message.find("train-images-idx3-ubyte has 16 bytes but its header (4 images of "
                         "2147483648x2147483648) needs more than 2^64"),
            std::string::npos)
      << message;
  write_idx_header(dir, 5, 0, 0, 0);
  message = error_of([&] { load_dataset(idx_config(dir), {}); });
  EXPECT_NE(message.find("train-images-idx3-ubyte: its header gives images of 0x0 pixels"), std::string::npos)
      << message;
}

TEST(IdxReader, MissingFolderNamesPathAndExpectation) {
  const auto message = error_of([] { load_dataset(idx_config("/nonexistent/mapd/idx"), {}); });
  EXPECT_NE(message.find("/nonexistent/mapd/idx"), std::string::npos) << message;
  EXPECT_NE(message.find("train-images-idx3-ubyte"), std::string::npos) << message;
}

TEST(IdxReader, RealFashionMnist) {
  const std::filesystem::path dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir / "train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)";
  }
  config::DataConfig cfg;  // the defaults are Fashion-MNIST
  const auto ds = load_dataset(cfg, {});
  ASSERT_EQ(ds.train.size(), 60000);
  ASSERT_TRUE(ds.test.has_value());
  EXPECT_EQ(ds.test->size(), 10000);
  EXPECT_EQ(ds.train.height, 28);
  EXPECT_EQ(ds.train.channels, 1);
  ASSERT_EQ(ds.train.num_classes(), 10);
  EXPECT_EQ(ds.train.class_names[0], "T-shirt/top");
  EXPECT_EQ(ds.train.class_names[9], "Ankle boot");
  std::vector<int64_t> counts(10, 0);
  for (const auto l : ds.train.examples.label) {
    ++counts[l];
  }
  for (const auto c : counts) {
    EXPECT_EQ(c, 6000);
  }
}

TEST(CifarReader, ReadsCifar10WithClassNames) {
  const auto dir = temp_dir("cifar10");
  for (int b = 1; b <= 5; ++b) {
    testing::write_cifar(dir / ("data_batch_" + std::to_string(b) + ".bin"), 4, false, 10);
  }
  testing::write_cifar(dir / "test_batch.bin", 3, false, 10);
  std::ofstream(dir / "batches.meta.txt")
      << "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
  config::DataConfig cfg;
  cfg.format = "cifar";
  cfg.path = dir.string();
  cfg.name = "cifar-10";
  const auto ds = load_dataset(cfg, {});
  EXPECT_EQ(ds.train.size(), 20);
  EXPECT_EQ(ds.test->size(), 3);
  EXPECT_EQ(ds.train.channels, 3);
  EXPECT_EQ(ds.train.height, 32);
  EXPECT_EQ(ds.train.class_names[9], "truck");
  EXPECT_EQ(ds.train.examples.source[5], "data_batch_2.bin#1");
  EXPECT_EQ(ds.train.examples.id[5], 5);
  std::vector<uint8_t> image(3072);
  ds.train.read(3, image.data());
  EXPECT_EQ(image[0], 3);       // R plane
  EXPECT_EQ(image[1024], 100);  // G plane
  EXPECT_EQ(image[2048], 200);  // B plane
}

TEST(CifarReader, ReadsCifar100FineAndCoarse) {
  const auto dir = temp_dir("cifar100");
  testing::write_cifar(dir / "train.bin", 250, true, 100);
  testing::write_cifar(dir / "test.bin", 10, true, 100);
  config::DataConfig cfg;
  cfg.format = "cifar";
  cfg.path = dir.string();
  auto ds = load_dataset(cfg, {});
  EXPECT_EQ(ds.train.num_classes(), 100);
  EXPECT_EQ(ds.train.examples.label[150], 50);
  cfg.cifar_labels = "coarse";
  ds = load_dataset(cfg, {});
  EXPECT_EQ(ds.train.num_classes(), 20);
  EXPECT_EQ(ds.train.examples.label[150], 150 % 20);
}

TEST(CifarReader, PartialRecordIsDataError) {
  const auto dir = temp_dir("cifar_bad");
  testing::write_cifar(dir / "train.bin", 3, true, 100);
  std::filesystem::resize_file(dir / "train.bin", 3 * 3074 - 10);
  config::DataConfig cfg;
  cfg.format = "cifar";
  cfg.path = dir.string();
  const auto message = error_of([&] { load_dataset(cfg, {}); });
  EXPECT_NE(message.find("whole number"), std::string::npos) << message;
}

TEST(FolderReader, LoadsPngAndJpegAndListsTruncatedJpeg) {
  const auto dir = temp_dir("folder");
  const auto root = dir / "images";
  testing::write_image(root / "cat" / "a.png", 40, 30, 1);
  testing::write_image(root / "cat" / "b.jpg", 20, 50, 2);
  testing::write_image(root / "dog" / "c.png", 16, 16, 3, /*grey=*/true);
  testing::write_image(root / "dog" / "d.jpg", 64, 64, 4);
  testing::write_image(root / "dog" / "e.jpg", 64, 64, 5);
  testing::truncate_half(root / "dog" / "d.jpg");
  std::ofstream(root / "dog" / "notes.txt") << "not an image";
  auto cfg = folder_config(root, 24);
  const auto run_dir = dir / "run";
  std::filesystem::create_directories(run_dir);
  const auto ds = load_dataset(cfg, run_dir);
  EXPECT_EQ(ds.train.size(), 4);
  EXPECT_EQ(ds.train.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(ds.train.channels, 3);
  EXPECT_EQ(ds.train.height, 24);
  EXPECT_EQ(ds.train.width, 24);
  EXPECT_EQ(ds.train.examples.id, (std::vector<int64_t>{0, 1, 2, 4}));  // d.jpg (id 3) excluded
  EXPECT_EQ(ds.train.examples.label, (std::vector<int64_t>{0, 0, 1, 1}));
  ASSERT_EQ(ds.bad_inputs.size(), 1U);
  EXPECT_NE(ds.bad_inputs[0].path.find("d.jpg"), std::string::npos);
  std::ifstream csv(run_dir / "bad_inputs.csv");
  std::string header;
  std::string row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_EQ(header, "path,reason,epoch");
  EXPECT_NE(row.find("d.jpg"), std::string::npos) << row;
  EXPECT_NE(row.find("truncated JPEG"), std::string::npos) << row;
}

// Issue 13 item 8: a 3 GB file in an image folder was read whole (and its bad_alloc in a decode
// thread ended the process). The size is checked first; the file is listed, not read. The file is
// sparse: it takes no disk space.
TEST(FolderReader, HugeFileIsListedUnreadInBadInputs) {
  const auto dir = temp_dir("folder_huge");
  const auto root = dir / "images";
  testing::write_image(root / "cat" / "a.png", 16, 16, 1);
  testing::write_image(root / "dog" / "b.png", 16, 16, 2);
  const auto huge = root / "dog" / "huge.png";
  std::ofstream(huge).close();
  std::filesystem::resize_file(huge, uint64_t{3} << 30U);
  auto cfg = folder_config(root, 8);
  for (const int64_t budget : {8192, 0}) {  // decoded in memory, and checked for on-the-fly decoding
    cfg.memory_budget_mb = budget;
    const auto ds = load_dataset(cfg, {});
    EXPECT_EQ(ds.train.size(), 2);
    ASSERT_EQ(ds.bad_inputs.size(), 1U);
    EXPECT_EQ(ds.bad_inputs[0].path, huge.string());
    EXPECT_EQ(ds.bad_inputs[0].reason,
              "file of 3072.0 MiB is larger than the 512 MiB limit for one image (not read)");
  }
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// Issue 13 item 8: std::bad_alloc in a decode thread called std::terminate (exit 134). A child
// process with its address space capped just above what it uses meets a real allocation failure
// when it reads a 500 MiB file (within the size limit, sparse on disk); it must list the file.
TEST(FolderReader, OutOfMemoryInADecodeThreadListsTheImage) {
  const auto dir = temp_dir("folder_oom");
  const auto root = dir / "images";
  testing::write_image(root / "cat" / "a.png", 16, 16, 1);
  const auto big = root / "cat" / "big.png";
  std::ofstream(big).close();
  std::filesystem::resize_file(big, uint64_t{500} << 20U);
  testing::write_image(root / "dog" / "b.png", 16, 16, 2);
  auto cfg = folder_config(root, 8);
  cfg.workers = 3;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::ifstream statm("/proc/self/statm");
    uint64_t pages = 0;
    statm >> pages;
    const auto used = pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const rlimit cap{used + (uint64_t{300} << 20U), used + (uint64_t{300} << 20U)};
    ::setrlimit(RLIMIT_AS, &cap);
    int code = 1;
    try {
      const auto ds = load_dataset(cfg, {});
      code = ds.train.size() == 2 && ds.bad_inputs.size() == 1 && ds.bad_inputs[0].path == big.string() &&
                     ds.bad_inputs[0].reason.find("out of memory") != std::string::npos
                 ? 0
                 : 2;
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no result, 2: the file was not listed as out of memory, 3: threw";
}
#endif

TEST(BadInputs, RoundTripAndAReloadKeepsTheRowsTrainingAdded) {
  const auto dir = temp_dir("bad_inputs");
  const auto root = dir / "images";
  testing::write_image(root / "cat" / "a.png", 16, 16, 1);
  testing::write_image(root / "cat" / "b.png", 16, 16, 2);
  std::ofstream(root / "cat" / "c.png") << "garbage";
  const auto run_dir = dir / "run";
  std::filesystem::create_directories(run_dir);
  const std::vector<BadInput> listed{{"x, \"quoted\".png", "unreadable", -1}, {"y.png", "truncated", 3}};
  write_bad_inputs(run_dir / "bad_inputs.csv", listed);
  const auto back = read_bad_inputs(run_dir / "bad_inputs.csv");
  ASSERT_EQ(back.size(), 2U);
  EXPECT_EQ(back[0].path, listed[0].path);
  EXPECT_EQ(back[0].epoch, -1);
  EXPECT_EQ(back[1].reason, "truncated");
  EXPECT_EQ(back[1].epoch, 3);
  EXPECT_TRUE(read_bad_inputs(dir / "missing.csv").empty());
  // Reloading the dataset (resume) rewrites the load's rows and keeps the one training added.
  auto cfg = folder_config(root, 8);
  load_dataset(cfg, run_dir);
  const auto after = read_bad_inputs(run_dir / "bad_inputs.csv");
  ASSERT_EQ(after.size(), 2U);
  EXPECT_NE(after[0].path.find("c.png"), std::string::npos);
  EXPECT_EQ(after[0].epoch, -1);
  EXPECT_EQ(after[1].path, "y.png");
  EXPECT_EQ(after[1].epoch, 3);
}

// Issue 13 item 10: grey PNGs were decoded as 3 channels with data.channels = 0 ("as stored").
TEST(FolderReader, AsStoredChannelsAreWhatTheFilesHold) {
  const auto dir = temp_dir("folder_grey");
  const auto root = dir / "images";
  testing::write_image(root / "a" / "1.png", 8, 8, 1, /*grey=*/true);
  testing::write_image(root / "b" / "2.jpg", 8, 8, 2, /*grey=*/true);
  testing::write_image(root / "b" / "3.pgm", 8, 8, 3, /*grey=*/true);
  auto cfg = folder_config(root, 8);
  const auto grey = load_dataset(cfg, {});
  EXPECT_EQ(grey.train.channels, 1);
  std::vector<uint8_t> pixels(64);
  grey.train.read(0, pixels.data());
  const cv::Mat stored = cv::imread((root / "a" / "1.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(stored.channels(), 1);
  EXPECT_EQ(pixels, std::vector<uint8_t>(stored.data, stored.data + 64));
  testing::write_image(root / "b" / "4.png", 8, 8, 4);  // one colour image: three channels
  EXPECT_EQ(load_dataset(cfg, {}).train.channels, 3);
  cfg.channels = 1;
  EXPECT_EQ(load_dataset(cfg, {}).train.channels, 1);
}

// Issue 13 item 10: images were resized to 32 x 32 by default; "as stored" (data.image_size = 0,
// the default) keeps the files' size: that of the first image, the others brought to it.
TEST(FolderReader, AsStoredSizeIsTheFirstImagesSize) {
  const auto dir = temp_dir("folder_size");
  const auto root = dir / "images";
  testing::write_image(root / "a" / "1.png", 12, 20, 1, /*grey=*/true);  // 12 rows, 20 columns
  testing::write_image(root / "b" / "2.png", 24, 40, 2, /*grey=*/true);  // twice the size
  config::DataConfig cfg;
  cfg.format = "folder";
  cfg.path = root.string();
  ASSERT_EQ(cfg.image_size, 0);  // the default
  const auto ds = load_dataset(cfg, {});
  EXPECT_EQ(ds.train.height, 12);
  EXPECT_EQ(ds.train.width, 20);
  EXPECT_EQ(ds.train.channels, 1);
  std::vector<uint8_t> pixels(12 * 20);
  ds.train.read(0, pixels.data());
  const cv::Mat stored = cv::imread((root / "a" / "1.png").string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(pixels, std::vector<uint8_t>(stored.data, stored.data + 12 * 20));  // as stored: untouched
  ds.train.read(1, pixels.data());
  cv::Mat half;
  cv::resize(cv::imread((root / "b" / "2.png").string(), cv::IMREAD_UNCHANGED), half, cv::Size(20, 12), 0, 0,
             cv::INTER_AREA);
  EXPECT_EQ(pixels, std::vector<uint8_t>(half.data, half.data + 12 * 20));
  // A test split is read at the training split's size, whatever its files hold.
  const auto test_root = dir / "test";
  testing::write_image(test_root / "a" / "3.png", 30, 30, 3, /*grey=*/true);
  testing::write_image(test_root / "b" / "4.png", 30, 30, 4, /*grey=*/true);
  cfg.test_path = test_root.string();
  const auto with_test = load_dataset(cfg, {});
  ASSERT_TRUE(with_test.test.has_value());
  EXPECT_EQ(with_test.test->height, 12);
  EXPECT_EQ(with_test.test->width, 20);
  // A size asked for: resized to cover it (aspect kept), then centre-cropped.
  cfg.test_path.clear();
  cfg.image_size = 8;
  const auto square = load_dataset(cfg, {});
  EXPECT_EQ(square.train.height, 8);
  EXPECT_EQ(square.train.width, 8);
}

TEST(FolderReader, OnDemandDecodingMatchesInMemory) {
  const auto dir = temp_dir("folder_lazy");
  testing::write_image(dir / "a" / "1.png", 30, 20, 1);
  testing::write_image(dir / "b" / "2.png", 20, 30, 2, true);
  auto cfg = folder_config(dir, 8);
  cfg.channels = 1;
  const auto eager = load_dataset(cfg, {});
  cfg.memory_budget_mb = 0;
  const auto lazy = load_dataset(cfg, {});
  ASSERT_TRUE(eager.train.in_memory());
  ASSERT_FALSE(lazy.train.in_memory());
  ASSERT_EQ(lazy.train.size(), 2);
  EXPECT_EQ(lazy.train.channels, 1);
  for (int64_t i = 0; i < 2; ++i) {
    std::vector<uint8_t> a(64);
    std::vector<uint8_t> b(64);
    eager.train.read(i, a.data());
    lazy.train.read(i, b.data());
    EXPECT_EQ(a, b);
  }
}

// Issue 13 item 9: a symbolic link loop in an image folder aborted the run ("internal error:
// filesystem error"); dangling links vanished without a line in bad_inputs.csv.
TEST(FolderReader, SymlinkLoopsAndDanglingLinksAreListedAndSkipped) {
  const auto dir = temp_dir("folder_links");
  const auto root = dir / "images";
  testing::write_image(root / "cat" / "a.png", 16, 16, 1);
  testing::write_image(root / "dog" / "b.png", 16, 16, 2);
  std::filesystem::create_symlink("loop2.png", root / "cat" / "loop1.png");
  std::filesystem::create_symlink("loop1.png", root / "cat" / "loop2.png");
  std::filesystem::create_symlink(dir / "gone.png", root / "dog" / "dangling.png");
  std::filesystem::create_symlink("self", root / "self");  // a loop where a class folder would be
  std::filesystem::create_symlink(root / "cat" / "a.png", root / "dog" / "alias.png");  // a good link
  auto cfg = folder_config(root, 8);
  const auto run_dir = dir / "run";
  std::filesystem::create_directories(run_dir);
  const auto ds = load_dataset(cfg, run_dir);
  EXPECT_EQ(ds.train.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(ds.train.size(), 3);  // a.png, alias.png, b.png
  const auto listed = read_bad_inputs(run_dir / "bad_inputs.csv");
  ASSERT_EQ(listed.size(), 4U);
  EXPECT_EQ(listed[0].path, (root / "cat" / "loop1.png").string());
  EXPECT_EQ(listed[0].reason, "symbolic link loop (not followed)");
  EXPECT_EQ(listed[1].path, (root / "cat" / "loop2.png").string());
  EXPECT_EQ(listed[2].path, (root / "dog" / "dangling.png").string());
  EXPECT_EQ(listed[2].reason,
            "dangling symbolic link: its target " + (dir / "gone.png").string() + " does not exist");
  EXPECT_EQ(listed[3].path, (root / "self").string());
  EXPECT_EQ(listed[3].reason, "symbolic link loop (not followed)");
}

TEST(FolderReader, MissingFolderIsDataError) {
  config::DataConfig cfg;
  cfg.format = "folder";
  cfg.path = "/nonexistent/mapd/folder";
  const auto message = error_of([&] { load_dataset(cfg, {}); });
  EXPECT_NE(message.find("/nonexistent/mapd/folder"), std::string::npos) << message;
  EXPECT_NE(message.find("<class>"), std::string::npos) << message;
}

TEST(FolderReader, EmptyFolderIsDataError) {
  const auto dir = temp_dir("folder_empty");
  config::DataConfig cfg;
  cfg.format = "folder";
  cfg.path = dir.string();
  const auto message = error_of([&] { load_dataset(cfg, {}); });
  EXPECT_NE(message.find("no class folders"), std::string::npos) << message;
}

class ManifestReader : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    testing::write_image(dir_ / "img" / "x.png", 10, 10, 1);
    testing::write_image(dir_ / "img" / "y.png", 12, 10, 2);
    testing::write_image(dir_ / "img" / "z.jpg", 10, 14, 3);
  }
  config::DataConfig manifest(const std::string& text) {
    std::ofstream(dir_ / "train.csv") << text;
    config::DataConfig cfg;
    cfg.format = "manifest";
    cfg.path = (dir_ / "train.csv").string();
    cfg.image_size = 8;
    return cfg;
  }
  std::filesystem::path dir_;
};

TEST_F(ManifestReader, ReadsIdsLabelsAndRelativePaths) {
  auto cfg = manifest("id,path,label\n100,img/x.png,0\n200,\"img/y.png\",2\n\n300,img/z.jpg,1\n");
  const auto ds = load_dataset(cfg, {});
  EXPECT_EQ(ds.train.size(), 3);
  EXPECT_EQ(ds.train.examples.id, (std::vector<int64_t>{100, 200, 300}));
  EXPECT_EQ(ds.train.examples.label, (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(ds.train.num_classes(), 3);
  EXPECT_EQ(ds.train.height, 8);
}

TEST_F(ManifestReader, IdDefaultsToRowAndNamesComeFromClassesTxt) {
  std::ofstream(dir_ / "classes.txt") << "apple\nbanana\n";
  auto cfg = manifest("path,label\nimg/x.png,1\nimg/y.png,0\n");
  const auto ds = load_dataset(cfg, {});
  EXPECT_EQ(ds.train.examples.id, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(ds.train.class_names, (std::vector<std::string>{"apple", "banana"}));
}

TEST_F(ManifestReader, LabelOutOfRangeIsDataErrorWithLineNumber) {
  auto cfg = manifest("path,label\nimg/x.png,0\nimg/y.png,1\nimg/z.jpg,3\n");
  cfg.num_classes = 3;
  const auto message = error_of([&] { load_dataset(cfg, {}); });
  EXPECT_NE(message.find("train.csv:4"), std::string::npos) << message;
  EXPECT_NE(message.find("outside [0, 3)"), std::string::npos) << message;
}

// Issue 13 item 8: label 1000000 silently made a 1,000,001-class model.
TEST_F(ManifestReader, LabelBeyondTheClassLimitIsDataErrorWithLineNumber) {
  auto cfg = manifest("path,label\nimg/x.png,0\nimg/y.png,1000000\n");
  const auto message = error_of([&] { load_dataset(cfg, {}); });
  EXPECT_NE(message.find("train.csv:3: label 1000000 is beyond mapd's limit of 100000 classes"),
            std::string::npos)
      << message;
  EXPECT_EQ(load_dataset(manifest("path,label\nimg/x.png,0\nimg/y.png,99999\n"), {}).train.num_classes(),
            100000);
}

TEST_F(ManifestReader, NegativeLabelIsDataError) {
  auto cfg = manifest("path,label\nimg/x.png,-1\n");
  const auto message = error_of([&] { load_dataset(cfg, {}); });
  EXPECT_NE(message.find("train.csv:2"), std::string::npos) << message;
}

TEST_F(ManifestReader, MissingImageIsDataErrorWithLineNumber) {
  auto cfg = manifest("path,label\nimg/x.png,0\nimg/missing.png,0\n");
  const auto message = error_of([&] { load_dataset(cfg, {}); });
  EXPECT_NE(message.find("train.csv:3"), std::string::npos) << message;
  EXPECT_NE(message.find("missing.png"), std::string::npos) << message;
}

TEST_F(ManifestReader, BadHeaderDuplicateIdAndNonIntegerLabel) {
  EXPECT_NE(error_of([&] { load_dataset(manifest("file,class\nimg/x.png,0\n"), {}); }).find("path and label"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              load_dataset(manifest("id,path,label\n1,img/x.png,0\n1,img/y.png,0\n"), {});
            }).find("appears twice"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { load_dataset(manifest("path,label\nimg/x.png,cat\n"), {}); }).find("not an integer"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] { load_dataset(manifest("path,label\nimg/x.png\n"), {}); }).find("expected 2 fields"),
      std::string::npos);
}

// Issue 13 item 10: a UTF-8 byte order mark gave a confusing "must name the columns path and
// label"; a duplicated header column was used silently.
TEST_F(ManifestReader, ByteOrderMarkIsSkippedAndADuplicatedColumnIsNamed) {
  const auto ds = load_dataset(manifest("\xEF\xBB\xBFpath,label\nimg/x.png,1\nimg/y.png,0\n"), {});
  EXPECT_EQ(ds.train.examples.label, (std::vector<int64_t>{1, 0}));
  const auto with_id =
      load_dataset(manifest("\xEF\xBB\xBFid,path,label\n7,img/x.png,1\n9,img/y.png,0\n"), {});
  EXPECT_EQ(with_id.train.examples.id, (std::vector<int64_t>{7, 9}));
  const auto message = error_of([&] { load_dataset(manifest("path,label,label\nimg/x.png,0,1\n"), {}); });
  EXPECT_NE(message.find("train.csv:1: the header names the column 'label' twice (columns 2 and 3)"),
            std::string::npos)
      << message;
}

// Issue 13 item 10: string ids (file names, UUIDs, the user guide's own `img-000001`) were
// rejected. They are kept verbatim as ExampleTable::name, with the line index as the integer id;
// ids that are all integers written as such stay integers.
TEST_F(ManifestReader, TextIdsAreKeptAsWritten) {
  const auto ds = load_dataset(
      manifest("id,path,label\nimg-000001,img/x.png,0\n\"a,b\",img/y.png,1\n007,img/z.jpg,1\n"), {});
  EXPECT_EQ(ds.train.examples.name, (std::vector<std::string>{"img-000001", "a,b", "007"}));
  EXPECT_EQ(ds.train.examples.id, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(ds.train.examples.id_text(2), "007");
  // One id that is not an integer as written ("007") makes them all text, the integers too.
  const auto mixed = load_dataset(manifest("id,path,label\n5,img/x.png,0\n007,img/y.png,1\n"), {});
  EXPECT_EQ(mixed.train.examples.name, (std::vector<std::string>{"5", "007"}));
  const auto integers = load_dataset(manifest("id,path,label\n5,img/x.png,0\n-7,img/y.png,1\n"), {});
  EXPECT_TRUE(integers.train.examples.name.empty());
  EXPECT_EQ(integers.train.examples.id, (std::vector<int64_t>{5, -7}));
  EXPECT_EQ(integers.train.examples.id_text(1), "-7");
  // data.limit keeps each text id with its example.
  auto limited = manifest("id,path,label\nx,img/x.png,0\ny,img/y.png,1\nz,img/z.jpg,1\n");
  limited.limit = 2;
  const auto subset = load_dataset(limited, {});
  ASSERT_EQ(subset.train.examples.name.size(), 2U);
  for (int64_t i = 0; i < subset.train.size(); ++i) {
    EXPECT_EQ(subset.train.examples.name[static_cast<size_t>(i)],
              std::string(1, static_cast<char>('x' + subset.train.examples.id[static_cast<size_t>(i)])));
  }
  EXPECT_NE(error_of([&] {
              load_dataset(manifest("id,path,label\na,img/x.png,0\na,img/y.png,0\n"), {});
            }).find("train.csv:3: id 'a' appears twice"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              load_dataset(manifest("id,path,label\n,img/x.png,0\n"), {});
            }).find("train.csv:2: the id is empty"),
            std::string::npos);
}

TEST_F(ManifestReader, QuotedPathsFollowRfc4180) {
  testing::write_image(dir_ / "img" / "a, \"b\".png", 10, 10, 4);
  auto cfg = manifest("path,label\r\n\"img/a, \"\"b\"\".png\",1\r\n\"img/x.png\" , 0\r\n");
  const auto ds = load_dataset(cfg, {});
  ASSERT_EQ(ds.train.size(), 2);
  EXPECT_EQ(ds.train.examples.label, (std::vector<int64_t>{1, 0}));
}

TEST_F(ManifestReader, UnterminatedQuoteIsDataErrorWithLineNumber) {
  auto cfg = manifest("path,label\nimg/x.png,0\n\"img/y.png,1\n");
  try {
    (void)load_dataset(cfg, {});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("train.csv:3: field 1 has an unterminated quote"), std::string::npos)
        << e.what();
  }
}

TEST(ClassCount, NamedClassesOrMoreWhenALabelIsBeyondThem) {
  EXPECT_EQ(class_count({0, 1, 1}, 5), 5);  // names beyond the labels count
  EXPECT_EQ(class_count({0, 7, 2}, 3), 8);  // a label beyond the names counts
  EXPECT_EQ(class_count({0, 2}, 0), 3);     // no names: max(label) + 1
  EXPECT_EQ(class_count({}, 4), 4);
  EXPECT_EQ(class_count({}, 0), 0);
}

TEST(ClassCount, ANegativeLabelIsAnInternalError) {
  try {
    (void)class_count({0, -2, 1}, 3);
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("class_count: negative label -2"), std::string::npos) << e.what();
    EXPECT_EQ(e.exit_code(), ExitCode::kInternal);
  }
}

TEST(BadInputs, WritesHeaderAndQuotesFields) {
  const auto dir = temp_dir("bad_inputs");
  write_bad_inputs(dir / "bad_inputs.csv", {{"a,b.jpg", "say \"hi\""}});
  const auto all = fs::read_file(dir / "bad_inputs.csv");
  EXPECT_EQ(all, "path,reason,epoch\n\"a,b.jpg\",\"say \"\"hi\"\"\",\n");
}

}  // namespace
}  // namespace mapd::data
