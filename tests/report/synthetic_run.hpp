#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/config/loader.hpp"
#include "mapd/record/assignment_store.hpp"
#include "mapd/record/dynamics_store.hpp"

/// A small synthetic run directory, written with the real stores, for the report tests.
namespace mapd::report::testing {

/// Shape of the synthetic run: 30 training rows (dataset examples 0..29, rows 0..2 with an injected
/// wrong label; row r has source_index r and the dataset's id of example r) and 5 + 5 probes of categories
/// {typical, mislabeled} (dataset examples 30..39; 3 fit + 2 val each), 8x8 grey images, 2 classes.
struct SyntheticRun {
  static constexpr int64_t kTrain = 30;
  static constexpr int64_t kProbes = 10;
  static constexpr int64_t kRows = kTrain + kProbes;
  static constexpr int64_t kImages = 40;
  static constexpr int64_t kSide = 8;

  std::filesystem::path dir;
  int64_t epochs = 0;  ///< committed epochs
  record::ExampleColumns examples;
  std::vector<std::vector<float>> loss;    ///< [epoch][row]
  std::vector<std::vector<int32_t>> pred;  ///< [epoch][row]
  std::vector<int64_t> assigned_rows;      ///< rows in assignments.h5, in file order
  std::vector<float> prob;                 ///< [assigned_rows, 2]
};

inline void write_be32(std::ofstream& out, uint32_t v) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                         static_cast<char>(v)};
  out.write(bytes, 4);
}

/// The grey `side` x `side` image of dataset example `i`: a diagonal stripe whose position depends
/// on the example, and a background grey that depends on it too, so grids are visibly non-blank and
/// neighbouring examples differ.
inline std::vector<uint8_t> synthetic_image(int64_t i, int64_t side) {
  std::vector<uint8_t> pixels(static_cast<size_t>(side * side));
  for (int64_t p = 0; p < side * side; ++p) {
    const bool on = ((p / side) + (p % side) + i) % 4 == 0;
    pixels[static_cast<size_t>(p)] = static_cast<uint8_t>(on ? 250 : 20 + (i * 5) % 60);
  }
  return pixels;
}

/// Writes an uncompressed IDX split `<prefix>-images-idx3-ubyte` / `<prefix>-labels-idx1-ubyte`.
inline void write_idx(const std::filesystem::path& dir, const std::string& prefix, int64_t n, int64_t side) {
  std::ofstream images(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary);
  write_be32(images, 0x00000803);
  write_be32(images, static_cast<uint32_t>(n));
  write_be32(images, static_cast<uint32_t>(side));
  write_be32(images, static_cast<uint32_t>(side));
  for (int64_t i = 0; i < n; ++i) {
    const auto pixels = synthetic_image(i, side);
    images.write(reinterpret_cast<const char*>(pixels.data()), static_cast<std::streamsize>(pixels.size()));
  }
  std::ofstream labels(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary);
  write_be32(labels, 0x00000801);
  write_be32(labels, static_cast<uint32_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    labels.put(static_cast<char>(i % 2));
  }
}

/// The dataset a synthetic run was trained on: IDX files (ids = positions), or a CSV manifest of
/// PGM images (data/manifest.csv) without an id column (ids = line numbers), with one (ids 1000 +
/// position), or with text ids ("img-<position>"; integer ids = line numbers).
enum class SyntheticData { kIdx, kManifest, kManifestWithIds, kManifestWithTextIds };

/// The dataset id of example `i` of a synthetic run's dataset.
inline int64_t synthetic_id(SyntheticData data, int64_t i) {
  return data == SyntheticData::kManifestWithIds ? 1000 + i : i;
}

/// The id column's text of example `i` (image `image`) of a synthetic run's manifest.
inline std::string synthetic_id_text(SyntheticData data, int64_t i, int64_t image) {
  return data == SyntheticData::kManifestWithTextIds ? "img-" + std::to_string(image)
                                                     : std::to_string(synthetic_id(data, i));
}

