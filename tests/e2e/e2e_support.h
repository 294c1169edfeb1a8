#pragma once

#include "util/fs.h"
#include "util/process.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace labctl::e2e {

// The labctl binary under test, run to completion with a private cache dir unless given.
struct LabctlRun {
  int exit_code = -1;
  std::string out, err;
};

inline fs::path source_dir() { return fs::path(LABCTL_TESTS_DIR).parent_path(); }
inline fs::path tests_dir() { return LABCTL_TESTS_DIR; }

inline LabctlRun labctl(std::vector<std::string> args,
                        std::vector<std::pair<std::string, std::string>> env = {},
                        std::chrono::seconds timeout = std::chrono::seconds(600)) {
  args.insert(args.begin(), LABCTL_BINARY);
  auto r = run_command({.argv = args, .cwd = source_dir(), .env = env}, timeout);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok())
    return {};
  EXPECT_FALSE(r->timed_out) << "labctl did not finish in time";
  return {r->status.code, r->out, r->err};
}

} // namespace labctl::e2e
