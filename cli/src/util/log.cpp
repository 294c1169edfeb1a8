#include "util/log.h"

#include <spdlog/sinks/ansicolor_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <unistd.h>

namespace labctl {

bool use_color() {
  const char* no_color = std::getenv("NO_COLOR");
  return (!no_color || !*no_color) && ::isatty(STDERR_FILENO);
}

void setup_logging(Verbosity verbosity) {
  std::shared_ptr<spdlog::logger> logger;
  if (use_color())
    logger = std::make_shared<spdlog::logger>(
        "labctl", std::make_shared<spdlog::sinks::ansicolor_stderr_sink_mt>());
  else
    logger = std::make_shared<spdlog::logger>("labctl",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern(verbosity == Verbosity::verbose ? "labctl: %^%l%$: [%H:%M:%S.%e] %v"
                                                      : "labctl: %^%v%$");
  switch (verbosity) {
  case Verbosity::quiet:
    logger->set_level(spdlog::level::warn);
    break;
  case Verbosity::normal:
    logger->set_level(spdlog::level::info);
    break;
  case Verbosity::verbose:
    logger->set_level(spdlog::level::debug);
    break;
  }
  logger->flush_on(spdlog::level::debug);
  spdlog::set_default_logger(logger);
}

} // namespace labctl
