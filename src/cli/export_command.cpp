#include "mapd/cli/export_command.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <ostream>

#include "mapd/cli/commands.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/pipeline/pipeline.hpp"
#include "mapd/report/export.hpp"

namespace mapd::cli {

int export_command(const CommonOptions& options, const std::string& run_dir, const std::string& format,
                   const std::string& out_dir, std::ostream& out) {
  const std::filesystem::path dir(run_dir.empty() ? options.run_dir : run_dir);
  MAPD_CHECK(!dir.empty(), ConfigError,
             "mapd export: name the run directory (mapd export RUN_DIR --format csv)");
  MAPD_CHECK(std::filesystem::is_directory(dir), IoError,
             fmt::format("mapd export: {} is not a directory", dir.string()));
  const auto checked = report::check_export_format(format);
  const std::filesystem::path target =
      out_dir.empty() ? dir / "export" / checked : std::filesystem::path(out_dir);
  report::ExportResult result;
  if (checked == "csv") {
    result = report::export_csv(dir, target);
  } else if (checked == "cartography") {
    result = report::export_cartography(dir, target);
  } else {
    const auto predicted = pipeline::predict_training_examples(RunLayout(dir), options.overrides);
    result = report::export_cleanlab(dir, target, predicted);
  }
  for (const auto& note : result.notes) log::get("export")->warn("{}", note);
  for (const auto& file : result.files) out << file.string() << "\n";
  return 0;
}

void register_export(CLI::App& app, CommonOptions& options, std::function<int()>& action) {
  auto* command = app.add_subcommand(
      "export",
      "write a run's per-example results for other tools: csv, cleanlab (labels.npy, pred_probs.npy, "
      "label_issues.csv) or cartography (training-dynamics JSONL)");
  auto run_dir = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("csv");
  auto out_dir = std::make_shared<std::string>();
  command->add_option("run_dir", *run_dir, "run directory written by `mapd train` or `mapd audit`");
  command->add_option("--format", *format, "csv (default), cleanlab or cartography");
  command->add_option("--out", *out_dir, "folder to write into (default RUN_DIR/export/<format>)");
  add_common_options(*command, options, /*with_config=*/false);
  command->add_option("--set", options.overrides,
                      "cleanlab: override a key of the run's config for the prediction pass, e.g. --set "
                      "data.path=/new/place or --set train.device=cpu; repeatable");
  command->callback([&action, &options, run_dir, format, out_dir] {
    action = [&options, run_dir, format, out_dir] {
      return export_command(options, *run_dir, *format, *out_dir, std::cout);
    };
  });
}

}  // namespace mapd::cli
