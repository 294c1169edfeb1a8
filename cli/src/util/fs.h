#pragma once

#include "util/result.h"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace labctl {

namespace fs = std::filesystem;

// Write all of `data` to a blocking `fd`, retrying short writes and EINTR: 0, or the errno
// of the write that failed (ENOSPC for one that wrote nothing).
int write_all(int fd, std::string_view data);

// Read a whole file; the Failure names the path and errno text and carries the errno.
util::Result<std::string> read_file(const fs::path& path);

// Write through a temporary file in the same directory and rename, so readers never see
// a half-written file (two labctl runs may fill the same cache entry at once). The file
// gets mode 0666 & ~umask; a symlink at `path` is replaced, never followed.
util::Status write_file_atomic(const fs::path& path, std::string_view data);

// Create `path` (mode 0666 & ~umask) and write `data`; fails if anything, a symlink
// included, is already there (O_CREAT | O_EXCL | O_NOFOLLOW), so nothing is written through
// a planted link. For artifacts, in a folder this run created.
util::Status write_new_file(const fs::path& path, std::string_view data);

// Write a file the user named (--junit, --json): a regular file or a new path is replaced
// atomically; a symlink is resolved and its target written (the link stays); anything else
// (a character device such as /dev/null, a FIFO, /dev/stdout) is opened and written
// through, never renamed over. A folder is an error.
util::Status write_report_file(const fs::path& path, std::string_view data);

// Remove what is at `path` without following a symlink anywhere: a symlink is unlinked,
// a folder removed with everything in it. Nothing there is not an error.
util::Status remove_tree(const fs::path& path);

// A new empty folder at `path` (mode 0777 & ~umask) that this call created itself: what
// was there (a stale folder, a symlink, a file) is removed first, by remove_tree.
util::Status make_fresh_directory(const fs::path& path);

// Whether the filesystem holding `path` has no free block left (a write there failed or
// was cut short because the disk is full); nullopt when it cannot be asked.
std::optional<bool> filesystem_full(const fs::path& path);

// $XDG_CACHE_HOME/labctl, else ~/.cache/labctl; LABCTL_CACHE_DIR overrides both.
fs::path cache_root();

// `parent`/<local time as YYYYmmdd-HHMMSS>-<pid>: a folder name for this process's run that
// sorts by time (not created here).
fs::path timestamped_folder(const fs::path& parent);

// An exclusive flock(2) on a lock file, held while this object lives; the file holds the
// holder's pid so that a refused run can name it.
class FileLock {
public:
  // The lock, or a Failure "held by pid N" (EWOULDBLOCK) when another process holds it.
  static util::Result<FileLock> try_acquire(const fs::path& path);
  FileLock(FileLock&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock();

private:
  explicit FileLock(int fd) : m_fd(fd) {}
  int m_fd = -1;
};

// A private (0700) directory removed with everything in it when this object dies.
class TempDir {
public:
  // Throws util::FailureError when mkdtemp fails.
  explicit TempDir(std::string_view prefix = "labctl");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;

  const fs::path& path() const { return m_path; }

private:
  fs::path m_path;
};

} // namespace labctl
