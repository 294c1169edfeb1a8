// `labctl run --gdb-wait` end to end: gdb attaches with labctl's gdb.script, stops in a
// module function at a breakpoint, and the run still passes once gdb lets go.
#include "e2e_support.h"

#include <gtest/gtest.h>

#include <csignal>
#include <thread>

namespace labctl::e2e {
namespace {

using namespace std::chrono_literals;

TEST(Gdb, BreakpointInModuleFunctionIsHitAndTheRunPasses) {
  if (find_program("gdb").empty())
    GTEST_SKIP() << "gdb is not installed";
  TempDir artifacts("labctl-e2e-gdb");
  auto child = spawn({.argv = {LABCTL_BINARY, "run", "--gdb-wait", "--artifacts",
                               artifacts.path().string(), "tests/scenarios/gdb-break.json"},
                      .cwd = source_dir(),
                      .out = Stream::pipe,
                      .err = Stream::pipe});
  ASSERT_TRUE(child.ok()) << child.error().message;
  auto& labctl = *child;
  auto script = artifacts.path() / "gdb-break" / "gdb.script";
  auto deadline = std::chrono::steady_clock::now() + 300s;
  while (std::chrono::steady_clock::now() < deadline && !fs::exists(script) && !labctl->try_wait())
    std::this_thread::sleep_for(100ms);
  if (!fs::exists(script)) {
    labctl->signal(SIGTERM);
    labctl->wait_for(60s);
    FAIL() << "labctl never wrote " << script;
  }
  auto text = read_file(script);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("target remote 127.0.0.1:"), std::string::npos) << *text;
  EXPECT_NE(text->find("add-symbol-file "), std::string::npos) << *text;
  EXPECT_NE(text->find("debugcon.ko 0x"), std::string::npos) << *text;

  // The guest is halted until gdb continues it; the breakpoint is hit by the scenario's step.
  auto gdb = run_command(
      {.argv = {"gdb", "-batch", "-nx", "-x", script.string(), "-ex", "break debugcon_write", "-ex",
                "continue", "-ex", "bt", "-ex", "detach"},
       .merge_stderr = true},
      180s);
  ASSERT_TRUE(gdb.ok()) << gdb.error().message;
  EXPECT_FALSE(gdb->timed_out) << gdb->out;
  EXPECT_NE(gdb->out.find("Breakpoint 1, debugcon_write ("), std::string::npos) << gdb->out;
  EXPECT_NE(gdb->out.find("#0  debugcon_write ("), std::string::npos) << gdb->out;

  auto status = labctl->wait_for(180s);
  if (!status) {
    labctl->signal(SIGTERM);
    labctl->wait_for(60s);
    FAIL() << "labctl did not finish after gdb detached";
  }
  EXPECT_EQ(status->code, 0);
  EXPECT_EQ(qemu_processes_using(artifacts.path().string()), 0) << "a QEMU outlived the run";
}

} // namespace
} // namespace labctl::e2e
