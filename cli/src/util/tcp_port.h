#pragma once

#include "util/result.h"

namespace labctl {

// A TCP port on 127.0.0.1 that is free right now: the kernel picks it for a socket bound to
// port 0, which is closed again. Another process could take it before it is used, which is
// unlikely enough for a debugger port.
Result<int> pick_free_tcp_port();

} // namespace labctl
