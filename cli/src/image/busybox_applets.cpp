#include "image/busybox_applets.h"

#include "util/content_hash.h"
#include "util/process.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string_view>

namespace labctl {

namespace {

using namespace std::chrono_literals;

std::string_view first_line(std::string_view text) {
  return text.substr(0, text.find('\n'));
}

// An applet path must stay inside the guest root when it is joined to it.
bool is_install_path(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.find('\0') != std::string_view::npos)
    return false;
  for (size_t begin = 0;;) {
    size_t end = path.find('/', begin);
    std::string_view part = path.substr(begin, end - begin);
    if (part.empty() || part == "." || part == "..")
      return false;
    if (end == std::string_view::npos)
      return true;
    begin = end + 1;
  }
}

Result<std::vector<std::string>> list_applets(const fs::path& busybox) {
  auto ran = run_capture({.argv = {busybox.string(), "--list-full"}}, 10s);
  if (!ran)
    return environment_error(fmt::format("cannot run busybox: {}", ran.error().message));
  if (ran->timed_out)
    return environment_error(
        fmt::format("{} --list-full did not finish in 10 s", busybox.string()));
  if (!ran->status.success())
    return environment_error(fmt::format(
        "{} --list-full failed ({}): {} (a busybox built with the installer feature is needed, "
        "e.g. apt-get install busybox-static)",
        busybox.string(), ran->status.describe(), first_line(ran->err)));
  std::vector<std::string> applets;
  std::string_view rest = ran->out;
  while (!rest.empty()) {
    size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.remove_suffix(1);
    if (line.empty())
      continue;
    if (!is_install_path(line))
      return environment_error(
          fmt::format("{} --list-full printed an unexpected line \"{}\"", busybox.string(), line));
    applets.emplace_back(line);
  }
  if (applets.empty())
    return environment_error(fmt::format("{} --list-full printed no applets", busybox.string()));
  return applets;
}

} // namespace

Result<std::vector<std::string>> busybox_applets(const fs::path& busybox) {
  ContentHash hash;
  if (auto ok = hash.add_file(busybox); !ok)
    return environment_error(
        fmt::format("busybox not usable: {} (install busybox-static)", ok.error().message));
  std::string key = hash.hex();

  // Held while busybox runs, so parallel callers wait for one listing instead of each
  // starting their own.
  static std::mutex mutex;
  static std::map<std::string, std::vector<std::string>> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(key); it != cache.end())
    return it->second;
  auto applets = list_applets(busybox);
  if (!applets)
    return applets.error();
  spdlog::debug("busybox {}: {} applets", busybox.string(), applets->size());
  cache.emplace(key, *applets);
  return applets;
}

} // namespace labctl
