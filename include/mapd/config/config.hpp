#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

/// The run configuration: plain structs with their defaults in the initialisers. Each struct lists
/// its fields once, in `visit`, with a one-line description; the parser, the `--set` overrides, the
/// JSON dump and the commented reference config (configs/reference.yaml) are all driven by it.
///
/// A visitor is called as `v(key, field, description)` or, for a field with a closed set of values,
/// `v(key, field, description, choices)`; nested structs are visited as `v(key, sub, description)`.
namespace mapd::config {

using Choices = std::vector<std::string>;

/// The most classes a dataset may have (data.num_classes, the largest manifest label + 1). Beyond
/// it a label is a typo or an id in the wrong column: label 1000000 silently made a 1,000,001-class
/// model (issue 13 item 8). ImageNet-21k has 21,841 classes.
inline constexpr int64_t kMaxClasses = 100000;

/// Synthetic label noise for evaluating detection (the original label is kept and recorded).
struct LabelNoiseConfig {
  double rate = 0.0;
  std::string kind = "symmetric";
  int64_t seed = 0;

  template <class V>
  void visit(V& v) {
    v("rate", rate, "fraction of training labels replaced by a wrong one (uniform: redrawn), in [0, 1)");
    v("kind", kind,
      "symmetric: any other class; asymmetric: a fixed class permutation (c -> c+1 mod C); "
      "uniform: any class, the given one included (Arazo et al.; about (C-1)/C of rate end up wrong)",
      Choices{"symmetric", "asymmetric", "uniform"});
    v("seed", seed, "seed of the noise draw (independent of train.seed)");
  }
};

/// Batched augmentation of training examples (probe copies are never augmented unless
/// probes.augment is true).
struct AugmentConfig {
  int64_t crop_padding = 0;
  std::string padding_mode = "reflect";
  bool hflip = false;
  bool random_resized_crop = false;
  double rrc_scale_min = 0.08;
  bool normalize = false;
  std::vector<double> mean = {};
  std::vector<double> std_dev = {};

  template <class V>
  void visit(V& v) {
    v("crop_padding", crop_padding, "random crop after padding by this many pixels (0 = off)");
    v("padding_mode", padding_mode, "padding of the random crop", Choices{"reflect", "zero"});
    v("hflip", hflip, "random horizontal flip with probability 0.5");
    v("random_resized_crop", random_resized_crop,
      "RandomResizedCrop to data.image_size (image folders, ImageNet style)");
    v("rrc_scale_min", rrc_scale_min, "smallest area fraction of RandomResizedCrop");
    v("normalize", normalize, "subtract mean and divide by std per channel (inputs are in [0, 1] otherwise)");
    v("mean", mean, "per-channel mean for normalize (empty = computed from the training set)");
    v("std", std_dev, "per-channel std for normalize (empty = computed from the training set)");
  }
};

struct DataConfig {
  std::string format = "idx";
  std::string path = "/usr/share/datasets/fashion-mnist";
  std::string test_path = "";
  std::string name = "fashion-mnist";
  std::string cifar_labels = "fine";
  int64_t num_classes = 0;
  int64_t channels = 0;
  int64_t image_size = 0;
  int64_t limit = 0;
  int64_t seed = 0;
  int64_t memory_budget_mb = 8192;
  int64_t workers = -1;
  int64_t prefetch = 4;
  std::string resident = "auto";
  int64_t resident_max_mb = 8192;
  bool drop_last = false;
  AugmentConfig augment;
  LabelNoiseConfig label_noise;

