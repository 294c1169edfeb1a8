#include "util/errno_name.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cstring>

namespace labctl {

namespace {

struct KernelErrno {
  int value;
  const char* name;
  const char* meaning;
};

// include/linux/errno.h: values the kernel uses inside and that may still reach a log.
constexpr std::array k_kernel_errnos{
    KernelErrno{512, "ERESTARTSYS", "restart the system call (interrupted by a signal)"},
    KernelErrno{513, "ERESTARTNOINTR", "restart the system call"},
    KernelErrno{514, "ERESTARTNOHAND", "restart if no signal handler"},
    KernelErrno{515, "ENOIOCTLCMD", "no ioctl command"},
    KernelErrno{516, "ERESTART_RESTARTBLOCK", "restart by calling sys_restart_syscall"},
    KernelErrno{517, "EPROBE_DEFER",
                "probe deferred: something the driver needs is not ready yet, the probe is "
                "retried later"},
    KernelErrno{518, "EOPENSTALE", "open found a stale dentry"},
    KernelErrno{519, "ENOPARAM", "parameter not supported"},
    KernelErrno{521, "EBADHANDLE", "illegal NFS file handle"},
    KernelErrno{522, "ENOTSYNC", "update synchronization mismatch"},
    KernelErrno{523, "EBADCOOKIE", "cookie is stale"},
    KernelErrno{524, "ENOTSUPP", "operation is not supported"},
    KernelErrno{525, "ETOOSMALL", "buffer or request is too small"},
    KernelErrno{526, "ESERVERFAULT", "an untranslatable error occurred"},
    KernelErrno{527, "EBADTYPE", "type not supported by server"},
    KernelErrno{528, "EJUKEBOX", "request initiated, but will not complete before timeout"},
    KernelErrno{529, "EIOCBQUEUED", "iocb queued, will get completion event"},
    KernelErrno{530, "ERECALLCONFLICT", "conflict with recalled state"},
    KernelErrno{531, "ENOGRACE", "NFS file lock reclaim refused"},
};

// Where an errno follows, as the kernel and busybox print one.
constexpr std::array<std::string_view, 12> k_errno_prefixes{
    "error -", "err -", "returned -", "ret -", "rc -",     "errno -",
    "error=-", "err=-", "ret=-",      "rc=-",  "error: -", "errno=-"};

size_t parse_digits(std::string_view text, size_t at, int& value) {
  auto [end, ec] = std::from_chars(text.data() + at, text.data() + text.size(), value);
  if (ec != std::errc())
    return 0;
  return static_cast<size_t>(end - (text.data() + at));
}

bool word_start(std::string_view text, size_t at) {
  return at == 0 || !std::isalnum(static_cast<unsigned char>(text[at - 1]));
}

} // namespace

std::optional<ErrnoName> errno_name(int value) {
  for (const auto& e : k_kernel_errnos)
    if (e.value == value)
      return ErrnoName{e.name, e.meaning};
  if (value <= 0 || value >= 512)
    return std::nullopt;
  const char* name = strerrorname_np(value);
  if (!name)
    return std::nullopt;
  return ErrnoName{name, std::strerror(value)};
}

std::string name_errnos(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t digits_at = std::string_view::npos;
    if (text.compare(i, 14, "Unknown error ") == 0) {
      digits_at = i + 14;
    } else if (word_start(text, i)) {
      for (auto prefix : k_errno_prefixes)
        if (text.compare(i, prefix.size(), prefix) == 0) {
          digits_at = i + prefix.size();
          break;
        }
    }
    int value = 0;
    size_t length = digits_at == std::string_view::npos ? 0 : parse_digits(text, digits_at, value);
    auto name = length > 0 ? errno_name(value) : std::nullopt;
    if (!name) {
      out += text[i++];
      continue;
    }
    size_t end = digits_at + length;
    out.append(text.substr(i, end - i));
    out += fmt::format(" ({}: {})", name->name, name->meaning);
    i = end;
  }
  return out;
}

} // namespace labctl
