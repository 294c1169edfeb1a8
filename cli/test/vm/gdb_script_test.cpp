#include "vm/gdb_script.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

// What the agent's SECTIONS verb prints: guest_agent_test.cpp runs it.
TEST(GdbScript, ParsesGrepOutputPerModuleAndSkipsNoise) {
  auto sections = parse_module_sections("debugcon/sections/.text:0xffffffffc0201000\n"
                                        "debugcon/sections/.data:0xffffffffc0204000\n"
                                        "debugcon/sections/.rodata.str1.1:0xffffffffc0202088\n"
                                        "grep: debugcon/sections/.x: Permission denied\n"
                                        "other/sections/.bss:0x0000000000000000\n"
                                        "other/sections/.text:not-an-address\n"
                                        "\n");
  ASSERT_EQ(sections.size(), 2u);
  ASSERT_EQ(sections["debugcon"].size(), 3u);
  EXPECT_EQ(sections["debugcon"][0],
            (std::pair<std::string, std::string>{".text", "0xffffffffc0201000"}));
  EXPECT_EQ(sections["debugcon"][2].first, ".rodata.str1.1");
  ASSERT_EQ(sections["other"].size(), 1u);
  EXPECT_EQ(sections["other"][0].first, ".bss");
}

TEST(GdbScript, TextIsTheAddressOtherSectionsAreDashS) {
  LoadedModule m{"debugcon",
                 "/cache/m/src/debugcon.ko",
                 {{".bss", "0xffffffffc0204440"},
                  {".text", "0xffffffffc0201000"},
                  {".init.text", "0xffffffffc0206000"},
                  {".symtab", "0xffffffffc0209000"},
                  {".strtab", "0xffffffffc0209750"}}};
  EXPECT_EQ(gdb_script("/tmp/labctl-vm.Ab12Cd/gdb.sock", {m}),
            "# Written by labctl: the guest's GDB stub and its modules at their load addresses.\n"
            "target remote /tmp/labctl-vm.Ab12Cd/gdb.sock\n"
            "add-symbol-file /cache/m/src/debugcon.ko 0xffffffffc0201000 -s .bss "
            "0xffffffffc0204440 -s .init.text 0xffffffffc0206000\n"
            "directory /cache/m/src\n");
}

TEST(GdbScript, PathsWithSpacesAreQuotedForGdb) {
  LoadedModule m{"a", "/my dir/a.ko", {{".text", "0x1000"}}};
  EXPECT_NE(gdb_script("/tmp/x/gdb.sock", {m}).find("add-symbol-file \"/my dir/a.ko\" 0x1000\n"),
            std::string::npos);
}

TEST(GdbScript, KernelNamesModulesWithUnderscores) {
  EXPECT_EQ(kernel_module_name("qemu-exercise"), "qemu_exercise");
  EXPECT_EQ(kernel_module_name("debugcon"), "debugcon");
}

} // namespace
} // namespace labctl
