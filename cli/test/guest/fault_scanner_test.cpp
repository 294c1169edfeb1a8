#include "guest/fault_scanner.h"

#include "test_support.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace labctl {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos)
      nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

// A recorded serial console (CRLF line ends, as QEMU wrote them).
std::vector<std::string> console_log(const std::string& name) {
  auto text = read_file(test::test_data("console/" + name));
  EXPECT_TRUE(text.ok()) << name;
  return text.ok() ? lines_of(*text) : std::vector<std::string>{};
}

std::vector<KernelFault> scan(const std::vector<std::string>& lines) {
  FaultScanner scanner;
  std::vector<KernelFault> faults;
  for (const auto& line : lines) {
    scanner.feed_line(line);
    for (auto& fault : scanner.take_faults())
      faults.push_back(std::move(fault));
  }
  scanner.flush();
  for (auto& fault : scanner.take_faults())
    faults.push_back(std::move(fault));
  return faults;
}

// The console's kernel lines as /dev/kmsg records ("4,seq,usec,-;text"); lines that user
// space printed (no timestamp) are not in the kernel log and are dropped.
std::vector<std::string> as_kmsg(const std::vector<std::string>& console) {
  std::vector<std::string> records;
  int seq = 0;
  for (std::string line : console) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    size_t close = line.find("] ");
    if (line.rfind("[", 0) != 0 || close == std::string::npos)
      continue;
    ++seq;
    records.push_back(fmt::format("4,{},{},-;{}", seq, seq * 1000, line.substr(close + 2)));
    if (seq % 7 == 0)
      records.push_back(" SUBSYSTEM=platform"); // a dictionary line: no message
  }
  return records;
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}
std::string last_line(const std::string& text) {
  std::string t = text;
  if (!t.empty() && t.back() == '\n')
    t.pop_back();
  return t.substr(t.rfind('\n') + 1);
}

// Recorded logs of the Debian 6.1 kernel under QEMU (tests/data/console/README.md).

TEST(FaultScannerRecorded, CleanBootHasNoFault) {
  auto faults = scan(console_log("clean_boot.log"));
  EXPECT_TRUE(faults.empty()) << faults.front().title;
}

TEST(FaultScannerRecorded, PrintkFloodHasNoFault) {
  auto faults = scan(console_log("printk_flood.log"));
  EXPECT_TRUE(faults.empty()) << faults.front().title;
}

TEST(FaultScannerRecorded, NullPointerOops) {
  auto faults = scan(console_log("oops.log"));
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "oops");
  EXPECT_EQ(faults[0].title, "BUG: kernel NULL pointer dereference, address: 0000000000000000");
  EXPECT_EQ(first_line(faults[0].report), faults[0].title);
  EXPECT_NE(faults[0].report.find("Oops: 0002 [#1] PREEMPT SMP NOPTI"), std::string::npos);
  EXPECT_NE(faults[0].report.find("RIP: 0010:labctl_fault_write.cold+0x40/0x14a [labctl_fault]"),
            std::string::npos);
  EXPECT_NE(faults[0].report.find("Call Trace:"), std::string::npos);
  EXPECT_EQ(last_line(faults[0].report), "---[ end trace 0000000000000000 ]---");
  EXPECT_EQ(faults[0].report.find('\r'), std::string::npos);
  EXPECT_EQ(faults[0].report.find("[    3."), std::string::npos) << "timestamps are stripped";
}

TEST(FaultScannerRecorded, Warning) {
  auto faults = scan(console_log("warning.log"));
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "warning");
  EXPECT_EQ(faults[0].title, "WARNING: CPU: 0 PID: 84 at /tmp/kt/labctl_fault/labctl_fault.c:86 "
                             "labctl_fault_write.cold+0x6f/0x14a [labctl_fault]");
  EXPECT_EQ(first_line(faults[0].report), "------------[ cut here ]------------");
  EXPECT_NE(faults[0].report.find("labctl_fault: deliberate warning"), std::string::npos);
  EXPECT_EQ(last_line(faults[0].report), "---[ end trace 0000000000000000 ]---");
}

