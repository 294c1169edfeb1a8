#pragma once

#include "core/error.h"
#include "run/guest_boot.h"
#include "vm/guest_session.h"

namespace labctl {

// For a guest started with a GDB stub, once its modules are loaded: read where the kernel
// placed each module's sections, write gdb.script into the guest's artifacts and print one
// line saying how to attach. With `wait`, the guest is then halted (QMP stop) and this returns only
// once gdb resumes it (or labctl is interrupted): no deadline runs while the user is in gdb.
Status attach_gdb(GuestSession& session, const PreparedGuest& guest, bool wait);

} // namespace labctl
