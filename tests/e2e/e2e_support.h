#pragma once

#include "util/fs.h"
#include "util/process.h"

#include <fmt/format.h>

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace labctl::e2e {

// Environment variables added for a child.
using Env = std::vector<std::pair<std::string, std::string>>;

// The labctl binary under test, run to completion with a private cache dir unless given.
struct LabctlRun {
  int exit_code = -1;
  std::string out, err;
};

inline fs::path source_dir() {
  return fs::path(LABCTL_TESTS_DIR).parent_path();
}
inline fs::path tests_dir() {
  return LABCTL_TESTS_DIR;
}

inline LabctlRun labctl(std::vector<std::string> args,
                        std::vector<std::pair<std::string, std::string>> env = {},
                        std::chrono::seconds timeout = std::chrono::seconds(600)) {
  args.insert(args.begin(), LABCTL_BINARY);
  auto r = run_capture({.argv = args, .cwd = source_dir(), .env = env}, timeout);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok())
    return {};
  EXPECT_FALSE(r->timed_out) << "labctl did not finish in time";
  return {r->status.code, r->out, r->err};
}

// A profile in `dir` that boots the fake QEMU (tests/fake_qemu/fake-qemu) with a stand-in
// bzImage and kbuild folder: what the VM-less tests run labctl against.
inline fs::path write_fake_qemu_profile(const fs::path& dir, int boot_timeout = 20) {
  fs::create_directories(dir / "kbuild");
  EXPECT_TRUE(write_file_atomic(dir / "bzImage", "not a kernel").ok());
  auto p = dir / "fake.json";
  EXPECT_TRUE(
      write_file_atomic(
          p, fmt::format(R"({{"qemu": "{}", "kernel": {{"image": "bzImage", "build": "kbuild"}},
                                     "boot": "bzimage", "accel": "tcg", "boot_timeout": {}}})",
                         (tests_dir() / "fake_qemu/fake-qemu").string(), boot_timeout))
          .ok());
  return p;
}

// The newest installed release of a kernel series ("6.1" → "6.1.0-57-amd64"): a
// /boot/vmlinuz-<release> with /lib/modules/<release>/build, "" when there is none. For the
// tests that need one series' behaviour (scripts/setup.sh installs 6.1 and 6.12).
inline std::string installed_kernel_of_series(const std::string& series) {
  std::string best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/boot", ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("vmlinuz-", 0) != 0)
      continue;
    std::string release = name.substr(8);
    bool in_series = release.rfind(series, 0) == 0 && release.size() > series.size() &&
                     (release[series.size()] == '.' || release[series.size()] == '-');
    if (in_series && fs::exists(fs::path("/lib/modules") / release / "build", ec) && release > best)
      best = release;
  }
  return best;
}

// `modinfo -F field` of a .ko, without its trailing newlines.
// The lines of `text`, without their '\n'.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

inline std::string modinfo_field(const std::string& ko, const std::string& field) {
  auto r = run_capture({.argv = {"/sbin/modinfo", "-F", field, ko}}, std::chrono::seconds(30));
  EXPECT_TRUE(r.ok());
  std::string v = r.ok() ? r->out : "";
  while (!v.empty() && v.back() == '\n')
    v.pop_back();
  return v;
}

// What tests/check_report_json.py says is wrong with a --json report or result.json
// (docs/report-json.schema.json and the rules between keys); "" when it is valid. Run with
// /usr/bin/python3, which has python3-jsonschema (scripts/setup.sh installs it).
inline std::string report_schema_problems(const fs::path& report) {
  auto r = run_capture({.argv = {"/usr/bin/python3",
                                 (tests_dir() / "check_report_json.py").string(), report.string()}},
                       std::chrono::seconds(60));
  if (!r.ok())
    return "check_report_json.py did not run: " + r.error().message;
  if (r->status.success())
    return "";
  return fmt::format("check_report_json.py ({}):\n{}{}", r->status.describe(), r->out, r->err);
}

// How many qemu-system processes have `needle` in their command line.
inline int qemu_processes_using(const std::string& needle) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos)
      continue;
    auto cmdline = read_file(entry.path() / "cmdline");
    if (!cmdline ||
        cmdline->substr(0, cmdline->find('\0')).find("qemu-system") == std::string::npos)
      continue;
    if (cmdline->find(needle) != std::string::npos)
      ++count;
  }
  return count;
}

// The ids of processes (other than this one) whose command line contains `needle` and
// `also` (when given): a fake QEMU runs as "python3 .../fake-qemu ...", not "qemu-system".
inline std::vector<pid_t> pids_using(const std::string& needle, const std::string& also = "") {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos || std::stoi(pid) == ::getpid())
      continue;
    auto cmdline = read_file(entry.path() / "cmdline");
    if (cmdline && cmdline->find(needle) != std::string::npos &&
        cmdline->find(also) != std::string::npos)
      pids.push_back(std::stoi(pid));
  }
  return pids;
}

inline int processes_using(const std::string& needle, const std::string& also = "") {
  return static_cast<int>(pids_using(needle, also).size());
}

} // namespace labctl::e2e