/// Writes data/manifest.csv over the images of synthetic_image(i) for i < SyntheticRun::kImages,
/// label i % 2, as binary PGM files. With `insert_at` >= 0, one more image (id 5000, label 1) is
/// listed before example `insert_at`, as when a row is added to the dataset after training.
inline void write_manifest(const std::filesystem::path& data_dir, SyntheticData data,
                           int64_t insert_at = -1) {
  const bool ids = data == SyntheticData::kManifestWithIds || data == SyntheticData::kManifestWithTextIds;
  std::ofstream manifest(data_dir / "manifest.csv");
  manifest << (ids ? "path,label,id\n" : "path,label\n");
  const auto write_image = [&](int64_t i, int64_t label, const std::string& id) {
    const auto name = "image_" + std::to_string(i) + ".pgm";
    std::ofstream pgm(data_dir / name, std::ios::binary);
    pgm << "P5\n" << SyntheticRun::kSide << " " << SyntheticRun::kSide << "\n255\n";
    const auto pixels = synthetic_image(i, SyntheticRun::kSide);
    pgm.write(reinterpret_cast<const char*>(pixels.data()), static_cast<std::streamsize>(pixels.size()));
    manifest << name << "," << label << (ids ? "," + id : std::string()) << "\n";
  };
  for (int64_t i = 0; i < SyntheticRun::kImages; ++i) {
    if (i == insert_at) {
      write_image(99, 1, data == SyntheticData::kManifestWithTextIds ? "img-5000" : "5000");
    }
    write_image(i, i % 2, synthetic_id_text(data, i, i));
  }
}

