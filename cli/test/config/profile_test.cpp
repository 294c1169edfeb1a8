#include "config/profile.h"

#include "config/data_dir.h"
#include "image/guest_image.h"
#include "test_support.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace labctl {
namespace {

TEST(Profile, ShippedDefaultLoads) {
  auto p = load_profile(configs_dir() / "default.json");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->kernel_auto);
  EXPECT_EQ(p->accel, "auto");
  EXPECT_EQ(p->memory, "256M");
  EXPECT_EQ(p->machine, "pc");
}

// The debug profile is the default one plus SLUB debugging (docs/profile.md).
TEST(Profile, ShippedDebugIsTheDefaultWithSlubDebugging) {
  auto debug = load_profile(configs_dir() / "debug.json");
  ASSERT_TRUE(debug.ok()) << debug.error().message;
  auto plain = load_profile(configs_dir() / "default.json");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(debug->cmdline, plain->cmdline + " slub_debug=FZPU");
  EXPECT_EQ(debug->kernel_auto, plain->kernel_auto);
  EXPECT_EQ(debug->memory, plain->memory);
  EXPECT_EQ(debug->accel, plain->accel);
  EXPECT_EQ(debug->boot_timeout, plain->boot_timeout);
}

TEST(Profile, ExplicitKernelPathsAreRelativeToTheFile) {
  test::ScratchDir dir;
  auto file =
      dir.write("p.json", R"({"kernel": {"image": "k/bzImage", "build": "/kb"}, "accel": "tcg"})");
  auto p = load_profile(file);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_FALSE(p->kernel_auto);
  EXPECT_EQ(p->kernel_image, dir.path() / "k/bzImage");
  EXPECT_EQ(p->kernel_build, "/kb");
  EXPECT_EQ(p->accel, "tcg");
}

TEST(Profile, UnknownKeyNamesFileLineAndKey) {
  test::ScratchDir dir;
  auto file = dir.write("bad.json", "{\n  \"kernel\": \"auto\",\n  \"memroy\": \"1G\"\n}\n");
  auto p = load_profile(file);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ExitCode::bad_input);
  EXPECT_NE(p.error().message.find(file.string() + ":3:"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("'memroy'"), std::string::npos) << p.error().message;
}

TEST(Profile, MissingFileIsBadInputSayingSoAndAnUnreadableOneNamesWhy) {
  test::ScratchDir dir;
  auto missing = load_profile(dir.path() / "nope.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ExitCode::bad_input);
  EXPECT_EQ(missing.error().message,
            "profile " + (dir.path() / "nope.json").string() + ": file not found");
  auto folder = load_profile(dir.path());
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.error().code, ExitCode::bad_input);
  EXPECT_NE(folder.error().message.find(dir.path().string()), std::string::npos)
      << folder.error().message;
  EXPECT_EQ(folder.error().message.find("file not found"), std::string::npos)
      << folder.error().message;
}

TEST(Profile, Lz4CompressionIsBadInputAtLoad) {
  // libarchive writes only the LZ4 frame format and the kernel unpacks only legacy LZ4, so
  // "lz4" is not a choice (it used to be accepted and fail later, at packing).
  test::ScratchDir dir;
  auto file = dir.write("p.json", "{\n  \"initrd_compression\": \"lz4\"\n}\n");
  auto p = load_profile(file);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ExitCode::bad_input);
  EXPECT_NE(p.error().message.find(file.string() + ":2:"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("initrd_compression"), std::string::npos) << p.error().message;
}

TEST(Profile, QemuArgsThatListenAreBadInputNamingFileLineAndKey) {
  test::ScratchDir dir;
  auto file = dir.write("bad.json", "{\n  \"memory\": \"256M\",\n  \"qemu_args\": [\"-gdb\", "
                                    "\"tcp::1234\"]\n}\n");
  auto p = load_profile(file);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ExitCode::bad_input);
  EXPECT_NE(p.error().message.find(file.string() + ":3: key 'qemu_args': \"-gdb\""),
            std::string::npos)
      << p.error().message;
  auto fine =
      load_profile(dir.write("ok.json", "{\"qemu_args\": [\"-device\", \"virtio-rng-pci\"]}"));
  ASSERT_TRUE(fine.ok()) << fine.error().message;
  EXPECT_EQ(fine->qemu_args.size(), 2u);
}

