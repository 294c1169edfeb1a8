#include "build/symbolizer.h"

#include "build/module_build.h"
#include "guest/fault_scanner.h"
#include "host/kernel_locator.h"
#include "test_support.h"
#include "util/process.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <optional>
#include <random>

namespace labctl {
namespace {

fs::path fixture_dir() {
  return fs::path(LABCTL_SOURCE_DIR) / "tests/kmod/oops_line";
}

// The line of the fixture's source that holds `marker` (a comment on it), from 1.
int line_of(const std::string& marker) {
  auto text = read_file(fixture_dir() / "oops_line.c");
  EXPECT_TRUE(text.ok());
  size_t at = text.ok() ? text->find(marker) : std::string::npos;
  EXPECT_NE(at, std::string::npos) << marker;
  return at == std::string::npos
             ? 0
             : static_cast<int>(
                   std::count(text->begin(), text->begin() + static_cast<long>(at), '\n')) +
                   1;
}

// tests/kmod/oops_line built once with real kbuild against the newest installed kernel.
struct BuiltFixture {
  test::ScratchDir cache;
  std::optional<BuiltModule> module;
  std::string skip;
};

BuiltFixture& built_fixture() {
  static BuiltFixture built = [] {
    BuiltFixture b;
    auto kernel = find_newest_kernel(KernelRoots{});
    if (!kernel) {
      b.skip = "no kernel with headers: " + kernel.error().message;
      return b;
    }
    auto m = build_module({fixture_dir(), *kernel, b.cache.path(), {}, {}});
    if (!m)
      b.skip = "the fixture did not build: " + m.error().message;
    else
      b.module = std::move(*m);
    return b;
  }();
  return built;
}

DebugObject fixture_object(const fs::path& ko) {
  return {.module = "oops_line", .file = ko, .map_path = [ko](const std::string& file) {
            return user_source_file(file, ko, fixture_dir());
          }};
}

StackFrame frame(const std::string& function, uint64_t offset, bool exact,
                 const std::string& module = "oops_line") {
  return {.text = fmt::format("{}+0x{:x}/0x0 [{}]", function, offset, module),
          .function = function,
          .offset = offset,
          .size = 0,
          .module = module,
          .exact = exact};
}

TEST(Symbolizer, InlinedStoreInTheBuiltKoResolvesToItsLineInsideTheCallersLine) {
  auto& built = built_fixture();
  if (!built.skip.empty())
    GTEST_SKIP() << built.skip;
  ASSERT_EQ(built.module->ko_files.size(), 1u);
  Symbolizer symbolizer({fixture_object(built.module->ko_files[0])});
  std::string source = (fixture_dir() / "oops_line.c").string();
  int store = line_of("oops_line: the store");
  int call = line_of("oops_line: the call");
  // Somewhere in oops_line_write is the store, inlined: [store's line, call's line].
  std::optional<uint64_t> found;
  for (uint64_t offset = 0; offset < 256 && !found; ++offset) {
    auto chain = symbolizer.resolve(frame("oops_line_write", offset, true));
    if (chain.size() == 2 && chain[0].function == "oops_line_store")
      found = offset;
  }
  ASSERT_TRUE(found) << "no address of oops_line_write is in the inlined oops_line_store";
  auto chain = symbolizer.resolve(frame("oops_line_write", *found, true));
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0], (SourceLocation{"oops_line_store", source, store, chain[0].column}));
  EXPECT_EQ(chain[1].function, "oops_line_write");
  EXPECT_EQ(chain[1].file, source) << "the build copy's path is mapped to the user's file";
  EXPECT_EQ(chain[1].line, call);
  // The function's first byte is in its head (GCC says the line of its '{'), in no inlined
  // code.
  auto entry = symbolizer.resolve(frame("oops_line_write", 0, true));
  ASSERT_EQ(entry.size(), 1u);
  EXPECT_EQ(entry[0].function, "oops_line_write");
  EXPECT_GE(entry[0].line, line_of("static ssize_t oops_line_write("));
  EXPECT_LT(entry[0].line, call);
  EXPECT_TRUE(symbolizer.problems().empty());
}

