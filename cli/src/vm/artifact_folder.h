#pragma once

#include "core/error.h"
#include "util/fs.h"
#include "util/unix_socket.h"

#include <filesystem>
#include <string_view>

namespace labctl {

// The files labctl leaves in an artifacts folder.
enum class Artifact {
  console_log,    // console.log: everything ttyS0 printed (the VM appends to it)
  debugcon,       // debugcon.txt: what the guest wrote to the debugcon port (QEMU writes it)
  trace_log,      // trace.log: QEMU's trace events (QEMU writes it)
  initrd_listing, // initrd.txt: the initrd's file list
  qemu_cmdline,   // qemu.cmdline: QEMU's command line, shell-quoted
  gdb_script,     // gdb.script: target remote and add-symbol-file for each loaded module
  faults,         // faults.txt: the kernel fault reports, when there were any
  kernel_log,     // kernel.log: the guest's /dev/kmsg
  result,         // result.json: the scenario's report
};

// The artifacts folder of one scenario run or shell session: the one place that names its
// files and creates them (mode 0666 & ~umask, never through a link planted at a name).
class ArtifactFolder {
public:
  // fresh: a scenario's folder, made anew by create() (what was there, a stale file or a
  //        symlink, is removed without following links), so each file is created with
  //        O_CREAT | O_EXCL | O_NOFOLLOW and one already there is an error;
  // kept:  a shell's folder, which the user may name: created if missing and never emptied;
  //        a file labctl writes replaces what is at its name (a symlink is not followed).
  enum class Kind { fresh, kept };

  ArtifactFolder() = default;
  ArtifactFolder(std::filesystem::path folder, Kind kind)
      : m_folder(std::move(folder)), m_kind(kind) {}

  // Make the folder (see Kind); fails (environment) naming it.
  Status create() const;

  const std::filesystem::path& folder() const { return m_folder; }
  static std::string_view name(Artifact file);
  std::filesystem::path path(Artifact file) const { return m_folder / name(file); }

  // Create `file` holding `data`.
  Status write(Artifact file, std::string_view data) const;
  // Create `file` empty, open for appending (the console log).
  Result<UniqueFd> open_for_append(Artifact file) const;
  // Before QEMU creates `file` itself (it would follow a link): in a kept folder, remove
  // whatever is at its name.
  void clear_for_qemu(Artifact file) const;

private:
  std::filesystem::path m_folder;
  Kind m_kind = Kind::fresh;
};

} // namespace labctl