TEST(FaultScannerRecorded, KernelBugAt) {
  auto faults = scan(console_log("bug.log"));
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "bug");
  EXPECT_EQ(faults[0].title, "kernel BUG at /tmp/kt/labctl_fault/labctl_fault.c:88!");
  EXPECT_EQ(first_line(faults[0].report), "------------[ cut here ]------------");
  EXPECT_NE(faults[0].report.find("invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"),
            std::string::npos);
  EXPECT_EQ(last_line(faults[0].report), "---[ end trace 0000000000000000 ]---");
}

TEST(FaultScannerRecorded, PanicWithoutEndLineIsClosedByFlush) {
  auto faults = scan(console_log("panic.log"));
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "panic");
  EXPECT_EQ(faults[0].title, "Kernel panic - not syncing: sysrq triggered crash");
  EXPECT_NE(faults[0].report.find("sysrq_handle_crash"), std::string::npos);
  EXPECT_EQ(last_line(faults[0].report).rfind("Kernel Offset:", 0), 0u);
}

TEST(FaultScannerRecorded, RcuStallThenSoftLockup) {
  auto faults = scan(console_log("soft_lockup.log"));
  ASSERT_EQ(faults.size(), 2u);
  EXPECT_EQ(faults[0].kind, "rcu_stall");
  EXPECT_EQ(faults[0].title, "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:");
  // The stall report goes on past the kthread's stack to the CPU that stalls it.
  EXPECT_NE(faults[0].report.find("rcu: Stack dump where RCU GP kthread last ran:"),
            std::string::npos);
  EXPECT_NE(faults[0].report.find("labctl_fault_write.cold+0x123/0x14a [labctl_fault]"),
            std::string::npos);
  EXPECT_EQ(last_line(faults[0].report), " </TASK>");
  EXPECT_EQ(faults[1].kind, "soft_lockup");
  EXPECT_EQ(faults[1].title, "watchdog: BUG: soft lockup - CPU#0 stuck for 45s! [sh:84]");
  EXPECT_NE(faults[1].report.find("labctl_fault_write.cold"), std::string::npos);
  EXPECT_EQ(last_line(faults[1].report), " </TASK>");
  EXPECT_EQ(faults[1].report.find("lockup over"), std::string::npos);
}

std::string titles(const std::vector<KernelFault>& faults) {
  std::string out;
  for (const auto& f : faults)
    out += f.kind + ": " + f.title + "\n";
  return out;
}

// SLUB debugging (slub_debug=FZPU) on both Debian kernels: one slub report per bug, with
// its rules, tracking lines and FIX lines; the WARNING 6.12 prints inside the report is
// part of it, not a fault of its own.
TEST(FaultScannerRecorded, SlubReportsOf61) {
  auto faults = scan(console_log("slub_debug_6.1.log"));
  ASSERT_EQ(faults.size(), 4u) << titles(faults);
  for (const auto& f : faults)
    EXPECT_EQ(f.kind, "slub") << f.title;
  EXPECT_EQ(faults[0].title, "BUG kmalloc-8 (Tainted: G           OE     ): Right Redzone "
                             "overwritten");
  EXPECT_EQ(faults[1].title, "BUG labctl_slab_uaf (Tainted: G    B      OE     ): Poison "
                             "overwritten");
  EXPECT_EQ(faults[2].title, "BUG kmalloc-8 (Tainted: G    B      OE     ): Object already "
                             "free");
  EXPECT_NE(faults[3].title.find("Wrong object count"), std::string::npos);
  EXPECT_EQ(faults[0].report.substr(0, 10), "==========");
  EXPECT_NE(faults[0].report.find("Allocated in labctl_slab_overrun+"), std::string::npos);
  EXPECT_NE(faults[0].report.find("FIX kmalloc-8: Restoring Right Redzone"), std::string::npos);
  EXPECT_NE(faults[1].report.find("Freed in labctl_slab_uaf+"), std::string::npos);
}

