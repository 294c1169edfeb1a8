#pragma once

#include "core/error.h"
#include "util/fs.h"

#include <string>
#include <vector>

namespace labctl {

// Where each applet of `busybox` wants to be installed, relative to the root ("bin/sh",
// "sbin/mdev", "usr/bin/base64"), as `busybox --list-full` prints them. Remembered per
// busybox content for the life of the process. Environment error when busybox is missing,
// does not run, or cannot list its applets (built without the installer feature).
Result<std::vector<std::string>> busybox_applets(const fs::path& busybox);

} // namespace labctl