TEST(Symbolizer, UnknownFramesAndGarbageStayUnresolvedWithoutThrowing) {
  auto& built = built_fixture();
  if (!built.skip.empty())
    GTEST_SKIP() << built.skip;
  fs::path ko = built.module->ko_files[0];
  Symbolizer symbolizer({fixture_object(ko),
                         {.module = "gone", .file = "/nonexistent/gone.ko"},
                         {.module = "text", .file = LABCTL_SOURCE_DIR "/README.md"}});
  EXPECT_TRUE(symbolizer.resolve(frame("no_such_function", 4, true)).empty());
  EXPECT_TRUE(symbolizer.resolve(frame("oops_line_write", UINT64_MAX, false)).empty());
  EXPECT_TRUE(symbolizer.resolve(frame("oops_line_write", 0x100000, true)).empty());
  EXPECT_TRUE(symbolizer.resolve(frame("vfs_write", 0xc7, false, "")).empty()) << "no vmlinux";
  EXPECT_TRUE(symbolizer.resolve(frame("x", 1, true, "not_loaded")).empty());
  EXPECT_TRUE(symbolizer.resolve(frame("x", 1, true, "gone")).empty());
  EXPECT_TRUE(symbolizer.resolve(frame("x", 1, true, "text")).empty());
  EXPECT_FALSE(symbolizer.problems().empty());
  // Every frame of the recorded reports (built elsewhere, with .cold parts this build has
  // not) against this .ko: some resolve or none, nothing throws.
  for (const char* log : {"oops.log", "warning.log", "bug.log", "soft_lockup.log", "panic.log"}) {
    auto text = read_file(test::test_data(std::string("console/") + log));
    ASSERT_TRUE(text.ok());
    for (auto f : stack_frames(*text)) {
      f.module = "oops_line";
      for (const auto& s : symbolizer.resolve(f))
        EXPECT_FALSE(s.function.empty());
    }
  }
  std::mt19937 rng(14);
  for (int i = 0; i < 2000; ++i) {
    StackFrame f = frame(i % 2 ? "oops_line_write" : "__pfx_oops_line_write", rng() % 512, i % 3);
    f.size = rng() % 3 ? 0 : rng();
    for (const auto& s : symbolizer.resolve(f))
      EXPECT_EQ(s.file.empty(), false);
  }
}

TEST(Symbolizer, KoWithoutDebugInfoLeavesItsFramesAsTheyAre) {
  auto& built = built_fixture();
  if (!built.skip.empty())
    GTEST_SKIP() << built.skip;
  test::ScratchDir dir;
  fs::path stripped = dir.path() / "oops_line.ko";
  auto strip = run_capture(
      {.argv = {"objcopy", "--strip-debug", built.module->ko_files[0].string(), stripped.string()}},
      std::chrono::seconds(60));
  ASSERT_TRUE(strip && strip->status.success()) << "objcopy --strip-debug failed";
  Symbolizer symbolizer({{.module = "oops_line", .file = stripped}});
  for (uint64_t offset = 0; offset < 64; ++offset)
    EXPECT_TRUE(symbolizer.resolve(frame("oops_line_write", offset, true)).empty()) << offset;
  ASSERT_FALSE(symbolizer.problems().empty());
  EXPECT_NE(symbolizer.problems()[0].find("no debug info"), std::string::npos)
      << symbolizer.problems()[0];
}

