#pragma once

#include "util/fs.h"

#include <gtest/gtest.h>

#include <string>

namespace labctl::test {

// A scratch directory for one test, removed afterwards.
class ScratchDir {
public:
  ScratchDir() : m_dir("labctl-test") {}
  const fs::path& path() const { return m_dir.path(); }
  fs::path write(const std::string& relative, const std::string& content) const {
    fs::path p = path() / relative;
    fs::create_directories(p.parent_path());
    EXPECT_TRUE(write_file_atomic(p, content).ok());
    return p;
  }
  fs::path mkdir(const std::string& relative) const {
    fs::create_directories(path() / relative);
    return path() / relative;
  }

private:
  TempDir m_dir;
};

inline fs::path test_data(const std::string& relative) {
  return fs::path(LABCTL_TEST_DATA) / relative;
}

} // namespace labctl::test