  template <class V>
  void visit(V& v) {
    v("format", format, "dataset format", Choices{"idx", "cifar", "folder", "manifest"});
    v("path", path,
      "idx: folder with train-images-idx3-ubyte[.gz] etc.; cifar: folder with the binary batches; "
      "folder: root/<class>/<image>; manifest: a CSV file path,label[,id]");
    v("test_path", test_path,
      "test set (idx and cifar: empty = the t10k / test_batch files next to the training files; "
      "folder and manifest: empty = no test set)");
    v("name", name, "display name of the dataset in logs and the report");
    v("cifar_labels", cifar_labels, "CIFAR-100 label set", Choices{"fine", "coarse"});
    v("num_classes", num_classes,
      "manifest: number of classes C, labels must lie in [0, C) (0 = from classes.txt beside the "
      "manifest, else the largest label + 1)");
    v("channels", channels,
      "channels fed to the model (0 = as stored: 1 for IDX, and for image folders and manifests whose "
      "images are all greyscale; 3 for CIFAR and for folders and manifests with any colour image)");
    v("image_size", image_size,
      "folder and manifest images are resized (aspect kept) and centre-cropped to image_size x image_size "
      "(0 = as stored: the size of the first image; the others are brought to it)");
    v("limit", limit, "use a seeded, class-balanced subset of this many training examples (0 = all)");
    v("seed", seed, "seed of data.limit subsetting");
    v("memory_budget_mb", memory_budget_mb,
      "datasets up to this size are decoded once and held in memory as uint8; larger image folders "
      "are decoded on the fly by the loader's workers");
    v("workers", workers,
      "loader worker threads (-1 = auto: none for images held in memory, which are batched in the "
      "training thread, 2 for images decoded on demand)");
    v("prefetch", prefetch, "batches prepared ahead of the trainer (bounded queue)");
    v("resident", resident,
      "hold the dataset's uint8 pixels on the training device and gather and augment batches there "
      "(auto = on CUDA when the dataset is held in memory and fits resident_max_mb; on = also on the "
      "CPU; off = assemble every batch on the CPU and copy it)",
      Choices{"auto", "on", "off"});
    v("resident_max_mb", resident_max_mb,
      "largest dataset that resident=auto puts on the GPU (MB of uint8 pixels)");
    v("drop_last", drop_last, "drop the last incomplete batch of each epoch");
    v("augment", augment, "batched augmentation of training examples");
    v("label_noise", label_noise, "synthetic label noise, for measuring detection");
  }
};

struct ModelConfig {
  std::string arch = "small_cnn";
  std::string stem = "cifar";
  bool stem_maxpool = false;
  int64_t width = 32;
  std::string norm = "batch";

  template <class V>
  void visit(V& v) {
    v("arch", arch, "network architecture",
      Choices{"small_cnn", "resnet18", "resnet34", "resnet50", "preact_resnet18"});
    v("stem", stem, "ResNet stem: cifar = 3x3 conv stride 1; imagenet = 7x7 conv stride 2 + max-pool",
      Choices{"cifar", "imagenet"});
    v("stem_maxpool", stem_maxpool,
      "keep the stride-2 max-pool after a cifar stem (the MAP-D reference code does)");
    v("width", width, "channels of the first small_cnn layer (doubled per layer)");
    v("norm", norm,
      "small_cnn's normalisation after each convolution: batch (BatchNorm) or none (a data-parallel run "
      "then trains exactly as one process with the same global batch)",
      Choices{"batch", "none"});
  }
};

struct OptimizerConfig {
  std::string name = "sgd";
  double lr = 0.05;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 5e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;

  template <class V>
  void visit(V& v) {
    v("name", name, "optimizer", Choices{"sgd", "adamw"});
    v("lr", lr, "peak learning rate");
    v("momentum", momentum, "SGD momentum");
    v("nesterov", nesterov, "SGD Nesterov momentum");
    v("weight_decay", weight_decay, "weight decay (decoupled for adamw)");
    v("beta1", beta1, "AdamW beta1");
    v("beta2", beta2, "AdamW beta2");
    v("eps", eps, "AdamW epsilon");
  }
};

struct ScheduleConfig {
  std::string name = "cosine";
  int64_t warmup_epochs = 0;
  std::vector<int64_t> milestones = {};
  double gamma = 0.1;
  double min_lr = 0.0;

  template <class V>
  void visit(V& v) {
    v("name", name, "learning-rate schedule (a pure function of epoch and step)",
      Choices{"cosine", "multistep", "constant"});
    v("warmup_epochs", warmup_epochs, "linear warm-up from 0 over this many epochs");
    v("milestones", milestones, "multistep: epochs at which the rate is multiplied by gamma");
    v("gamma", gamma, "multistep: factor applied at each milestone");
    v("min_lr", min_lr, "cosine: final learning rate");
  }
};

struct TrainConfig {
  int64_t epochs = 20;
  int64_t batch_size = 128;
  std::string device = "auto";
  int64_t seed = 0;
  std::string mode = "standard";
  std::string amp = "off";
  bool channels_last = false;
  int64_t threads = 0;
  bool eval_test = true;