TEST(FaultScannerRecorded, SlubReportsOf612) {
  auto faults = scan(console_log("slub_debug_6.12.log"));
  ASSERT_EQ(faults.size(), 3u) << titles(faults);
  for (const auto& f : faults)
    EXPECT_EQ(f.kind, "slub") << f.title;
  EXPECT_EQ(faults[0].title, "BUG kmalloc-8 (Tainted: G           OE     ): Object corrupt "
                             "[Right Redzone overwritten]");
  EXPECT_EQ(faults[1].title, "BUG labctl_slab_uaf (Tainted: G    B   W  OE     ): Object "
                             "corrupt [Poison overwritten]");
  EXPECT_EQ(faults[2].title, "BUG kmalloc-8 (Tainted: G    B   W  OE     ): Object already "
                             "free");
  const std::string& first = faults[0].report;
  EXPECT_EQ(first.substr(0, 27), "[Right Redzone overwritten]");
  EXPECT_NE(first.find("WARNING: CPU: 0 PID: 134 at mm/slub.c:1127"), std::string::npos);
  EXPECT_NE(first.find("---[ end trace"), std::string::npos);
  EXPECT_NE(first.find("FIX kmalloc-8: Object at"), std::string::npos);
  EXPECT_EQ(first.find("labctl_slab: command"), std::string::npos) << first;
}

TEST(FaultScannerRecorded, KmsgRecordsGiveTheSameFaults) {
  for (const char* name : {"oops.log", "warning.log", "bug.log", "panic.log", "soft_lockup.log",
                           "clean_boot.log", "printk_flood.log"}) {
    auto console = scan(console_log(name));
    auto kmsg = scan(as_kmsg(console_log(name)));
    ASSERT_EQ(kmsg.size(), console.size()) << name;
    for (size_t i = 0; i < kmsg.size(); ++i) {
      EXPECT_EQ(kmsg[i].kind, console[i].kind) << name;
      EXPECT_EQ(kmsg[i].title, console[i].title) << name;
      EXPECT_EQ(kmsg[i].report, console[i].report) << name;
    }
  }
}

TEST(FaultScannerRecorded, FaultsComeOutWhenTheReportEnds) {
  FaultScanner scanner;
  bool seen = false;
  for (const auto& line : console_log("oops.log")) {
    scanner.feed_line(line);
    auto faults = scanner.take_faults();
    if (!faults.empty()) {
      seen = true;
      EXPECT_NE(line.find("---[ end trace"), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(seen);
}

TEST(FaultScannerRecorded, KmsgRecordsFromTheAgent) {
  // The K sections of real answers to steps that wrote oops, warn and bug to
  // /dev/labctl_fault (tests/data/guest/README.md).
  auto oops = scan(console_log("../guest/oops.kmsg"));
  ASSERT_EQ(oops.size(), 1u);
  EXPECT_EQ(oops[0].kind, "oops");
  EXPECT_EQ(oops[0].title, "BUG: kernel NULL pointer dereference, address: 0000000000000000");
  EXPECT_EQ(last_line(oops[0].report), "---[ end trace 0000000000000000 ]---");
  auto warning = scan(console_log("../guest/warning.kmsg"));
  ASSERT_EQ(warning.size(), 1u);
  EXPECT_EQ(warning[0].kind, "warning");
  EXPECT_EQ(first_line(warning[0].report), "------------[ cut here ]------------");
  auto bug = scan(console_log("../guest/bug.kmsg"));
  ASSERT_EQ(bug.size(), 1u);
  EXPECT_EQ(bug[0].kind, "bug");
  EXPECT_EQ(bug[0].title, "kernel BUG at /tmp/h3/kmod/labctl_fault/labctl_fault.c:88!");
}

// Synthesized from the recorded logs.

TEST(FaultScannerSynthesized, FloodInterleavedWithWarning) {
  auto warning = console_log("warning.log");
  auto flood = console_log("printk_flood.log");
  std::vector<std::string> flood_lines;
  for (const auto& line : flood)
    if (line.find("flood line") != std::string::npos)
      flood_lines.push_back(line);
  ASSERT_GT(flood_lines.size(), 1000u);
  // A timer's printk can land between any two lines of a report on a single CPU.
  std::vector<std::string> mixed;
  size_t next = 0;
  for (const auto& line : warning) {
    mixed.push_back(line);
    for (int i = 0; i < 3 && next < flood_lines.size(); ++i)
      mixed.push_back(flood_lines[next++]);
  }
  auto faults = scan(mixed);
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "warning");
  EXPECT_EQ(faults[0].title, scan(warning)[0].title);
  EXPECT_EQ(last_line(faults[0].report), "---[ end trace 0000000000000000 ]---");
}

TEST(FaultScannerSynthesized, HeaderInTheMiddleOfAUserSpaceLine) {
  // The kernel writes straight to the UART, so its line can split one that user space is
  // printing on the same console.
  std::vector<std::string> lines;
  for (const auto& line : console_log("oops.log")) {
    if (line.find("BUG: kernel NULL pointer") != std::string::npos) {
      lines.push_back("labctl-te" + line);
      lines.push_back("st: still printing\r");
    } else {
      lines.push_back(line);
    }
  }
  auto faults = scan(lines);
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].title, "BUG: kernel NULL pointer dereference, address: 0000000000000000");
}

