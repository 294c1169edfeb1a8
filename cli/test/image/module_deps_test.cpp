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

// Every /lib/modules/<release> with a modules.dep (scripts/setup.sh installs 6.1 and 6.12).
std::vector<fs::path> installed_modules_dirs() {
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator("/lib/modules", ec))
    if (fs::exists(entry.path() / "modules.dep", ec))
      dirs.push_back(entry.path());
  return dirs;
}

// dm-bufio needs dm-mod, and both are modules on Debian 12's 6.1 and 6.12 (6.12's compressed
// with xz): the chain comes back dependency first, each file unpacked to plain ELF.
TEST(ModuleDeps, ResolvesDmBufioOnEveryInstalledKernel) {
  auto dirs = installed_modules_dirs();
  for (const auto& dir : dirs) {
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
  EXPECT_FALSE(dirs.empty()) << "no /lib/modules/*/modules.dep (scripts/setup.sh installs them)";
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

// A minimal ELF64 little-endian relocatable file: a null section, .shstrtab and the given
// sections (name, bytes), the section table at the end.
std::string make_elf(const std::vector<std::pair<std::string, std::string>>& sections) {
  std::string names("\0.shstrtab\0", 11);
  std::vector<uint32_t> name_at;
  for (const auto& [name, bytes] : sections) {
    name_at.push_back(static_cast<uint32_t>(names.size()));
    names += name;
    names += '\0';
  }
  std::string elf(64, '\0');
  elf.replace(0, 7,
              std::string("\x7f"
                          "ELF\x02\x01\x01",
                          7));
  auto put = [](std::string& out, size_t at, uint64_t value, size_t size) {
    for (size_t i = 0; i < size; ++i)
      out[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
  };
  std::vector<std::pair<uint64_t, uint64_t>> placed; // offset, size
  placed.emplace_back(elf.size(), names.size());
  elf += names;
  for (const auto& section : sections) {
    placed.emplace_back(elf.size(), section.second.size());
    elf += section.second;
  }
  uint64_t shoff = elf.size();
  size_t count = sections.size() + 2;
  std::string table(64 * count, '\0');
  put(table, 64 + 0, 1, 4); // .shstrtab's name
  put(table, 64 + 24, placed[0].first, 8);
  put(table, 64 + 32, placed[0].second, 8);
  for (size_t i = 0; i < sections.size(); ++i) {
    size_t at = 64 * (i + 2);
    put(table, at, name_at[i], 4);
    put(table, at + 24, placed[i + 1].first, 8);
    put(table, at + 32, placed[i + 1].second, 8);
  }
  elf += table;
  put(elf, 0x28, shoff, 8);
  put(elf, 0x3a, 64, 2);
  put(elf, 0x3c, count, 2);
  put(elf, 0x3e, 1, 2);
  return elf;
}

TEST(ModuleDependsOf, ReadsTheDependsOfModinfo) {
  std::string info("license=GPL\0\0\0depends=videodev,dm-mod\0vermagic=6.1.0 SMP\0", 54);
  auto deps = module_depends(make_elf({{".text", "code"}, {".modinfo", info}}), "x.ko");
  ASSERT_TRUE(deps.ok()) << deps.error().message;
  EXPECT_THAT(*deps, ElementsAre("videodev", "dm_mod"));

  auto none = module_depends(make_elf({{".modinfo", std::string("depends=\0name=x\0", 16)}}), "x");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_THAT(*none, IsEmpty());

  // Found by fuzz.module_depends: a name that is only a suffix is no name at all.
  auto suffix =
      module_depends(make_elf({{".modinfo", std::string("depends=a,.ko.xz\0", 17)}}), "x");
  ASSERT_TRUE(suffix.ok()) << suffix.error().message;
  EXPECT_THAT(*suffix, ElementsAre("a"));
}

TEST(ModuleDependsOf, ReadsTheSoftdepsOfModinfoPreAndPost) {
  std::string info("depends=dm-mod\0softdep=pre: crc32c aes post: mpls_gso\0name=x\0", 58);
  auto elf = make_elf({{".modinfo", info}});
  auto soft = module_softdeps(elf, "x.ko");
  ASSERT_TRUE(soft.ok()) << soft.error().message;
  EXPECT_THAT(*soft, ElementsAre("crc32c", "aes", "mpls_gso"));
  EXPECT_THAT(*module_depends(elf, "x.ko"), ElementsAre("dm_mod"));
  EXPECT_THAT(*module_softdeps(make_elf({{".modinfo", std::string("depends=\0", 9)}}), "x"),
              IsEmpty());
  EXPECT_FALSE(module_softdeps("not an elf", "x").ok());
}

TEST(ModuleDependsOf, WhatIsNotAModuleIsBadInputNamingTheFile) {
  for (const auto& [bytes, why] : std::vector<std::pair<std::string, std::string>>{
           {"hello", "not an ELF file"},
           {make_elf({{".text", "code"}}), "no .modinfo section"},
           {make_elf({{".modinfo", "depends=a"}}).substr(0, 200), "section table does not fit"},
       }) {
    auto r = module_depends(bytes, "/b/x.ko");
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_EQ(r.error().code, ExitCode::bad_input);
    EXPECT_THAT(r.error().message, HasSubstr("/b/x.ko: cannot read its .modinfo"));
    EXPECT_THAT(r.error().message, HasSubstr(why));
  }
  std::string elf32 = make_elf({{".modinfo", "depends=a"}});
  elf32[4] = 1;
  EXPECT_THAT(module_depends(elf32, "x").error().message, HasSubstr("64-bit little-endian"));
  // A section whose bytes lie past the end of the file.
  std::string past = make_elf({{".modinfo", "depends=a"}});
  uint64_t shoff = 0;
  for (int i = 0; i < 8; ++i)
    shoff |= uint64_t{static_cast<unsigned char>(past[0x28 + i])} << (8 * i);
  past[shoff + 64 * 2 + 32 + 3] = 0x7f; // .modinfo's size, high byte of its low word
  EXPECT_THAT(module_depends(past, "x").error().message,
              HasSubstr(".modinfo section does not fit"));
}

// videodev is a module on Debian 12's 6.1 and 6.12 (xz-compressed there), and its .modinfo
// says it needs mc.
TEST(ModuleDependsOf, VideodevOfEveryInstalledKernelDependsOnMc) {
  auto dirs = installed_modules_dirs();
  for (const auto& dir : dirs) {
    auto files = resolve_module_deps(dir, {"videodev"});
    ASSERT_TRUE(files.ok()) << dir << ": " << files.error().message;
    auto elf = load_module_file(dir / files->back());
    ASSERT_TRUE(elf.ok()) << elf.error().message;
    auto deps = module_depends(*elf, files->back());
    ASSERT_TRUE(deps.ok()) << deps.error().message;
    EXPECT_THAT(*deps, ElementsAre("mc")) << dir;
  }
  EXPECT_FALSE(dirs.empty()) << "no /lib/modules/*/modules.dep (scripts/setup.sh installs them)";
}

ModuleDepends built(std::string name, std::vector<std::string> depends, bool load = true) {
  return {name, "/b/" + name + ".ko", "/src/" + name, load, std::move(depends)};
}

TEST(ModuleDependencyOrder, EachAfterTheBuiltModulesItDependsOnOtherwiseAsGiven) {
  auto order = dependency_order({built("amid", {"zbase"}), built("other", {"videodev"}),
                                 built("top", {"amid", "zbase"}), built("zbase", {})});
  ASSERT_TRUE(order.ok()) << order.error().message;
  EXPECT_THAT(*order, ElementsAre(3, 0, 1, 2));
  auto kept = dependency_order({built("a", {}), built("b", {"a"}), built("c", {})});
  ASSERT_TRUE(kept.ok());
  EXPECT_THAT(*kept, ElementsAre(0, 1, 2));
}

TEST(ModuleDependencyOrder, ACycleIsBadInputNamingIt) {
  auto order = dependency_order({built("a", {"b"}), built("b", {"c"}), built("c", {"a"})});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.error().code, ExitCode::bad_input);
  EXPECT_THAT(order.error().message, HasSubstr("a -> b -> c -> a"));
}

std::vector<std::string> paths_of(const std::vector<KernelModuleFile>& files, bool boot) {
  std::vector<std::string> out;
  for (const auto& f : files)
    if (f.boot == boot)
      out.push_back(f.path);
  return out;
}

TEST(KernelModulesFor, TheKernelsModulesTheBuiltOnesNeedMergedWithTheProfilesOnce) {
  FakeModules m;
  auto index = KernelModuleIndex::load(m.path());
  ASSERT_TRUE(index.ok()) << index.error().message;
  // amid's zbase is a scenario module; top-mod is the kernel's (with '-' as modpost may
  // spell it), and 8250 is built in.
  auto files = kernel_modules_for(
      *index, {"mid"},
      {built("zbase", {}), built("amid", {"zbase", "top_mod", "8250"}), built("x", {"core_lib"})},
      "6.1.0-test");
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_THAT(paths_of(*files, true),
              ElementsAre("kernel/a/core-lib.ko", "kernel/b/mid.ko", "kernel/c/top_mod.ko"));
  EXPECT_THAT(paths_of(*files, false), IsEmpty());
}

TEST(KernelModulesFor, WhatOnlyShippedModulesNeedIsShippedNotLoaded) {
  FakeModules m;
  auto index = KernelModuleIndex::load(m.path());
  ASSERT_TRUE(index.ok()) << index.error().message;
  auto files =
      kernel_modules_for(*index, {}, {built("a", {"mid"}), built("b", {"other"}, false)}, "V");
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_THAT(paths_of(*files, true), ElementsAre("kernel/a/core-lib.ko", "kernel/b/mid.ko"));
  EXPECT_THAT(paths_of(*files, false), ElementsAre("kernel/d/other.ko.xz"));
  auto none = kernel_modules_for(*index, {}, {built("a", {}), built("b", {"a"})}, "V");
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

TEST(KernelModulesFor, AProviderTheKernelLacksIsBadInputNamingTheKoItsFolderAndTheName) {
  FakeModules m;
  auto index = KernelModuleIndex::load(m.path());
  ASSERT_TRUE(index.ok()) << index.error().message;
  auto files = kernel_modules_for(*index, {}, {built("a", {"mid"}), built("vdrv", {"videodev"})},
                                  "6.1.0-test");
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.error().code, ExitCode::bad_input);
  EXPECT_EQ(files.error().message,
            "module vdrv.ko (folder /src/vdrv) depends on 'videodev' (its .modinfo depends), "
            "which kernel 6.1.0-test has neither as a module (" +
                (m.path() / "modules.dep").string() +
                ") nor built in; add the folder that builds 'videodev' to the scenario's "
                "modules, or boot a kernel that has it");
  EXPECT_EQ(index->find("videodev"), KernelModuleIndex::Provider::none);
  EXPECT_EQ(index->find("virtio-builtin"), KernelModuleIndex::Provider::builtin);
  EXPECT_EQ(index->find("top-mod.ko"), KernelModuleIndex::Provider::file);
}

// A kernel whose libcrc32c has modprobe's soft dependency on the alias crc32c, which two
// modules provide, as Debian's 6.1 and 6.12 do.
struct SoftdepModules : test::ScratchDir {
  SoftdepModules() {
    write("modules.dep", "kernel/lib/libcrc32c.ko:\n"
                         "kernel/crypto/crc32c_generic.ko:\n"
                         "kernel/arch/crc32c-intel.ko:\n"
                         "kernel/md/dm-mod.ko:\n"
                         "kernel/md/dm-wb.ko: kernel/lib/libcrc32c.ko kernel/md/dm-mod.ko\n"
                         "kernel/net/ipmi_msghandler.ko:\n"
                         "kernel/net/ipmi_devintf.ko: kernel/net/ipmi_msghandler.ko\n"
                         "kernel/x/loop_a.ko:\n"
                         "kernel/x/loop_b.ko: kernel/x/loop_a.ko\n");
    write("modules.softdep", "# Soft dependencies extracted from modules themselves.\n"
                             "softdep libcrc32c pre: crc32c\n"
                             "softdep ipmi_msghandler post: ipmi_devintf\n"
                             "softdep loop_a pre: loop_b\n"
                             "softdep dm_mod pre: builtin-thing no-such-alias\n");
    write("modules.alias", "alias crypto-crc32c crc32c_generic\n"
                           "alias crc32c crc32c_intel\n"
                           "alias crc3* crc32c_generic\n"
                           "alias pci:v00008086d* e1000\n");
    write("modules.builtin", "kernel/x/builtin-thing.ko\n");
  }
};

TEST(KernelModuleSoftdeps, AnAliasBringsEveryModuleItNamesBeforeItsUser) {
  SoftdepModules m;
  auto index = KernelModuleIndex::load(m.path());
  ASSERT_TRUE(index.ok()) << index.error().message;
  EXPECT_THAT(index->soft_dependency_files("crc32c"),
              ElementsAre("kernel/arch/crc32c-intel.ko", "kernel/crypto/crc32c_generic.ko"));
  EXPECT_THAT(index->soft_dependency_files("dm-mod"), ElementsAre("kernel/md/dm-mod.ko"));
  EXPECT_THAT(index->soft_dependency_files("builtin-thing"), IsEmpty());
  EXPECT_THAT(index->soft_dependency_files("no-such-alias"), IsEmpty());
  auto soft = index->resolve_with_softdeps({"dm-wb"});
  ASSERT_TRUE(soft.ok()) << soft.error().message;
  EXPECT_THAT(*soft, ElementsAre("kernel/md/dm-mod.ko", "kernel/arch/crc32c-intel.ko",
                                 "kernel/crypto/crc32c_generic.ko", "kernel/lib/libcrc32c.ko",
                                 "kernel/md/dm-wb.ko"));
  // resolve() stays modules.dep alone.
  EXPECT_THAT(*index->resolve({"dm-wb"}),
              ElementsAre("kernel/md/dm-mod.ko", "kernel/lib/libcrc32c.ko", "kernel/md/dm-wb.ko"));
}

TEST(KernelModuleSoftdeps, PostComesAfterAndACycleThroughASoftdepIsLeftOut) {
  SoftdepModules m;
  auto index = KernelModuleIndex::load(m.path());
  ASSERT_TRUE(index.ok()) << index.error().message;
  EXPECT_THAT(*index->resolve_with_softdeps({"ipmi_msghandler"}),
              ElementsAre("kernel/net/ipmi_msghandler.ko", "kernel/net/ipmi_devintf.ko"));
  // loop_a wants loop_b first, which needs loop_a: modprobe can only load loop_a, then loop_b.
  auto loop = index->resolve_with_softdeps({"loop_a"});
  ASSERT_TRUE(loop.ok()) << loop.error().message;
  EXPECT_THAT(*loop, ElementsAre("kernel/x/loop_a.ko"));
}

TEST(KernelModuleSoftdeps, NoSoftdepFileMeansNone) {
  FakeModules m;
  auto index = KernelModuleIndex::load(m.path());
  ASSERT_TRUE(index.ok()) << index.error().message;
  EXPECT_EQ(*index->resolve_with_softdeps({"top_mod"}), *index->resolve({"top_mod"}));
}

TEST(KernelModulesFor, SoftDependenciesLoadAtBootAsOptional) {
  SoftdepModules m;
  auto index = KernelModuleIndex::load(m.path());
  ASSERT_TRUE(index.ok()) << index.error().message;
  ModuleDepends wants = built("drv", {});
  wants.softdeps = {"ipmi_msghandler"};
  auto files =
      kernel_modules_for(*index, {}, {built("writeboost", {"libcrc32c", "dm_mod"}), wants}, "V");
  ASSERT_TRUE(files.ok()) << files.error().message;
  std::vector<std::string> required, optional;
  for (const auto& f : *files) {
    EXPECT_TRUE(f.boot) << f.path;
    (f.optional ? optional : required).push_back(f.path);
  }
  EXPECT_THAT(required, ElementsAre("kernel/lib/libcrc32c.ko", "kernel/md/dm-mod.ko"));
  EXPECT_THAT(optional,
              ElementsAre("kernel/arch/crc32c-intel.ko", "kernel/crypto/crc32c_generic.ko",
                          "kernel/net/ipmi_msghandler.ko", "kernel/net/ipmi_devintf.ko"));
  // Each soft dependency loads before the module that wants it.
  auto at = [&](std::string_view path) {
    return std::find_if(files->begin(), files->end(),
                        [&](const KernelModuleFile& f) { return f.path == path; }) -
           files->begin();
  };
  EXPECT_LT(at("kernel/crypto/crc32c_generic.ko"), at("kernel/lib/libcrc32c.ko"));
}

// Debian 12's kernels: libcrc32c wants crc32c first, which both crc32c_generic and crc32c_intel
// provide (what dm-writeboost needs, and a TCG CPU without SSE 4.2 cannot load crc32c_intel).
TEST(KernelModuleSoftdeps, LibCrc32cOfEveryInstalledKernelBringsCrc32cGeneric) {
  auto dirs = installed_modules_dirs();
  for (const auto& dir : dirs) {
    auto index = KernelModuleIndex::load(dir);
    ASSERT_TRUE(index.ok()) << index.error().message;
    auto files = index->resolve_with_softdeps({"libcrc32c"});
    ASSERT_TRUE(files.ok()) << dir << ": " << files.error().message;
    std::vector<std::string> names;
    for (const auto& f : *files)
      names.push_back(module_name(f));
    EXPECT_THAT(names, ::testing::Contains("crc32c_generic")) << dir;
    EXPECT_EQ(names.back(), "libcrc32c") << dir;
  }
  EXPECT_FALSE(dirs.empty());
}

} // namespace
} // namespace labctl