/// Creates the run directory `dir` with `committed` epochs of `configured` recorded. With
/// `with_assignments` false, assignments.h5, selftest.json and detection.json are left out.
/// `label_correction`: a label-correction run: dynamics.h5 records bootstrap_weight (0 before
/// epoch 2; then 0.9 for the flipped rows 0..2 and row 3, 0.05 for the others) and target (the
/// original label where B > 0.5, else the given one: rows 0..2 restored, row 3 changed), the
/// metrics lines carry label_correction, and corrected_labels.csv lists the last epoch's targets.
/// `class_names`: the names of classes 0 and 1 in dynamics.h5.
inline SyntheticRun make_synthetic_run(const std::filesystem::path& dir, int64_t committed,
                                       int64_t configured, bool with_assignments = true,
                                       SyntheticData data = SyntheticData::kIdx,
                                       bool label_correction = false,
                                       const std::vector<std::string>& class_names = {"even", "odd"}) {
  SyntheticRun run;
  run.dir = dir;
  run.epochs = committed;
  std::filesystem::create_directories(dir / "data");
  config::RunConfig cfg;
  if (data == SyntheticData::kIdx) {
    write_idx(dir / "data", "train", SyntheticRun::kImages, SyntheticRun::kSide);
    write_idx(dir / "data", "t10k", 10, SyntheticRun::kSide);
    cfg.data.format = "idx";
    cfg.data.path = (dir / "data").string();
  } else {
    write_manifest(dir / "data", data);
    cfg.data.format = "manifest";
    cfg.data.path = (dir / "data" / "manifest.csv").string();
    cfg.data.channels = 1;
    cfg.data.image_size = SyntheticRun::kSide;
  }
  cfg.data.name = "synthetic";
  cfg.train.epochs = configured;
  if (label_correction) cfg.train.mode = "label_correction";
  cfg.probes.fit_per_category = 3;
  cfg.probes.val_per_category = 2;
  const auto resolved = config::to_json(cfg);
  std::ofstream(dir / "config.resolved.json") << resolved.dump(2) << "\n";

  auto& ex = run.examples;
  for (int64_t r = 0; r < SyntheticRun::kRows; ++r) {
    const bool probe = r >= SyntheticRun::kTrain;
    const int64_t original = r % 2;
    ex.id.push_back(synthetic_id(data, r));  // the dataset's id of example r (probes: of their source)
    if (data == SyntheticData::kManifestWithTextIds) ex.name.push_back(synthetic_id_text(data, r, r));
    ex.original_label.push_back(original);
    ex.source_index.push_back(r);
    if (!probe) {
      ex.label.push_back(r < 3 ? 1 - original : original);
      ex.role.push_back(static_cast<int8_t>(record::Role::kTrain));
      ex.probe_category.push_back(-1);
    } else {
      const int64_t p = r - SyntheticRun::kTrain;
      const int16_t category = p < 5 ? 0 : 1;
      ex.label.push_back(category == 1 ? 1 - original : original);
      ex.role.push_back(static_cast<int8_t>(p % 5 < 3 ? record::Role::kProbeFit : record::Role::kProbeVal));
      ex.probe_category.push_back(category);
    }
  }
  record::DynamicsMeta meta;
  meta.config_json = resolved.dump();
  meta.mapd_version = "test";
  meta.torch_version = "none";
  meta.dtype = "fp32";
  meta.category_names = {"typical", "mislabeled"};
  meta.class_names = class_names;
  if (label_correction) meta.signals = {{"bootstrap_weight", false}, {"target", true}};
  auto store = record::DynamicsStore::create(dir / "dynamics.h5", meta, ex);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> jitter(0.0F, 0.01F);
  for (int64_t e = 0; e < committed; ++e) {
    std::vector<float> loss(SyntheticRun::kRows);
    std::vector<int32_t> pred(SyntheticRun::kRows);
    std::vector<float> true_prob(SyntheticRun::kRows);
    for (int64_t r = 0; r < SyntheticRun::kRows; ++r) {
      const auto ur = static_cast<size_t>(r);
      const bool mislabeled_probe = ex.probe_category[ur] == 1;
      const bool typical_probe = ex.probe_category[ur] == 0;
      if (typical_probe) {
        loss[ur] = 0.1F / static_cast<float>(e + 1) + jitter(rng);
      } else if (mislabeled_probe) {
        loss[ur] = 3.0F - 0.2F * static_cast<float>(e) + jitter(rng);
      } else {
        loss[ur] = static_cast<float>(r + 1) * 0.1F / static_cast<float>(e + 1);
      }
      // Training row r is first learned at epoch r % 5; rows r % 7 == 0 are wrong again at epoch 2.
      bool correct = e >= r % 5;
      if (r < SyntheticRun::kTrain && r % 7 == 0 && e == 2) {
        correct = false;
      }
      if (mislabeled_probe) {
        correct = e >= 2;
      }
      const int64_t label = ex.label[ur];
      pred[ur] = static_cast<int32_t>(correct ? label : 1 - label);
      true_prob[ur] = std::exp(-loss[ur]);
    }
    std::vector<record::SignalRow> signals;
    if (label_correction) {
      signals.resize(2);
      for (int64_t r = 0; r < SyntheticRun::kRows; ++r) {
        const auto ur = static_cast<size_t>(r);
        const float b = e < 2 || r >= SyntheticRun::kTrain ? 0.0F : r <= 3 ? 0.9F : 0.05F;
        signals[0].values.push_back(b);
        signals[1].classes.push_back(static_cast<int32_t>(b > 0.5F ? 1 - ex.label[ur] : ex.label[ur]));
      }
    }
    store.append_epoch(loss.data(), pred.data(), true_prob.data(), signals);
    run.loss.push_back(loss);
    run.pred.push_back(pred);
  }

  std::ofstream metrics(dir / "metrics.jsonl");
  for (int64_t e = 0; e < committed; ++e) {
    nlohmann::json line{{"epoch", e},
                        {"loss", 1.0 / (e + 1)},
                        {"acc", 0.5 + 0.1 * e},
                        {"test_acc", 0.45 + 0.1 * e},
                        {"test_loss", 1.2 / (e + 1)},
                        {"img_s", 5000.0},
                        {"seconds", 1.5},
                        {"lr", 0.05}};
    if (label_correction) {
      line["label_correction"] = {{"method", "mapd"}, {"phase", e < 2 ? "warmup" : "correction"}};
      if (e >= 2) line["label_correction"]["estimate"] = {{"precision", 0.75}, {"recall", 1.0}};
    }
    metrics << line.dump() << "\n";
  }
  if (label_correction) {
    std::ofstream csv(dir / "corrected_labels.csv");
    csv << "id,given_label,corrected_label,p_mislabeled,original_label\n";
    for (int64_t r = 0; r < SyntheticRun::kTrain; ++r) {
      const auto ur = static_cast<size_t>(r);
      const int64_t corrected = r <= 3 ? 1 - ex.label[ur] : ex.label[ur];
      csv << ex.id[ur] << "," << ex.label[ur] << "," << corrected << "," << (r <= 3 ? "0.9" : "0.05") << ","
          << ex.original_label[ur] << "\n";
    }
  }
  metrics << "{\"epoch\": " << committed << ", \"loss\":";  // a live run's partial line
  metrics.close();

  if (!with_assignments) {
    return run;
  }
  record::AssignmentMeta ameta;
  ameta.category_names = meta.category_names;
  ameta.config_json = meta.config_json;
  ameta.mapd_version = "test";
  ameta.k = 3;
  ameta.epoch_begin = 0;
  ameta.epoch_end = committed;
  ameta.label_issue_ranks = "0.99 * percentile of the synthetic evidence + 0.01 * P(mislabeled)";
  std::vector<int64_t> id, row, label;
  std::vector<int16_t> assigned;
  std::vector<float> max_prob, prob, score, issue;
  for (int64_t r = 0; r < SyntheticRun::kRows; ++r) {
    const auto ur = static_cast<size_t>(r);
    if (ex.role[ur] == static_cast<int8_t>(record::Role::kProbeFit)) {
      continue;
    }
    // P(mislabeled) grows with the row; rows 0..2 (the injected noise) get the top scores.
    float p_mis = r < 3 ? 1.0F : static_cast<float>(r) / 40.0F;
    if (r >= SyntheticRun::kTrain) {
      p_mis = ex.probe_category[ur] == 1 ? 1.0F : 0.0F;
    }
    id.push_back(ex.id[ur]);
    row.push_back(r);
    label.push_back(ex.label[ur]);
    assigned.push_back(static_cast<int16_t>(p_mis > 0.5F ? 1 : 0));
    max_prob.push_back(std::max(p_mis, 1.0F - p_mis));
    prob.push_back(1.0F - p_mis);
    prob.push_back(p_mis);
    score.push_back(1.0F - p_mis - 0.001F * static_cast<float>(r));
    score.push_back(p_mis + 0.001F * static_cast<float>(r));
    issue.push_back(p_mis);
  }
  auto assignments =
      record::AssignmentStore::create(dir / "assignments.h5", ameta, static_cast<int64_t>(id.size()));
  record::AssignmentStore::Block block;
  block.count = static_cast<int64_t>(id.size());
  block.id = id.data();
  block.row = row.data();
  block.label = label.data();
  block.assigned = assigned.data();
  block.max_prob = max_prob.data();
  block.prob = prob.data();
  block.score = score.data();
  block.label_issue = issue.data();
  assignments.write(0, block);
  assignments.close();
  run.assigned_rows = row;
  run.prob = prob;

  nlohmann::json selftest = {
      {"accuracy", 0.75},
      {"total", 4},
      {"labels", meta.category_names},
      {"counts", {{2, 0}, {1, 1}}},
      {"row_normalized", {{1.0, 0.0}, {0.5, 0.5}}},
      {"per_category",
       {{{"name", "typical"}, {"precision", 0.667}, {"recall", 1.0}, {"support", 2}},
        {{"name", "mislabeled"}, {"precision", 1.0}, {"recall", 0.5}, {"support", 2}}}},
      {"k", 3},
      {"epoch_begin", 0},
      {"epoch_end", committed},
      {"fit_probes", 6},
      {"val_probes", 4},
      {"boundary_ties", 0}};
  std::ofstream(dir / "selftest.json") << selftest.dump(2) << "\n";
  nlohmann::json detection = {
      {"train_examples", 30},
      {"flipped", 3},
      {"rate", 0.1},
      {"epoch_begin", 0},
      {"epoch_end", committed},
      {"k", 3},
      {"rankings",
       {{"p_mislabeled",
         {{"auroc", 0.93}, {"average_precision", 0.71}, {"description", "the paper's P(mislabeled)"}}},
        {"mean_loss",
         {{"auroc", 0.88}, {"average_precision", 0.52}, {"description", "baseline: mean loss"}}}}},
      {"argmax_mislabeled", {{"predicted", 3}, {"true_positives", 3}, {"precision", 1.0}, {"recall", 1.0}}}};
  std::ofstream(dir / "detection.json") << detection.dump(2) << "\n";
  nlohmann::json pilot = {
      {"key", {{"method", "learning_speed"}}},
      {"seconds", 1.5},
      {"below_chance",
       {{"chance", 0.5}, {"share", 0.1}, {"per_class", {0.05, 0.15}}, {"class_names", {"even", "odd"}}}}};
  std::ofstream(dir / "difficulty_scores.json") << pilot.dump(2) << "\n";
  return run;
}

}  // namespace mapd::report::testing