  template <class V>
  void visit(V& v) {
    v("epochs", epochs, "training epochs (trajectory length)");
    v("batch_size", batch_size,
      "examples per step (prioritized: prioritized.keep of prioritized.candidates)");
    v("device", device, "auto, cpu, cuda or cuda:N");
    v("seed", seed, "seed of model initialisation, loader order and augmentation");
    v("mode", mode,
      "training mode: standard (the audit), label_correction (train on noisy labels and correct them; "
      "section label_correction), prioritized (train each step on the best-scoring share of a candidate "
      "batch; section prioritized)",
      Choices{"standard", "label_correction", "prioritized"});
    v("amp", amp, "mixed precision on CUDA (ignored on CPU)", Choices{"off", "bf16", "fp16"});
    v("channels_last", channels_last, "channels-last memory format on CUDA");
    v("threads", threads,
      "intra-op CPU threads (0 = the CPUs this process may use, fewer while other processes keep them "
      "busy; a fixed number is needed for bitwise-reproducible CPU runs)");
    v("eval_test", eval_test, "evaluate test accuracy and loss after every epoch");
  }
};

struct ProbesConfig {
  std::string suite = "default";
  int64_t fit_per_category = 250;
  int64_t val_per_category = 250;
  int64_t seed = 0;
  double corrupted_sigma = 0.5;
  std::string ood_source = "glyphs";
  std::string ood_format = "";
  std::string ood_path = "";
  std::string selection = "per_class";
  double typical_pool = 0.5;
  double atypical_floor = 3.0;
  std::string difficulty = "learning_speed";
  std::string score_file = "";
  std::string score_typical_end = "high";
  int64_t holdout_models = 4;
  int64_t holdout_epochs = 3;
  int64_t pilot_epochs = 3;
  std::string source_pool = "random";
  std::string user_probes = "";
  bool augment = false;
  double max_fraction = 0.1;

  template <class V>
  void visit(V& v) {
    v("suite", suite,
      "probe suite: a name under probes/ (default = all six categories), a YAML path, or none");
    v("fit_per_category", fit_per_category, "probes per category in the k-NN reference (fit) half");
    v("val_per_category", val_per_category, "probes per category in the held-out (val) half");
    v("seed", seed, "seed of probe selection and transforms");
    v("corrupted_sigma", corrupted_sigma,
      "std of the Gaussian pixel noise of corrupted probes, on [0, 1] pixels");
    v("ood_source", ood_source,
      "ood probes: rendered glyphs (letters, digits, symbols with random labels; needs no data), the "
      "paper's sketch transform of training images (weak on grey images: docs/probes.md), or images of "
      "another dataset (ood_format/ood_path; the strongest when you have one)",
      Choices{"sketch", "glyphs", "dataset"});
    v("ood_format", ood_format, "ood_source=dataset: format of the other dataset (as data.format)");
    v("ood_path", ood_path, "ood_source=dataset: path of the other dataset (as data.path)");
    v("selection", selection,
      "typical/atypical from the ends of the difficulty score per class or globally (paper)",
      Choices{"per_class", "global"});
    v("typical_pool", typical_pool,
      "typical probes: 0 = the easiest examples (the paper); q in (0, 1] = a seeded random draw from the "
      "easiest q share of each class (of the dataset with selection=global), so they stand for the easy "
      "bulk of the data rather than its extreme");
    v("atypical_floor", atypical_floor,
      "atypical probes: the hardest examples whose difficulty score (the probability of their label) "
      "is at least this multiple of chance (1/classes); below it lie the mislabeled and out-of-"
      "distribution examples, which come last (docs/probes.md). Applies to the built-in estimators and "
      "to score files with values in [0, 1] and score_typical_end=high; 0 = the paper (the hardest, "
      "whatever their score)");
    v("difficulty", difficulty, "difficulty score for typical/atypical",
      Choices{"file", "holdout", "learning_speed"});
    v("score_file", score_file,
      "difficulty=file: CSV id,score, or .npy/.npz (member 'scores') aligned with the dataset as stored");
    v("score_typical_end", score_typical_end, "which end of the score file is typical (C-scores: high)",
      Choices{"high", "low"});
    v("holdout_models", holdout_models,
      "difficulty=holdout: models trained on random halves, in complementary pairs. With >= 6 models of >= "
      "half "
      "the run's epochs each, label_issue also ranks their out-of-sample probability of the label, the best "
      "ranking measured (docs/detection.md)");
    v("holdout_epochs", holdout_epochs, "difficulty=holdout: epochs per model");
    v("pilot_epochs", pilot_epochs, "difficulty=learning_speed: epochs of the pilot run");
    v("source_pool", source_pool,
      "sources of corrupted/mislabeled/ood probes: random, or the easy end of the difficulty score",
      Choices{"random", "easy"});
    v("user_probes", user_probes, "CSV or JSON of (id, category) for hand-labelled probe examples");
    v("augment", augment, "augment probe copies like training examples");
    v("max_fraction", max_fraction,
      "largest share of the training split that probes drawn from it may take; larger suites are "
      "scaled down with a warning");
  }
};

struct RecordConfig {
  std::string view = "online";
  std::string dtype = "fp16";

