#include "vm/guest_session.h"

#include "vm/qemu_vm.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace labctl {

namespace {
// How long a guest may stay silent past a request's deadline while an answer is underway.
constexpr auto k_silence = std::chrono::seconds(5);
} // namespace

Result<std::unique_ptr<GuestSession>> GuestSession::start(Config config) {
  std::unique_ptr<GuestSession> s(new GuestSession());
  s->m_boot_nonce = config.boot_nonce;
  s->m_boot = std::make_unique<BootDecoder>(config.boot_nonce);
  s->m_optional_modules = config.optional_modules;
  s->m_started = Clock::now();
  auto console_log = config.artifacts.open_for_append(Artifact::console_log);
  if (!console_log)
    return console_log.error();
  auto vm = QemuVm::start(std::move(config.launch), std::move(*console_log));
  if (!vm)
    return vm.error();
  s->attach(std::move(*vm));
  return s;
}

std::unique_ptr<GuestSession> GuestSession::over(std::unique_ptr<GuestLink> link,
                                                 std::string boot_nonce) {
  std::unique_ptr<GuestSession> s(new GuestSession());
  s->m_boot_nonce = boot_nonce;
  s->m_boot = std::make_unique<BootDecoder>(std::move(boot_nonce));
  s->m_started = Clock::now();
  s->attach(std::move(link));
  return s;
}

void GuestSession::attach(std::unique_ptr<GuestLink> link) {
  m_vm = std::move(link);
  mark("qemu_started");
  m_vm->on_console_line = [this](std::string_view line) { console_line(line); };
  m_vm->on_control_bytes = [this](std::string_view bytes) {
    m_last_control_bytes = Clock::now();
    if (m_response)
      m_response->feed(bytes);
    else
      m_boot->feed(bytes);
  };
}

void GuestSession::collect(FaultScanner& scanner, bool from_kmsg) {
  for (auto& fault : scanner.take_faults()) {
    // A storm of faults is counted, not kept: memory stays bounded.
    if (m_faults.size() >= k_max_faults) {
      ++m_faults_dropped;
      continue;
    }
    // With a verbose console every record arrives twice (console and /dev/kmsg): count
    // titles per source and keep only faults one source has more of than the other.
    auto& mine = from_kmsg ? m_kmsg_titles : m_console_titles;
    auto& other = from_kmsg ? m_console_titles : m_kmsg_titles;
    int seen = ++mine[fault.title];
    if (seen <= other[fault.title])
      continue;
    spdlog::debug("kernel fault in {} {}: {}", m_phase.name, m_phase.step, fault.title);
    m_faults.push_back({std::move(fault), m_phase});
  }
}

void GuestSession::mark(const std::string& milestone) {
  m_timeline.emplace_back(milestone,
                          std::chrono::duration<double>(Clock::now() - m_started).count());
}

void GuestSession::console_line(std::string_view line) {
  if (!m_seen_console) {
    m_seen_console = true;
    mark("first_console_line");
  }
  if (!m_seen_init && line.find("Run /init as init process") != std::string_view::npos) {
    m_seen_init = true;
    mark("init_started");
  }
  m_console_faults.feed_line(line);
  collect(m_console_faults, false);
  m_kernel_log.add_console(line);
}

void GuestSession::kmsg_records(const std::vector<std::string>& records) {
  for (const auto& record : records) {
    m_kmsg_faults.feed_line(record);
    m_kernel_log.add_kmsg(record);
  }
  collect(m_kmsg_faults, true);
}

// A phase ended (READY, a step's answer): reports that only continuation lines could still
// extend belong to it, not to the next one.
void GuestSession::settle_faults() {
  m_console_faults.settle();
  collect(m_console_faults, false);
  m_kmsg_faults.settle();
  collect(m_kmsg_faults, true);
}

GuestSession::Outcome GuestSession::wait(const std::function<bool()>& done,
                                         Clock::time_point deadline) {
  switch (m_vm->pump(done, deadline)) {
  case GuestLink::Event::done:
    return Outcome::ok;
  case GuestLink::Event::timeout:
    return Outcome::timeout;
  case GuestLink::Event::interrupted:
    return Outcome::interrupted;
  case GuestLink::Event::qemu_exited:
    break;
  }
  // Reports still open when QEMU died (a panic has no end-trace line before the reset).
  m_console_faults.flush();
  collect(m_console_faults, false);
  return Outcome::qemu_exited;
}

