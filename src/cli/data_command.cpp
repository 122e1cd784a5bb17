#include "mapd/cli/data_command.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>
#include <ostream>

#include "mapd/cli/commands.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/data/preview.hpp"

namespace mapd::cli {

int data_command(const CommonOptions& options, std::ostream& out) {
  const auto context = prepare_run(options, "mapd data");
  const auto& cfg = context.config.data;
  const auto dataset = data::load_dataset(cfg, context.run_dir);
  const auto& train = dataset.train;
  const auto counts = data::class_counts(train);
  std::vector<int64_t> noisy(counts.size(), 0);
  for (int64_t i = 0; i < train.size(); ++i) {
    if (train.examples.label[i] != train.examples.original_label[i]) {
      ++noisy[train.examples.original_label[i]];
    }
  }
  out << fmt::format("dataset: {} (format {}, {})\n", dataset.name, cfg.format, cfg.path);
  out << fmt::format("train: {} examples{}\n", train.size(),
                     train.in_memory() ? "" : " (decoded on the fly)");
  out << fmt::format("test: {}\n", dataset.test ? fmt::format("{} examples", dataset.test->size()) : "none");
  out << fmt::format("image shape: {} x {} x {} (C x H x W)\n", train.channels, train.height, train.width);
  out << fmt::format("classes: {}\n", train.num_classes());
  out << "examples per class (train):\n";
  for (size_t c = 0; c < counts.size(); ++c) {
    const auto name = c < train.class_names.size() ? train.class_names[c] : std::to_string(c);
    out << fmt::format("  {:>4}  {:<24} {:>8}", c, name, counts[c]);
    if (cfg.label_noise.rate > 0.0) {
      out << fmt::format("  ({} relabelled away)", noisy[c]);
    }
    out << "\n";
  }
  out << fmt::format("bad inputs: {}{}\n", dataset.bad_inputs.size(),
                     dataset.bad_inputs.empty()
                         ? ""
                         : " (listed in " + RunLayout(context.run_dir).bad_inputs().string() + ")");
  for (size_t i = 0; i < std::min<size_t>(dataset.bad_inputs.size(), 10); ++i) {
    out << fmt::format("  {}: {}\n", dataset.bad_inputs[i].path, dataset.bad_inputs[i].reason);
  }
  const auto png = context.run_dir / "data_preview.png";
  data::write_sample_grid(train, png, 8);
  out << fmt::format("preview: {}\n", png.string());
  return 0;
}

void register_data(CLI::App& app, CommonOptions& options, std::function<int()>& action) {
  auto* command = app.add_subcommand(
      "data",
      "load the dataset and preview it: examples per class, image shape, bad inputs, a PNG grid of samples");
  add_common_options(*command, options, true);
  command->callback([&] { action = [&] { return data_command(options, std::cout); }; });
}

}  // namespace mapd::cli