TEST(Profile, WrongTypeNamesKey) {
  test::ScratchDir dir;
  auto file = dir.write("bad.json", "{\n\n  \"cpus\": \"two\"\n}\n");
  auto p = load_profile(file);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ExitCode::bad_input);
  EXPECT_NE(p.error().message.find(":3: key 'cpus': expected an integer, got string"),
            std::string::npos)
      << p.error().message;
}

TEST(Profile, BadChoiceListsTheAllowedValues) {
  test::ScratchDir dir;
  auto file = dir.write("bad.json", R"({"accel": "hvf"})");
  auto p = load_profile(file);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("'hvf' is not one of: auto, kvm, tcg"), std::string::npos);
}

TEST(Profile, MalformedJsonGivesLineAndColumn) {
  test::ScratchDir dir;
  auto file = dir.write("bad.json", "{\n  \"accel\": \"tcg\",\n  }\n");
  auto p = load_profile(file);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ExitCode::bad_input);
  EXPECT_NE(p.error().message.find(file.string() + ":3:"), std::string::npos) << p.error().message;
}

TEST(Profile, MissingFileIsBadInput) {
  auto p = load_profile("/nonexistent/profile.json");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ExitCode::bad_input);
  EXPECT_NE(p.error().message.find("/nonexistent/profile.json"), std::string::npos);
}

TEST(Profile, ExplicitKernelThatDoesNotExistIsEnvironmentError) {
  test::ScratchDir dir;
  auto file = dir.write("p.json", R"({"kernel": {"image": "/nope/bzImage", "build": "/nope"}})");
  auto p = load_profile(file);
  ASSERT_TRUE(p.ok());
  auto k = resolve_kernel(*p);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().code, ExitCode::environment);
  EXPECT_NE(k.error().message.find("/nope/bzImage"), std::string::npos);
}

TEST(Profile, KernelsIsAllOrAListOfReleases) {
  auto all = parse_profile(R"({"kernels": "all"})", "p.json");
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(all->kernels, std::vector<std::string>{"all"});
  auto list = parse_profile(R"({"kernels": ["6.1.0-57-amd64", "auto"]})", "p.json");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->kernels, (std::vector<std::string>{"6.1.0-57-amd64", "auto"}));
  for (auto bad :
       {R"({"kernels": []})", R"({"kernels": "6.1.0-57-amd64"})", R"({"kernels": ["all", "6.1"]})",
        R"({"kernels": [""]})", R"({"kernel": "auto", "kernels": "all"})"}) {
    auto p = parse_profile(bad, "p.json");
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.error().code, ExitCode::bad_input);
    EXPECT_NE(p.error().message.find("p.json:1: key 'kernels'"), std::string::npos)
        << p.error().message;
  }
}

TEST(Profile, KernelsResolveInOrderAllOldestFirst) {
  test::ScratchDir host;
  for (auto v : {"6.12.118+deb12-amd64", "6.1.0-57-amd64"}) {
    host.write(std::string("boot/vmlinuz-") + v, "bzImage");
    host.mkdir(std::string("lib/modules/") + v + "/build");
  }
  KernelRoots roots{host.path() / "boot", host.path() / "lib/modules"};
  auto releases = [&](const std::string& json) {
    std::vector<std::string> out;
    auto p = parse_profile(json, "p.json");
    EXPECT_TRUE(p.ok()) << p.error().message;
    auto kernels = resolve_kernels(*p, roots);
    EXPECT_TRUE(kernels.ok()) << kernels.error().message;
    if (kernels)
      for (const auto& k : *kernels)
        out.push_back(k.version);
    return out;
  };
  EXPECT_EQ(releases(R"({"kernels": "all"})"),
            (std::vector<std::string>{"6.1.0-57-amd64", "6.12.118+deb12-amd64"}));
  EXPECT_EQ(releases(R"({"kernels": ["6.12.118+deb12-amd64", "6.1.0-57-amd64", "auto"]})"),
            (std::vector<std::string>{"6.12.118+deb12-amd64", "6.1.0-57-amd64"}));
  EXPECT_EQ(releases("{}"), std::vector<std::string>{"6.12.118+deb12-amd64"});
  auto missing = parse_profile(R"({"kernels": ["6.1.0-57-amd64", "9.9.9"]})", "p.json");
  ASSERT_TRUE(missing.ok());
  auto k = resolve_kernels(*missing, roots);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().code, ExitCode::environment);
  EXPECT_NE(k.error().message.find("linux-image-9.9.9"), std::string::npos);
  // A command that boots one kernel says so when given several.
  auto several = parse_profile(R"({"kernels": "all"})", "p.json");
  ASSERT_TRUE(several.ok());
  auto one = resolve_kernel(*several, roots);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().code, ExitCode::bad_input);
}