  template <class V>
  void visit(V& v) {
    v("view", view,
      "online: losses from the training forward pass (almost free); eval: a separate "
      "no-augmentation eval-mode pass after each epoch",
      Choices{"online", "eval"});
    v("dtype", dtype, "storage type of the trajectories in dynamics.h5", Choices{"fp16", "fp32"});
  }
};

/// train.mode=label_correction: mixup warm-up, then bootstrapping towards the network's own
/// prediction weighted by P(mislabeled) (Arazo et al. 2019, M-DYR; docs/label-correction.md).
struct LabelCorrectionConfig {
  std::string method = "mapd";
  std::string assignment = "probabilities";
  std::string bootstrap = "soft";
  double relabel_threshold = 0.95;
  int64_t warmup_epochs = 0;
  double mixup_alpha = 1.0;
  double reg_weight = 1.0;
  std::string clean_category = "typical";
  std::string mislabeled_category = "mislabeled";
  std::string corrupted_category = "";
  double corrupted_weight = 0.0;
  std::string gmm_weights = "fixed";
  int64_t knn_epochs = 0;
  std::string prior = "equal";

  template <class V>
  void visit(V& v) {
    v("method", method,
      "P(mislabeled) from: mapd (k-NN over loss trajectories against clean and mislabeled probes), bmm "
      "(Arazo's beta mixture on the loss), gmm (Gaussians fitted to the probes' losses), none (no "
      "correction: mixup training on the given labels, same schedule) or oracle (1 for the labels "
      "data.label_noise changed, 0 for the others: a perfect detector, the benchmark's ceiling; needs "
      "injected noise)",
      Choices{"mapd", "bmm", "gmm", "none", "oracle"});
    v("assignment", assignment,
      "probabilities: bootstrap weight B = P(mislabeled); binary: B = 1 where mislabeled is the most "
      "probable category, else 0 (both clamped to [1e-4, 1 - 1e-4])",
      Choices{"probabilities", "binary"});
    v("bootstrap", bootstrap,
      "the target bootstrapping pulls towards: hard (the network's prediction, Arazo's M-DYR-H), soft "
      "(its softmax, M-DYR-S; the default, measured in docs/results.md §3) or confident (the prediction, "
      "weighted by B times the network's "
      "probability for it: an example the network is unsure of is mostly left out instead of relabelled)",
      Choices{"hard", "soft", "confident"});
    v("relabel_threshold", relabel_threshold,
      "corrected_labels.csv: an example is relabelled with the network's prediction when P(mislabeled) "
      "exceeds this (0.95: with method mapd and knn.k = 20, every neighbour a mislabeled probe; lower it "
      "to restore more flipped labels at the cost of changing more clean ones, docs/results.md §3)");
    v("warmup_epochs", warmup_epochs,
      "epochs of plain mixup before correction starts (0 = auto: 35% of train.epochs, the paper's 105 of "
      "300)");
    v("mixup_alpha", mixup_alpha,
      "mixup weight ~ Beta(alpha, alpha) per batch (0 = no mixup; the paper's 32 mixes too strongly for "
      "a small model and budget, docs/results.md §3)");
    v("reg_weight", reg_weight,
      "weight of KL(uniform || mean prediction of the batch) during correction (keeps the network from "
      "predicting one class)");
    v("clean_category", clean_category, "probe category taken as clean (drawn without ground truth)");
    v("mislabeled_category", mislabeled_category, "probe category taken as mislabeled");
    v("corrupted_category", corrupted_category,
      "three-set variant: a probe category of corrupted inputs (empty = two sets)");
    v("corrupted_weight", corrupted_weight,
      "three-set variant: weight of the given label's loss for the corrupted probability mass (0 = dropped)");
    v("gmm_weights", gmm_weights,
      "method=gmm: mixture weights fixed at 1/K, or adapted after each epoch by one E-step over the "
      "training losses",
      Choices{"fixed", "adaptive"});
    v("knn_epochs", knn_epochs,
      "method=mapd: the k-NN compares the trajectories' last this many committed epochs (0 = all, the "
      "paper); the features per epoch are knn.signals'");
    v("prior", prior,
      "method=mapd: equal (the vote shares as they are: with as many clean as mislabeled references, a "
      "prior of 1/2) or estimated (the shares reweighted to the share of mislabeled training examples "
      "that the shares themselves imply, by EM as in Saerens et al. 2002)",
      Choices{"equal", "estimated"});
  }

