#pragma once

#include "core/error.h"
#include "run/guest_boot.h"
#include "vm/guest_session.h"

#include <filesystem>

namespace labctl {

// For a guest started with a GDB stub, once its modules are loaded: read where the kernel
// placed each module's sections, write <artifacts>/gdb.script and print one line saying how
// to attach. With `wait`, the guest is then halted (QMP stop) and this returns only once gdb
// resumes it (or labctl is interrupted): no deadline runs while the user is in gdb.
Status attach_gdb(GuestSession& session, const PreparedGuest& guest,
                  const std::filesystem::path& artifacts, bool wait);

// Whether the guest's CPUs run (QMP query-status); false while gdb or QMP holds it stopped.
Result<bool> guest_running(QemuVm& vm);

} // namespace labctl