TEST(UserSourceFile, BuildCopyPathsBecomeTheUsersFiles) {
  fs::path ko = "/c/modules/abc123/src/sub/m.ko";
  EXPECT_EQ(user_source_file("/c/modules/abc123.tmp.4242/src/sub/m.c", ko, "/home/u/drv"),
            "/home/u/drv/sub/m.c");
  EXPECT_EQ(user_source_file("/c/modules/abc123.tmp.7/dkms/p/1.0/build/m.c", ko, "/home/u/drv"),
            "/home/u/drv/m.c");
  EXPECT_EQ(user_source_file("/proc/99/fd/5/m.c", ko, "/home/u/drv"), "/home/u/drv/m.c");
  // Another entry's copy, the user's headers beside the folder and the kernel's stay.
  EXPECT_EQ(user_source_file("/c/modules/other.tmp.7/src/m.c", ko, "/d"),
            "/c/modules/other.tmp.7/src/m.c");
  EXPECT_EQ(user_source_file("/home/u/include/x.h", ko, "/d"), "/home/u/include/x.h");
  EXPECT_EQ(user_source_file("/usr/src/linux-headers-6.1.0-57-common/include/linux/fs.h", ko, "/d"),
            "/usr/src/linux-headers-6.1.0-57-common/include/linux/fs.h");
  EXPECT_EQ(user_source_file("", ko, "/d"), "");
  EXPECT_EQ(user_source_file("/c/modules/abc123.tmp.x/src/m.c", ko, "/d"),
            "/c/modules/abc123.tmp.x/src/m.c");
}

} // namespace
} // namespace labctl

namespace labctl {
namespace {

// A linked program with DWARF stands in for a debug vmlinux: frames without a module
// resolve in the object whose module is "".
TEST(Symbolizer, KernelFramesResolveInTheDebugVmlinuxObject) {
  test::ScratchDir dir;
  dir.write("k.c", "int kernel_side(int x)\n"
                   "{\n"
                   "\treturn x * 3 + 1;\n"
                   "}\n"
                   "int main(void) { return kernel_side(2); }\n");
  fs::path exe = dir.path() / "vmlinux";
  auto cc =
      run_capture({.argv = {"gcc", "-g", "-O0", "-o", exe.string(), (dir.path() / "k.c").string()}},
                  std::chrono::seconds(120));
  if (!cc || !cc->status.success())
    GTEST_SKIP() << "gcc could not build the stand-in";
  Symbolizer symbolizer({{.module = "", .file = exe}});
  StackFrame f{.text = "kernel_side+0x0/0x0", .function = "kernel_side", .exact = true};
  auto chain = symbolizer.resolve(f);
  ASSERT_EQ(chain.size(), 1u);
  EXPECT_EQ(chain[0].function, "kernel_side");
  EXPECT_EQ(chain[0].file, (dir.path() / "k.c").string());
  EXPECT_EQ(chain[0].line, 2);
  // A module frame does not go to vmlinux.
  f.module = "some_module";
  EXPECT_TRUE(symbolizer.resolve(f).empty());
}

// With Debian's linux-image-<release>-dbg installed, a kernel frame gets its line; the
// package is large and not installed by scripts/setup.sh, so this is usually skipped.
TEST(Symbolizer, InstalledDebianDebugVmlinuxResolvesAKernelFunction) {
  auto kernel = find_newest_kernel(KernelRoots{});
  if (!kernel)
    GTEST_SKIP() << "no kernel";
  fs::path vmlinux = debian_debug_vmlinux(kernel->version);
  if (!fs::exists(vmlinux))
    GTEST_SKIP() << vmlinux << " is absent (apt-get install linux-image-" << kernel->version
                 << "-dbg)";
  Symbolizer symbolizer({{.module = "", .file = vmlinux}});
  auto chain = symbolizer.resolve(
      {.text = "vfs_write+0x10/0x0", .function = "vfs_write", .offset = 0x10, .exact = true});
  ASSERT_FALSE(chain.empty());
  EXPECT_EQ(chain.back().function, "vfs_write");
  EXPECT_NE(chain[0].file.find("fs/"), std::string::npos) << chain[0].file;
}

} // namespace
} // namespace labctl