TEST(FaultScannerSynthesized, TwoFaultsInOneLog) {
  auto lines = console_log("warning.log");
  auto oops = console_log("oops.log");
  lines.insert(lines.end(), oops.begin(), oops.end());
  auto faults = scan(lines);
  ASSERT_EQ(faults.size(), 2u);
  EXPECT_EQ(faults[0].kind, "warning");
  EXPECT_EQ(faults[1].kind, "oops");
}

TEST(FaultScannerSynthesized, TruncatedReportIsClosedByFlush) {
  std::vector<std::string> lines;
  for (const auto& line : console_log("bug.log")) {
    lines.push_back(line);
    if (line.find("Call Trace:") != std::string::npos)
      break; // the machine died here
  }
  auto faults = scan(lines);
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].title, "kernel BUG at /tmp/kt/labctl_fault/labctl_fault.c:88!");
  EXPECT_EQ(last_line(faults[0].report), "Call Trace:");
}

// Formats this kernel prints that the recorded logs do not cover.

std::vector<KernelFault> scan_text(const std::string& text) {
  return scan(lines_of(text));
}

TEST(FaultScannerFormats, SleepingFunctionCalledFromInvalidContext) {
  auto faults = scan_text(
      R"([    5.100000] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580
[    5.100001] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 84, name: sh
[    5.100002] preempt_count: 1, expected: 0
[    5.100003] CPU: 0 PID: 84 Comm: sh Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.192-2
[    5.100004] Call Trace:
[    5.100005]  <TASK>
[    5.100006]  dump_stack_lvl+0x44/0x5c
[    5.100007]  __might_resched.cold+0xc0/0xd6
[    5.100008]  mutex_lock+0x1a/0x40
[    5.100009]  </TASK>
[    5.200000] labctl_fault: next message
)");
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "bug");
  EXPECT_EQ(faults[0].title,
            "BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580");
  EXPECT_EQ(last_line(faults[0].report), " </TASK>");
}

TEST(FaultScannerFormats, SchedulingWhileAtomicAndSpinlock) {
  auto faults = scan_text(R"([    5.1] BUG: scheduling while atomic: sh/84/0x00000002
[    5.1] Modules linked in: labctl_fault(OE)
[    5.1] Preemption disabled at:
[    5.1] [<ffffffffc04ef0a0>] labctl_fault_write.cold+0x60/0x14a [labctl_fault]
[    5.1] Call Trace:
[    5.1]  <TASK>
[    5.1]  __schedule_bug.cold+0x7e/0x8c
[    5.1]  </TASK>
[    6.1] BUG: spinlock bad magic on CPU#0, sh/84
[    6.1]  lock: 0xffff9b5a4a5b1000, .magic: 00000000, .owner: <none>/-1, .owner_cpu: 0
[    6.1] Call Trace:
[    6.1]  <TASK>
[    6.1]  do_raw_spin_lock+0x9d/0xc0
[    6.1]  </TASK>
)");
  ASSERT_EQ(faults.size(), 2u);
  EXPECT_EQ(faults[0].title, "BUG: scheduling while atomic: sh/84/0x00000002");
  EXPECT_EQ(faults[0].kind, "bug");
  EXPECT_EQ(faults[1].title, "BUG: spinlock bad magic on CPU#0, sh/84");
}

TEST(FaultScannerFormats, GeneralProtectionFault) {
  auto faults = scan_text(
      R"([    7.0] general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI
[    7.0] CPU: 0 PID: 84 Comm: sh Tainted: G           OE      6.1.0-56-amd64 #1
[    7.0] RIP: 0010:labctl_fault_write+0x10/0x20 [labctl_fault]
[    7.0] Call Trace:
[    7.0]  <TASK>
[    7.0]  vfs_write+0xc7/0x3f0
[    7.0]  </TASK>
[    7.0] Modules linked in: labctl_fault(OE)
[    7.0] ---[ end trace 0000000000000000 ]---
)");
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "gpf");
  EXPECT_NE(faults[0].report.find("Modules linked in"), std::string::npos)
      << "an oops report runs past </TASK> to its end-trace line";
}