  /// Warm-up epochs for `epochs` training epochs (warmup_epochs, or its auto value).
  [[nodiscard]] int64_t warmup_for(int64_t epochs) const {
    if (warmup_epochs > 0) return warmup_epochs;
    // In double: validation calls this before train.epochs is known to be in range (up to 2^63 - 1).
    return std::max<int64_t>(1, std::llround(0.35 * static_cast<double>(epochs)));
  }
};

/// train.mode=prioritized: every step scores a candidate batch in one no-grad pass and trains on
/// its best-scoring share (docs/prioritized.md).
struct PrioritizedConfig {
  int64_t candidates = 320;
  int64_t keep = 32;
  std::string score = "mapd";
  bool class_balanced = true;
  int64_t probes_per_category = 250;
  std::string clean_category = "typical";
  std::string mislabeled_category = "mislabeled";
  int64_t rho_epochs = 3;

  template <class V>
  void visit(V& v) {
    v("candidates", candidates,
      "examples scored per step (the candidate batch; every example once per epoch)");
    v("keep", keep, "examples of each candidate batch the gradient step trains on");
    v("score", score,
      "which candidates are kept: mapd ((P(clean | trajectory + current loss) + 1 - p(label)) / 2, the "
      "k-NN against clean and mislabeled probes scored in the same pass), uniform (a random share), "
      "loss (highest loss), not_learned (1 - p(label)) or rho (RHO-LOSS: loss minus the irreducible "
      "loss of two models trained on complementary halves)",
      Choices{"mapd", "uniform", "loss", "not_learned", "rho"});
    v("class_balanced", class_balanced,
      "split the kept slots evenly over the classes and take the best-scoring candidates within each "
      "(false: the best-scoring candidates of any class, the research code's default; on Fashion-MNIST "
      "that drifts towards the hard classes and trains worse, docs/prioritized.md)");
    v("probes_per_category", probes_per_category,
      "score=mapd: clean and mislabeled probes scored every step, per category (fit half first)");
    v("clean_category", clean_category, "score=mapd: probe category taken as clean");
    v("mislabeled_category", mislabeled_category, "score=mapd: probe category taken as mislabeled");
    v("rho_epochs", rho_epochs, "score=rho: training epochs of each irreducible-loss model");
  }
};

struct KnnConfig {
  int64_t k = 20;
  int64_t epoch_begin = 0;
  int64_t epoch_end = 0;
  std::string weights = "uniform";
  bool standardize = false;
  std::string signals = "loss+el2n";
  std::string backend = "auto";
  int64_t memory_budget_mb = 2048;
  int64_t block_size = 0;

