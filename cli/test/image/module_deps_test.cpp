#include "image/module_deps.h"

#include "test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <lzma.h>
#include <zstd.h>

#include <algorithm>

namespace labctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct FakeModules : test::ScratchDir {
  FakeModules() {
    write("modules.dep", "kernel/a/core-lib.ko:\n"
                         "kernel/b/mid.ko: kernel/a/core-lib.ko\n"
                         "kernel/c/top_mod.ko: kernel/b/mid.ko kernel/a/core-lib.ko\n"
                         "kernel/d/other.ko.xz: kernel/a/core-lib.ko\n"
                         "\n"
                         "kernel/e/cyc1.ko: kernel/e/cyc2.ko\n"
                         "kernel/e/cyc2.ko: kernel/e/cyc1.ko\n"
                         "kernel/f/orphan.ko: kernel/f/gone.ko\n");
    write("modules.builtin", "kernel/drivers/tty/serial/8250/8250.ko\n"
                             "kernel/drivers/virtio/virtio-builtin.ko\n");
  }
};

TEST(ModuleDeps, DependenciesComeFirst) {
  FakeModules m;
  auto r = resolve_module_deps(m.path(), {"top_mod"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(*r, ElementsAre("kernel/a/core-lib.ko", "kernel/b/mid.ko", "kernel/c/top_mod.ko"));
}

TEST(ModuleDeps, DashAndUnderscoreAreTheSameAndKoSuffixIsAccepted) {
  FakeModules m;
  auto r = resolve_module_deps(m.path(), {"core_lib", "top-mod.ko", "other"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(*r, ElementsAre("kernel/a/core-lib.ko", "kernel/b/mid.ko", "kernel/c/top_mod.ko",
                              "kernel/d/other.ko.xz"));
}

TEST(ModuleDeps, EachModuleOnce) {
  FakeModules m;
  auto r = resolve_module_deps(m.path(), {"mid", "top_mod", "mid", "core-lib"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(*r, ElementsAre("kernel/a/core-lib.ko", "kernel/b/mid.ko", "kernel/c/top_mod.ko"));
}

TEST(ModuleDeps, UnknownModuleIsBadInputNamingIt) {
  FakeModules m;
  auto r = resolve_module_deps(m.path(), {"mid", "no_such_mod"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ExitCode::bad_input);
  EXPECT_THAT(r.error().message, HasSubstr("\"no_such_mod\""));
  EXPECT_FALSE(resolve_module_deps(m.path(), {""}).ok());
  EXPECT_FALSE(resolve_module_deps(m.path(), {"kernel/b/mid"}).ok());
}

TEST(ModuleDeps, BuiltinModulesNeedNoFile) {
  FakeModules m;
  auto r = resolve_module_deps(m.path(), {"8250", "virtio_builtin", "mid"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(*r, ElementsAre("kernel/a/core-lib.ko", "kernel/b/mid.ko"));
}

TEST(ModuleDeps, BrokenModulesDepIsAnEnvironmentError) {
  FakeModules m;
  auto cycle = resolve_module_deps(m.path(), {"cyc1"});
  ASSERT_FALSE(cycle.ok());
  EXPECT_EQ(cycle.error().code, ExitCode::environment);
  EXPECT_THAT(cycle.error().message, HasSubstr("cycle cyc1 -> cyc2 -> cyc1"));
  auto orphan = resolve_module_deps(m.path(), {"orphan"});
  ASSERT_FALSE(orphan.ok());
  EXPECT_THAT(orphan.error().message, HasSubstr("kernel/f/gone.ko"));

  test::ScratchDir empty;
  auto missing = resolve_module_deps(empty.path(), {"x"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ExitCode::environment);
  EXPECT_THAT(missing.error().message, HasSubstr("modules.dep"));

  empty.write("modules.dep", "kernel/a.ko:\nno colon here\n");
  auto malformed = resolve_module_deps(empty.path(), {"a"});
  ASSERT_FALSE(malformed.ok());
  EXPECT_THAT(malformed.error().message, HasSubstr("modules.dep:2:"));
}

TEST(ModuleDeps, ModuleNameFromPath) {
  EXPECT_EQ(module_name("kernel/sound/pci/hda/snd-hda-intel.ko.xz"), "snd_hda_intel");
  EXPECT_EQ(module_name("kernel/fs/fuse/fuse.ko"), "fuse");
  EXPECT_EQ(module_name("extra/my-mod.ko.zst"), "my_mod");
}

// dm-bufio needs dm-mod, and both are modules on Debian 12's 6.1 and 6.12 (6.12's compressed
// with xz): the chain comes back dependency first, each file unpacked to plain ELF.
TEST(ModuleDeps, ResolvesDmBufioOnEveryInstalledKernel) {
  std::error_code ec;
  int kernels = 0;
  for (const auto& entry : fs::directory_iterator("/lib/modules", ec)) {
    fs::path dir = entry.path();
    if (!fs::exists(dir / "modules.dep", ec))
      continue;
    ++kernels;
    auto r = resolve_module_deps(dir, {"dm-bufio"});
    ASSERT_TRUE(r.ok()) << dir << ": " << r.error().message;
    ASSERT_EQ(r->size(), 2u) << dir;
    EXPECT_EQ(module_name((*r)[0]), "dm_mod") << dir;
    EXPECT_EQ(module_name((*r)[1]), "dm_bufio") << dir;
    for (const auto& rel : *r) {
      auto bytes = load_module_file(dir / rel);
      ASSERT_TRUE(bytes.ok()) << bytes.error().message;
      EXPECT_EQ(bytes->substr(0, 4), "\x7f"
                                     "ELF");
    }
  }
  EXPECT_GT(kernels, 0) << "no /lib/modules/*/modules.dep (scripts/setup.sh installs the kernels)";
}

std::string fake_module() {
  return std::string("\x7f"
                     "ELF\x02\x01\x01",
                     7) +
         std::string(5000, 'm');
}

TEST(ModuleDeps, LoadModuleFileDecompresses) {
  test::ScratchDir dir;
  std::string ko = fake_module();
  std::string xz(lzma_stream_buffer_bound(ko.size()), '\0');
  size_t xz_size = 0;
  ASSERT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, nullptr,
                                    reinterpret_cast<const uint8_t*>(ko.data()), ko.size(),
                                    reinterpret_cast<uint8_t*>(xz.data()), &xz_size, xz.size()),
            LZMA_OK);
  xz.resize(xz_size);
  std::string zst(ZSTD_compressBound(ko.size()), '\0');
  zst.resize(ZSTD_compress(zst.data(), zst.size(), ko.data(), ko.size(), 3));

  for (auto [name, bytes] :
       {std::pair{"m.ko", ko}, std::pair{"m.ko.xz", xz}, std::pair{"m.ko.zst", zst}}) {
    auto loaded = load_module_file(dir.write(name, bytes));
    ASSERT_TRUE(loaded.ok()) << name << ": " << loaded.error().message;
    EXPECT_TRUE(*loaded == ko) << name;
  }
}

TEST(ModuleDeps, LoadModuleFileRejectsNonModules) {
  test::ScratchDir dir;
  auto text = load_module_file(dir.write("notes.ko", "hello"));
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(text.error().message, HasSubstr("not a kernel module"));
  auto missing = load_module_file(dir.path() / "missing.ko");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("missing.ko"));
  auto cut = load_module_file(dir.write("cut.ko.xz", std::string("\xfd"
                                                                 "7zXZ\0\0\x01",
                                                                 8)));
  ASSERT_FALSE(cut.ok());
  EXPECT_THAT(cut.error().message, HasSubstr("cut.ko.xz: xz stream"));
}

} // namespace
} // namespace labctl