TEST(FaultScannerFormats, InvalidOpcodeAndUnableToHandle) {
  auto faults = scan_text(R"(invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
RIP: 0010:foo+0x1/0x2
---[ end trace 0000000000000000 ]---
Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000
Mem abort info:
Internal error: Oops: 96000045 [#1] PREEMPT SMP
Call trace:
 foo+0x1/0x2
---[ end trace 0000000000000001 ]---
)");
  ASSERT_EQ(faults.size(), 2u);
  EXPECT_EQ(faults[0].kind, "invalid_opcode");
  EXPECT_EQ(faults[1].kind, "oops");
  EXPECT_EQ(faults[1].title,
            "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000");
  EXPECT_NE(faults[1].report.find("Internal error: Oops"), std::string::npos);
}

TEST(FaultScannerFormats, HungTask) {
  auto faults = scan_text(R"([  245.1] INFO: task cat:95 blocked for more than 120 seconds.
[  245.1]       Tainted: G           OE      6.1.0-56-amd64 #1 Debian 6.1.192-2
[  245.1] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
[  245.1] task:cat             state:D stack:0     pid:95    ppid:1      flags:0x00004002
[  245.1] Call Trace:
[  245.1]  <TASK>
[  245.1]  __schedule+0x34d/0xa00
[  245.1]  labctl_fault_read+0x20/0x40 [labctl_fault]
[  245.1]  </TASK>
[  246.0] random: crng reseeded
)");
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "hung_task");
  EXPECT_EQ(faults[0].title, "INFO: task cat:95 blocked for more than 120 seconds.");
  EXPECT_EQ(faults[0].report.find("crng"), std::string::npos);
}

TEST(FaultScannerFormats, RcuSelfDetectedStall) {
  auto faults = scan_text(R"(rcu: INFO: rcu_preempt self-detected stall on CPU
rcu: 	0-....: (5249 ticks this GP) idle=8f4c/1/0x4000000000000000 softirq=1/1 fqs=1
	(t=5250 jiffies g=-875 q=2 ncpus=1)
CPU: 0 PID: 84 Comm: sh Tainted: G           OE      6.1.0-56-amd64 #1
RIP: 0010:delay_tsc+0x33/0xa0
Call Trace:
 <IRQ>
 rcu_sched_clock_irq.cold+0x1c/0x31
 </IRQ>
 <TASK>
 labctl_fault_write.cold+0x123/0x14a [labctl_fault]
 </TASK>
)");
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "rcu_stall");
  EXPECT_NE(faults[0].report.find("labctl_fault_write.cold"), std::string::npos);
}

TEST(FaultScannerFormats, KasanFramedByRules) {
  auto faults = scan_text(R"(==================================================================
BUG: KASAN: slab-out-of-bounds in labctl_fault_write+0x1c/0x40 [labctl_fault]
Write of size 1 at addr ffff888003a4f0c8 by task sh/84

CPU: 0 PID: 84 Comm: sh Tainted: G    B      OE      6.1.0 #1
Call Trace:
 <TASK>
 kasan_report+0xb9/0xf0
 </TASK>

Allocated by task 84:
 kmalloc_trace+0x25/0x90
==================================================================
Disabling lock debugging due to kernel taint
)");
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "kasan");
  EXPECT_EQ(first_line(faults[0].report), std::string(66, '='));
  EXPECT_NE(faults[0].report.find("Allocated by task 84:"), std::string::npos);
  EXPECT_EQ(last_line(faults[0].report), std::string(66, '='));
}

TEST(FaultScannerFormats, Ubsan) {
  auto faults = scan_text(
      R"([    8.0] ================================================================================
[    8.0] UBSAN: array-index-out-of-bounds in /tmp/kt/labctl_fault/labctl_fault.c:95:14
[    8.0] index 8 is out of range for type 'int [4]'
[    8.0] Call Trace:
[    8.0]  <TASK>
[    8.0]  __ubsan_handle_out_of_bounds.cold+0x44/0x49
[    8.0]  </TASK>
[    8.0] ================================================================================
)");
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "ubsan");
  EXPECT_EQ(faults[0].title,
            "UBSAN: array-index-out-of-bounds in /tmp/kt/labctl_fault/labctl_fault.c:95:14");
}