  template <class V>
  void visit(V& v) {
    v("k", k, "neighbours per query");
    v("epoch_begin", epoch_begin, "first epoch of the trajectories used (0-based)");
    v("epoch_end", epoch_end, "one past the last epoch used (0 = all committed epochs)");
    v("weights", weights, "neighbour votes: uniform (the paper) or distance-weighted",
      Choices{"uniform", "distance"});
    v("standardize", standardize, "standardise each epoch's losses with the fit set's mean and std");
    v("signals", signals,
      "what a trajectory is to the k-NN: the loss per epoch (the paper), or the loss followed by the "
      "recorded EL2N (and margin) per epoch, each value standardised with the fit set's mean and std; "
      "runs that did not record a signal use the loss alone (docs/probes.md)",
      Choices{"loss", "loss+el2n", "loss+el2n+margin"});
    v("backend", backend,
      "exact search backend: auto/blas = CPU BLAS GEMM shortlist + exact double re-rank; torch = LibTorch "
      "GEMM + top-k (CUDA when available); the old name faiss still means blas, with a warning",
      Choices{"auto", "blas", "torch"});
    v("memory_budget_mb", memory_budget_mb, "memory bound of streamed assignment");
    v("block_size", block_size, "queries per block (0 = derived from memory_budget_mb)");
  }
};

struct ReportConfig {
  bool enabled = true;
  int64_t top_n = 24;
  std::string assets_dir = "";
  int64_t table_limit = 100000;
  bool table_thumbnails = true;

  template <class V>
  void visit(V& v) {
    v("enabled", enabled, "mapd audit writes report/index.html");
    v("top_n", top_n, "surfaced examples per category in the image grids");
    v("table_limit", table_limit,
      "training examples in the report's browsing table (report/table/rows.js); beyond it the table "
      "keeps the highest label_issue and the page says how many were left out; 0 = no table");
    v("table_thumbnails", table_thumbnails,
      "draw the browsing table's thumbnails (report/table/thumbs-*.png, loaded as rows are shown)");
    v("assets_dir", assets_dir,
      "Chart.js UMD build for the report: the file, or a folder holding chart.min.js (empty = "
      "Debian's libjs-chart.js in /usr/share/javascript/chart.js)");
  }
};

struct DistConfig {
  std::string backend = "auto";
  double timeout_s = 600.0;
  double bucket_mb = 25.0;

  template <class V>
  void visit(V& v) {
    v("backend", backend,
      "data-parallel process group: auto (nccl when the ranks train on CUDA, else gloo), gloo (CPU "
      "tensors; CUDA tensors through a CPU copy) or nccl (CUDA tensors; CPU ones through gloo)",
      Choices{"auto", "gloo", "nccl"});
    v("timeout_s", timeout_s,
      "a data-parallel job fails (exit 6) when a collective or the rendezvous waits longer than this for "
      "another rank (one that died, hangs or was killed)");
    v("bucket_mb", bucket_mb, "gradients are averaged over the ranks in all-reduces of about this many MB");
  }
};

struct OutputConfig {
  std::string root = "runs";
  std::string name = "";

  template <class V>
  void visit(V& v) {
    v("root", root, "parent folder of run directories");
    v("name", name, "run name prefix (empty = the last config file's stem, or 'default')");
  }
};

/// Everything a run needs; the defaults are the default audit (Fashion-MNIST, six probe
/// categories, small CNN, 20 epochs).
struct RunConfig {
  DataConfig data;
  ModelConfig model;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  TrainConfig train;
  ProbesConfig probes;
  RecordConfig record;
  KnnConfig knn;
  LabelCorrectionConfig label_correction;
  PrioritizedConfig prioritized;
  ReportConfig report;
  DistConfig dist;
  OutputConfig output;

  template <class V>
  void visit(V& v) {
    v("data", data, "dataset, loader and augmentation");
    v("model", model, "network");
    v("optimizer", optimizer, "optimizer");
    v("schedule", schedule, "learning-rate schedule");
    v("train", train, "training loop");
    v("probes", probes, "probe suites");
    v("record", record, "per-example dynamics recording");
    v("knn", knn, "k-NN assignment over loss trajectories");
    v("label_correction", label_correction, "train.mode=label_correction");
    v("prioritized", prioritized, "train.mode=prioritized");
    v("report", report, "HTML report");
    v("dist", dist,
      "data-parallel training: one process per rank, launched by torchrun (RANK, WORLD_SIZE, MASTER_ADDR, "
      "MASTER_PORT) or srun (SLURM_PROCID, SLURM_NTASKS)");
    v("output", output, "run directories");
  }
};

}  // namespace mapd::config