GuestSession::Boot GuestSession::wait_ready(Clock::time_point deadline) {
  Boot boot;
  boot.outcome = wait([this] { return m_boot->ready() || m_boot->failed(); }, deadline);
  if (m_boot->failed()) {
    boot.outcome = Outcome::boot_report_damaged;
    boot.error = m_boot->error();
  } else if (boot.outcome == Outcome::ok) {
    mark("ready");
    settle_faults();
  }
  boot.modules = m_boot->modules();
  for (auto& m : boot.modules)
    m.optional = m_optional_modules.contains(m.name);
  boot.kernel_release = m_boot->kernel_release();
  return boot;
}

StepResult GuestSession::request(std::string_view verb, int timeout_seconds,
                                 std::string_view command, Clock::time_point deadline,
                                 Clock::time_point hard_deadline) {
  StepResult step;
  step.exit_code = -1;
  size_t faults_before = m_faults.size();
  auto started = Clock::now();
  std::string nonce = make_nonce();
  m_response = std::make_unique<ResponseDecoder>(nonce);
  m_response->watch_agent(m_boot_nonce);
  if (verb != "KMSG" && verb != "HALT")
    m_response->require_streams();
  if (!m_vm->send_control(encode_request(verb, nonce, timeout_seconds, command))) {
    step.outcome = Outcome::qemu_exited;
    step.error = "the control channel closed";
    m_response.reset();
    return step;
  }
  // The deadline is for a silent guest: while answer bytes keep arriving (a large output
  // on its way), waiting goes on, up to `hard_deadline`.
  for (;;) {
    step.outcome = wait([this] { return m_response->done() || m_response->failed(); }, deadline);
    if (step.outcome != Outcome::timeout || Clock::now() >= hard_deadline ||
        Clock::now() - m_last_control_bytes > k_silence)
      break;
    deadline = std::min(hard_deadline, m_last_control_bytes + k_silence);
  }
  if (m_response->failed()) {
    step.outcome = m_response->agent_died() ? Outcome::agent_died : Outcome::protocol_error;
    step.error = m_response->error();
  } else if (step.outcome == Outcome::ok) {
    StepOutput output = m_response->take();
    kmsg_records(output.kmsg);
    // A step killed at its timeout is judged as timed out; any other missing status is
    // explained here rather than shown as exit code -1.
    if (output.exit_code < 0 && !output.guest_timed_out) {
      step.outcome = Outcome::exit_unknown;
      step.error = unknown_exit_reason(output);
    }
    step.exit_code = output.exit_code;
    step.out = std::move(output.out);
    step.err = std::move(output.err);
    step.timed_out = output.guest_timed_out;
    step.end = output.end;
    step.kmsg = std::move(output.kmsg);
  }
  m_response.reset();
  settle_faults();
  step.faults = m_faults.size() - faults_before;
  step.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return step;
}

StepResult GuestSession::run(const std::string& command, int timeout_seconds,
                             Clock::time_point deadline, Clock::time_point hard_deadline) {
  return request("RUN", timeout_seconds, command, deadline, hard_deadline);
}

StepResult GuestSession::run_verb(std::string_view verb, const std::vector<std::string>& args,
                                  int timeout_seconds, Clock::time_point deadline,
                                  Clock::time_point hard_deadline) {
  std::string words;
  for (const auto& a : args)
    words += (words.empty() ? "" : " ") + a;
  return request(verb, timeout_seconds, words, deadline, hard_deadline);
}

void GuestSession::finish(Clock::time_point deadline) {
  if (m_halted)
    return;
  m_halted = true;
  auto kmsg = request("KMSG", 0, {}, deadline, deadline);
  if (kmsg.outcome != Outcome::ok)
    return;
  auto halt = request("HALT", 0, {}, deadline, deadline);
  if (halt.outcome == Outcome::ok)
    m_vm->pump(nullptr, std::min(deadline, Clock::now() + std::chrono::seconds(10)));
}

ExitStatus GuestSession::shutdown() {
  ExitStatus status = m_vm->shutdown();
  if (m_timeline.empty() || m_timeline.back().first != "qemu_exited")
    mark("qemu_exited");
  m_console_faults.flush();
  collect(m_console_faults, false);
  m_kmsg_faults.flush();
  collect(m_kmsg_faults, true);
  return status;
}

} // namespace labctl