TEST(FaultScannerFormats, KmsgRecordWithEscapedNewlines) {
  FaultScanner scanner;
  scanner.feed_line("4,100,5000,-;------------[ cut here ]------------");
  scanner.feed_line("4,101,5001,-;WARNING: CPU: 0 PID: 1 at lib/x.c:1 f+0x1/0x2\\x0aModules "
                    "linked in:");
  scanner.feed_line(" SUBSYSTEM=cpu");
  scanner.feed_line("4,102,5002,-;---[ end trace 0000000000000000 ]---");
  auto faults = scanner.take_faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].title, "WARNING: CPU: 0 PID: 1 at lib/x.c:1 f+0x1/0x2");
  EXPECT_EQ(faults[0].report, "------------[ cut here ]------------\n"
                              "WARNING: CPU: 0 PID: 1 at lib/x.c:1 f+0x1/0x2\n"
                              "Modules linked in:\n"
                              "---[ end trace 0000000000000000 ]---\n");
}

// A WARNING that is not SLUB's own still ends a SLUB report and is a fault of its own.
TEST(FaultScannerFormats, OtherWarningAfterASlubReport) {
  auto faults =
      scan_text(R"(=============================================================================
BUG kmalloc-8 (Not tainted): Object already free
-----------------------------------------------------------------------------
Allocated in f+0x1/0x2 [m] age=0 cpu=0 pid=1
------------[ cut here ]------------
WARNING: CPU: 0 PID: 84 at drivers/misc/x.c:9 f+0x1/0x2 [x]
---[ end trace 0000000000000000 ]---
)");
  ASSERT_EQ(faults.size(), 2u);
  EXPECT_EQ(faults[0].kind, "slub");
  EXPECT_EQ(faults[1].kind, "warning");
  EXPECT_EQ(faults[1].report.substr(0, 12), "------------");
}

// settle() closes a report only once its stack dump has ended.
TEST(FaultScannerFormats, SettleClosesOnlyAReportWhoseStackDumpEnded) {
  FaultScanner scanner;
  for (const char* line :
       {"=====================", "BUG kmalloc-8 (Not tainted): Object already free",
        "Call Trace:", " <TASK>", " kfree+0x1/0x2"})
    scanner.feed_line(line);
  scanner.settle();
  EXPECT_TRUE(scanner.take_faults().empty()) << "closed in the middle of its stack dump";
  for (const char* line : {" </TASK>", "FIX kmalloc-8: Object at 0xffff888005bb7f58 not freed"})
    scanner.feed_line(line);
  scanner.settle();
  auto faults = scanner.take_faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "slub");
  EXPECT_NE(faults[0].report.find("FIX kmalloc-8"), std::string::npos);
  scanner.feed_line("a later line");
  scanner.flush();
  EXPECT_TRUE(scanner.take_faults().empty());
}

TEST(FaultScannerFormats, CutHereWithoutHeaderIsStillReported) {
  auto faults = scan_text("------------[ cut here ]------------\nsomething odd\n");
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "unknown");
}

