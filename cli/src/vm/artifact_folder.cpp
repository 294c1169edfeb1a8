#include "vm/artifact_folder.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace labctl {

std::string_view ArtifactFolder::name(Artifact file) {
  switch (file) {
  case Artifact::console_log:
    return "console.log";
  case Artifact::debugcon:
    return "debugcon.txt";
  case Artifact::trace_log:
    return "trace.log";
  case Artifact::initrd_listing:
    return "initrd.txt";
  case Artifact::qemu_cmdline:
    return "qemu.cmdline";
  case Artifact::gdb_script:
    return "gdb.script";
  case Artifact::faults:
    return "faults.txt";
  case Artifact::kernel_log:
    return "kernel.log";
  case Artifact::result:
    return "result.json";
  }
  return "unknown";
}

Status ArtifactFolder::create() const {
  if (m_kind == Kind::fresh)
    return make_fresh_directory(m_folder);
  std::error_code ec;
  fs::create_directories(m_folder, ec);
  if (ec)
    return environment_error(
        fmt::format("cannot create artifacts directory {}: {}", m_folder.string(), ec.message()));
  return ok_status();
}

Status ArtifactFolder::write(Artifact file, std::string_view data) const {
  if (m_kind == Kind::kept)
    return write_file_atomic(path(file), data);
  return write_new_file(path(file), data);
}

Result<UniqueFd> ArtifactFolder::open_for_append(Artifact file) const {
  fs::path p = path(file);
  if (m_kind == Kind::kept)
    ::unlink(p.c_str());
  // A new file, never one reached through a link planted at its name (labctl runs as root).
  UniqueFd fd(
      ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC, 0666));
  if (!fd.valid())
    return environment_error(fmt::format("cannot write {}: {}", p.string(), std::strerror(errno)));
  return fd;
}

void ArtifactFolder::clear_for_qemu(Artifact file) const {
  if (m_kind == Kind::kept) {
    std::error_code ec;
    fs::remove(path(file), ec);
  }
}

} // namespace labctl
