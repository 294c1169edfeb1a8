#include "host/accel.h"

#include "test_support.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

TEST(Accel, DeviceWithoutNestedVirtualizationMeansTcg) {
  // The CI machines: /dev/kvm exists and even opens, but the CPU flags lack vmx/svm.
  KvmFacts facts{.device_exists = true, .device_usable = true, .cpu_has_virt = false};
  auto c = choose_accel("auto", facts);
  EXPECT_EQ(c.accel, "tcg");
  EXPECT_TRUE(c.ok);
  EXPECT_NE(c.reason.find("no vmx/svm"), std::string::npos) << c.reason;
}

TEST(Accel, UsableKvmIsChosen) {
  KvmFacts facts{.device_exists = true, .device_usable = true, .cpu_has_virt = true};
  EXPECT_EQ(choose_accel("auto", facts).accel, "kvm");
}

TEST(Accel, MissingDeviceMeansTcgWithReason) {
  KvmFacts facts{.device_error = "/dev/kvm does not exist"};
  auto c = choose_accel("auto", facts);
  EXPECT_EQ(c.accel, "tcg");
  EXPECT_NE(c.reason.find("/dev/kvm does not exist"), std::string::npos);
}

TEST(Accel, DemandedKvmThatDoesNotWorkIsAnError) {
  KvmFacts facts{.device_exists = true, .device_usable = true, .cpu_has_virt = false};
  EXPECT_FALSE(choose_accel("kvm", facts).ok);
  EXPECT_EQ(choose_accel("tcg", facts).accel, "tcg");
}

TEST(Accel, ProbeReadsCpuFlags) {
  test::ScratchDir dir;
  auto with = dir.write("with", "processor\t: 0\nflags\t\t: fpu vme vmx sse\n");
  auto without = dir.write("without", "processor\t: 0\nflags\t\t: fpu vme sse hypervisor\n");
  EXPECT_TRUE(probe_kvm(dir.path() / "nokvm", with).cpu_has_virt);
  auto facts = probe_kvm(dir.path() / "nokvm", without);
  EXPECT_FALSE(facts.cpu_has_virt);
  EXPECT_FALSE(facts.device_exists);
}

} // namespace
} // namespace labctl