// One short report per kind, in the order of k_fault_kinds.
const std::vector<std::pair<std::string, std::string>>& report_per_kind() {
  static const std::vector<std::pair<std::string, std::string>> reports = {
      {"oops", "BUG: kernel NULL pointer dereference, address: 0000000000000000\n"
               "Oops: 0002 [#1] PREEMPT SMP NOPTI\n---[ end trace 0000000000000000 ]---\n"},
      {"bug", "kernel BUG at drivers/misc/x.c:12!\n---[ end trace 0000000000000000 ]---\n"},
      {"warning", "WARNING: CPU: 0 PID: 84 at drivers/misc/x.c:9 f+0x1/0x2 [x]\n"
                  "---[ end trace 0000000000000000 ]---\n"},
      {"panic", "Kernel panic - not syncing: Fatal exception\n"
                "---[ end Kernel panic - not syncing: Fatal exception ]---\n"},
      {"gpf", "general protection fault, probably for non-canonical address 0xdead: 0000 [#1]\n"
              "---[ end trace 0000000000000000 ]---\n"},
      {"invalid_opcode", "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n"
                         "---[ end trace 0000000000000000 ]---\n"},
      {"divide_error", "divide error: 0000 [#1] PREEMPT SMP NOPTI\n"
                       "---[ end trace 0000000000000000 ]---\n"},
      {"double_fault", "PANIC: double fault, error_code: 0x0\n"
                       "---[ end trace 0000000000000000 ]---\n"},
      {"stack_segment", "stack segment: 0000 [#1] PREEMPT SMP NOPTI\n"
                        "---[ end trace 0000000000000000 ]---\n"},
      {"soft_lockup", "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [sh:84]\n"
                      " <TASK>\n f+0x1/0x2\n </TASK>\n"},
      {"hard_lockup", "NMI watchdog: Watchdog detected hard LOCKUP on cpu 0\n"
                      " <TASK>\n f+0x1/0x2\n </TASK>\n"},
      {"rcu_stall", "rcu: INFO: rcu_preempt self-detected stall on CPU\n"
                    " <TASK>\n f+0x1/0x2\n </TASK>\n"},
      {"hung_task", "INFO: task cat:95 blocked for more than 120 seconds.\n"
                    " <TASK>\n f+0x1/0x2\n </TASK>\n"},
      {"kasan", "=====\nBUG: KASAN: slab-out-of-bounds in f+0x1/0x2\n=====\n"},
      {"kfence", "=====\nBUG: KFENCE: use-after-free read in f+0x1/0x2\n=====\n"},
      {"kcsan", "=====\nBUG: KCSAN: data-race in f / g\n=====\n"},
      {"kmsan", "=====\nBUG: KMSAN: uninit-value in f+0x1/0x2\n=====\n"},
      {"ubsan", "=====\nUBSAN: shift-out-of-bounds in x.c:1:2\n=====\n"},
      {"slub", "=====\nBUG kmalloc-8 (Not tainted): Right Redzone overwritten\n=====\n"},
      {"unknown", "------------[ cut here ]------------\nsomething odd\n"},
  };
  return reports;
}

// k_fault_kinds is what expect.faults accepts: it must hold every kind the scanner gives,
// and nothing it never gives.
TEST(FaultScannerKinds, EachListedKindIsReportedAndNoOther) {
  std::vector<std::string> reported;
  for (const auto& [kind, text] : report_per_kind()) {
    auto faults = scan_text(text);
    ASSERT_EQ(faults.size(), 1u) << kind;
    EXPECT_EQ(faults[0].kind, kind) << text;
    EXPECT_TRUE(is_fault_kind(faults[0].kind)) << faults[0].kind;
    reported.push_back(faults[0].kind);
  }
  EXPECT_EQ(reported, std::vector<std::string>(k_fault_kinds.begin(), k_fault_kinds.end()));
  EXPECT_FALSE(is_fault_kind("opps"));
  EXPECT_FALSE(is_fault_kind(""));
}

TEST(FaultScannerFormats, NotFaults) {
  auto faults = scan_text(R"([    2.4] debugcon: loading out-of-tree module taints kernel.
[    2.4] debugcon: module verification failed: signature and/or required key missing - tainting kernel
[    2.5] CPU: 0 PID: 84 Comm: sh Tainted: G           OE      6.1.0-56-amd64 #1
[    2.6] DEBUG: not a bug
[    2.6] ODEBUG: init destroyed (active state 0) object type: timer_list hint: 0x0
[    2.7] mydriver: BUGS fixed: 3, BUG: in the middle does not count
[    2.7] Spectre V2 : WARNING: Unprivileged eBPF is enabled with eIBRS on, data leaks possible
[    2.8] WARNING: The mand mount option has been deprecated
[    2.8] This is not a bug.
[    2.9] Kernel command line: console=ttyS0 panic=-1
[    3.0] INFO: NMI handler (perf_event_nmi_handler) took too long to run: 1.2 msecs
[    3.0] Disabling lock debugging due to kernel taint
BUGGY user space line
)");
  EXPECT_TRUE(faults.empty()) << faults.front().title;
}

} // namespace
} // namespace labctl
