#pragma once

#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/record/dynamics_store.hpp"

/// Shared fixtures of the record tests: a temporary directory and deterministic synthetic data.
namespace mapd::record::testing {

/// The message of the InternalError `f` throws ("" when it throws none or another error).
inline std::string internal_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InternalError& e) {
    return e.what();
  } catch (const std::exception&) {
  }
  return "";
}

/// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info != nullptr ? std::string(info->test_suite_name()) + "_" + info->name() : "record";
    path_ =
        std::filesystem::temp_directory_path() / ("mapd_record_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// `n` examples: the first n - 4 * per_category... role train, then probes: categories alternate,
/// half fit, half val. Ids are 1000 + i, labels i % 10.
inline ExampleColumns make_examples(int64_t n, int64_t probes = 0, int16_t categories = 2) {
  ExampleColumns ex;
  for (int64_t i = 0; i < n; ++i) {
    const bool probe = i >= n - probes;
    const int64_t p = i - (n - probes);
    ex.id.push_back(1000 + i);
    ex.label.push_back(i % 10);
    ex.original_label.push_back(probe ? (i + 3) % 10 : i % 10);
    ex.role.push_back(
        static_cast<int8_t>(!probe ? Role::kTrain : (p % 2 == 0 ? Role::kProbeFit : Role::kProbeVal)));
    ex.probe_category.push_back(probe ? static_cast<int16_t>((p / 2) % categories) : int16_t{-1});
    ex.source_index.push_back(probe ? i - n / 2 : i);
  }
  return ex;
}

inline DynamicsMeta make_meta(const std::string& dtype, const std::string& view = "online") {
  DynamicsMeta meta;
  meta.config_json = R"({"train": {"epochs": 3}, "record": {"dtype": ")" + dtype + R"("}})";
  meta.mapd_version = "0.1.0-test";
  meta.torch_version = "1.13.1";
  meta.view = view;
  meta.dtype = dtype;
  meta.seed = 1234;
  meta.category_names = {"typical", "mislabeled"};
  meta.class_names = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"};
  return meta;
}

/// Deterministic per-epoch rows: loss > 0 spanning several binades, pred in [0, 10), p = exp(-loss).
struct EpochRow {
  std::vector<float> loss, true_prob;
  std::vector<int32_t> pred;
};

inline EpochRow make_row(int64_t n, int64_t epoch) {
  EpochRow row;
  row.loss.resize(static_cast<size_t>(n));
  row.true_prob.resize(static_cast<size_t>(n));
  row.pred.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float loss = 0.0007F + static_cast<float>((i * 7919 + epoch * 104729) % 10007) * 0.00093F;
    row.loss[static_cast<size_t>(i)] = loss / static_cast<float>(1 + epoch);
    row.true_prob[static_cast<size_t>(i)] = std::exp(-row.loss[static_cast<size_t>(i)]);
    row.pred[static_cast<size_t>(i)] = static_cast<int32_t>((i + epoch) % 10);
  }
  return row;
}

inline void append_row(DynamicsStore& store, int64_t epoch) {
  const EpochRow row = make_row(store.num_examples(), epoch);
  store.append_epoch(row.loss.data(), row.pred.data(), row.true_prob.data());
}

/// Tolerance of a value stored in IEEE half precision (relative 2^-11, plus subnormal spacing).
inline float fp16_tolerance(float value) { return std::abs(value) * 4.8828125e-4F + 6.0e-8F; }

}  // namespace mapd::record::testing
