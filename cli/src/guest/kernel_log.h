#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// The kernel log a run matches expect.kernel_log against: /dev/kmsg's records in their
// sequence order, completed from the console. The kmsg follower in the guest loses the
// records the ring buffer overwrote before it read them (a printk flood); it sees them as
// a gap in the sequence numbers, and the console (which prints each record with the same
// timestamp) usually still has them. Pure: fed lines, no I/O.
class KernelLog {
public:
  // One /dev/kmsg record, "level,seq,usec,flags;text" (lines of another shape are ignored).
  void add_kmsg(std::string_view record);
  // One console line; only kernel lines, "[    1.234567] text", are kept.
  void add_console(std::string_view line);

  struct Text {
    std::string text;        // one record per line, text only
    size_t from_console = 0; // lines taken from the console to fill kmsg's gaps and its end
    size_t lost = 0;         // records missing from both (kmsg's gaps the console did not fill)
    struct Gap {
      uint64_t first_seq = 0; // the first record kmsg lacks
      uint64_t missing = 0;   // how many it lacks there
      uint64_t filled = 0;    // console lines put in their place
    };
    std::vector<Gap> gaps; // for -v: where kmsg lost records
  };
  // The merged log. Console lines fill each gap in kmsg's sequence numbers (the lines whose
  // timestamp lies between the records around it) and follow its last record (what the
  // follower had not handed over when the guest stopped).
  Text complete() const;

  // What each stream keeps, text and index together; a console flood beyond it is not
  // kept (its records count as lost if kmsg lacks them too).
  static constexpr size_t k_max_kmsg_bytes = 32 * 1024 * 1024;
  static constexpr size_t k_max_console_bytes = 8 * 1024 * 1024;

private:
  // A line of a stream: its text is `text.substr(offset, length)` of the stream's buffer.
  struct Line {
    uint64_t seq = 0;  // kmsg only
    uint64_t usec = 0; // the record's timestamp, microseconds since boot
    uint32_t offset = 0;
    uint32_t length = 0;
    bool continuation = false; // kmsg: a line of the record before it
  };
  struct Stream {
    std::string text;
    std::vector<Line> lines;
    std::string_view line(const Line& l) const { return {text.data() + l.offset, l.length}; }
    bool add(Line line, std::string_view text, size_t limit);
  };
  Stream m_kmsg;
  Stream m_console;
};

} // namespace labctl
