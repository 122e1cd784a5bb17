#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>

#include "mapd/cli/cli.hpp"
#include "mapd/cli/commands.hpp"
#include "mapd/core/device.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/core/version.hpp"

namespace mapd::cli {

std::string version_text() {
  const auto info = build_info();
  std::string text = std::string("mapd ") + kVersion + "\nLibTorch " + info.torch_version + "\n";
  if (info.cuda_built) {
    text += "built with CUDA " +
            (info.cuda_version.empty() ? std::string("(version unknown)") : info.cuda_version) + ", cuDNN " +
            (info.cudnn_version.empty() ? std::string("none") : info.cudnn_version) + "\n";
  } else {
    text += "built without CUDA (CPU only)\n";
  }
  text +=
      "GPU: " + (info.gpus > 0 ? std::to_string(info.gpus) + " visible" : std::string("none visible")) + "\n";
  return text;
}

void add_common_options(CLI::App& command, CommonOptions& options, bool with_config) {
  if (with_config) {
    command.add_option("-c,--config", options.config_files,
                       "config file (YAML or JSON); repeatable, later files win");
    command.add_option("--set", options.overrides, "override one key, e.g. --set train.epochs=3; repeatable");
  }
  command.add_option("--run-dir", options.run_dir, "run directory (default: runs/<config name>-<timestamp>)");
  command.add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off");
}

int run(int argc, char** argv) {
  CLI::App app{"mapd: audit a labelled dataset by the loss trajectories of its examples (MAP-D)", "mapd"};
  app.require_subcommand(0, 1);
  app.fallthrough();
  CommonOptions options;
  bool show_version = false;
  app.add_flag("--version", show_version,
               "print the mapd and LibTorch versions and whether CUDA is available");
  add_common_options(app, options, /*with_config=*/false);

  std::function<int()> action;

  auto* config = app.add_subcommand("config", "print the resolved config (defaults < files < --set) as JSON");
  add_common_options(*config, options, true);
  bool reference = false;
  config->add_flag("--reference", reference,
                   "print the commented reference config with every key and its default");
  config->callback([&] { action = [&] { return config_command(options, reference, std::cout); }; });

  register_commands(app, options, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    // Subcommand --help also arrives here.
    if (e.get_exit_code() == 0) {
      app.exit(e);
      return 0;
    }
    throw ConfigError(std::string(e.what()) + "\nRun 'mapd --help' for usage.");
  }
  log::init(options.log_level);
  if (show_version) {
    std::cout << version_text();
    return 0;
  }
  if (!action) {
    std::cout << app.help();
    return 0;
  }
  return action();
}

}  // namespace mapd::cli