TEST(Profile, NamesResolveInTheFirstFolderThatHasThem) {
  TempDir tmp;
  std::vector<ProfileDir> dirs = {{tmp.path() / "project", "project"},
                                  {tmp.path() / "user", "user"},
                                  {tmp.path() / "installed", "installed"}};
  for (const auto& d : dirs)
    fs::create_directories(d.dir);
  ASSERT_TRUE(write_file_atomic(tmp.path() / "installed/default.json", "{}").ok());
  ASSERT_TRUE(write_file_atomic(tmp.path() / "installed/fast.json", "{}").ok());
  ASSERT_TRUE(write_file_atomic(tmp.path() / "user/fast.json", "{}").ok());
  ASSERT_TRUE(write_file_atomic(tmp.path() / "project/mine.json", "{}").ok());

  auto found = find_profile("default", dirs);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->file, tmp.path() / "installed/default.json");
  EXPECT_EQ(found->origin, "installed");
  EXPECT_EQ(find_profile("fast", dirs)->origin, "user");
  EXPECT_EQ(find_profile("mine", dirs)->origin, "project");
  // A path is taken as it is, found or not.
  EXPECT_EQ(find_profile("./mine.json", dirs)->file, "./mine.json");
  EXPECT_EQ(find_profile("x/y", dirs)->origin, "file");

  auto missing = find_profile("nope", dirs);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ExitCode::bad_input);
  EXPECT_NE(missing.error().message.find((tmp.path() / "user/nope.json").string()),
            std::string::npos);

  auto names = list_profiles(dirs);
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0].file, tmp.path() / "installed/default.json");
  EXPECT_EQ(names[1].file, tmp.path() / "user/fast.json");
  EXPECT_EQ(names[2].origin, "project");
}

TEST(Profile, MemorySizeOfAnyLengthIsCheckedWithoutRecursion) {
  // std::regex used to overflow the stack on a long string of digits.
  for (std::string memory : {std::string(1000000, '1'), std::string("12X"), std::string("")}) {
    auto p = parse_profile(R"({"memory": ")" + memory + R"("})", "p.json");
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().message.find("is not a size like 256M"), std::string::npos);
  }
  for (const char* memory : {"256M", "1G", "4096", "512K"})
    EXPECT_TRUE(parse_profile(fmt::format(R"({{"memory": "{}"}})", memory), "p.json").ok())
        << memory;
}

TEST(Profile, MemorySizeInBytesReadsLikeQemusDashM) {
  EXPECT_EQ(memory_size_bytes("256M"), 256ull << 20);
  EXPECT_EQ(memory_size_bytes("256"), 256ull << 20);
  EXPECT_EQ(memory_size_bytes("1G"), 1ull << 30);
  EXPECT_EQ(memory_size_bytes("512K"), 512ull << 10);
  EXPECT_EQ(memory_size_bytes("lots"), 0u);
  EXPECT_EQ(memory_size_bytes("999999999999G"), UINT64_MAX);
}

TEST(Profile, KeyGivenTwiceIsBadInputNamingTheSecond) {
  auto p = parse_profile("{\n  \"memory\": \"1G\",\n  \"cpus\": 2,\n  \"memory\": \"256M\"\n}",
                         "p.json");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ExitCode::bad_input);
  EXPECT_EQ(p.error().message,
            "p.json:4: key 'memory' given twice (first on line 2); JSON would keep only the last "
            "value");
  auto nested = parse_profile(
      "{\"kernel\": {\"image\": \"a\",\n \"image\": \"b\", \"build\": \"c\"}}", "k.json");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error().message.find("k.json:2: key 'image' given twice"), std::string::npos)
      << nested.error().message;
}

} // namespace
} // namespace labctl
