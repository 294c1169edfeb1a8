#include "run/json_report_reader.h"

#include "util/base64.h"

#include <fmt/format.h>

namespace labctl {

namespace {

constexpr int k_version = 1;

std::string get_bytes(const Json& j, const std::string& key) {
  if (auto it = j.find(key + "_base64"); it != j.end()) {
    std::string bytes;
    if (!decode_base64(it->get<std::string>(), bytes))
      throw FatalError(bad_input(fmt::format("'{}_base64' is not base64", key)));
    return bytes;
  }
  return j.at(key).get<std::string>();
}

} // namespace

Result<std::vector<ScenarioReport>> parse_json_report(const std::string& text) {
  std::vector<ScenarioReport> reports;
  try {
    Json root = Json::parse(text);
    if (root.at("version").get<int>() != k_version)
      return bad_input(fmt::format("JSON report version {} is not supported (expected {})",
                                   root.at("version").dump(), k_version));
    for (const auto& j : root.at("scenarios")) {
      ScenarioReport r;
      r.name = j.at("name").get<std::string>();
      r.file = j.at("file").get<std::string>();
      auto verdict = parse_verdict(j.at("verdict").get<std::string>());
      if (!verdict)
        return bad_input(fmt::format("not a labctl JSON report: verdict {} is not one of "
                                     "\"passed\", \"failed\", \"error\", \"skipped\"",
                                     j.at("verdict").dump()));
      r.verdict = *verdict;
      r.exit_code = j.at("exit_code").get<int>();
      r.skip_reason = j.at("skip_reason").get<std::string>();
      r.seconds = j.at("seconds").get<double>();
      r.kernel = j.at("kernel").get<std::string>();
      r.kernel_image = j.at("kernel_image").get<std::string>();
      r.accel = j.at("accel").get<std::string>();
      r.accel_reason = j.at("accel_reason").get<std::string>();
      r.artifacts = j.at("artifacts").get<std::string>();
      r.failures = j.at("failures").get<std::vector<std::string>>();
      r.debugcon_diff = j.at("debugcon_diff").get<std::string>();
      if (j.contains("timeline"))
        for (const auto& pair : j.at("timeline"))
          r.timeline.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<double>());
      if (j.contains("build_warnings"))
        for (const auto& w : j.at("build_warnings"))
          r.build_warnings.emplace_back(w.at("module").get<std::string>(),
                                        w.at("warnings").get<std::string>());
      for (const auto& s : j.at("steps")) {
        StepReport step;
        step.command = s.at("command").get<std::string>();
        step.line = s.at("line").get<int>();
        step.result.exit_code = s.at("exit_code").get<int>();
        step.result.seconds = s.at("seconds").get<double>();
        step.result.timed_out = s.at("timed_out").get<bool>();
        step.failures = s.at("failures").get<std::vector<std::string>>();
        step.result.out = get_bytes(s, "stdout");
        step.result.err = get_bytes(s, "stderr");
        r.steps.push_back(std::move(step));
      }
      if (j.contains("skipped_steps"))
        for (const auto& s : j.at("skipped_steps"))
          r.skipped_steps.push_back({.command = s.at("command").get<std::string>(),
                                     .line = s.at("line").get<int>(),
                                     .reason = s.at("reason").get<std::string>()});
      if (j.contains("kernel_log_lost"))
        r.kernel_log_lost = j.at("kernel_log_lost").get<size_t>();
      for (const auto& f : j.at("faults")) {
        const Json& index = f.at("step_index");
        r.faults.push_back({.kind = f.at("kind").get<std::string>(),
                            .title = f.at("title").get<std::string>(),
                            .report = f.at("report").get<std::string>(),
                            .phase = f.at("phase").get<std::string>(),
                            .step_index = index.is_null() ? 0 : index.get<int>(),
                            .step = f.at("step").get<std::string>()});
        for (const auto& fr : f.at("frames")) {
          FaultFrame frame;
          frame.frame = {.text = fr.at("frame").get<std::string>(),
                         .function = fr.at("function").get<std::string>(),
                         .offset = fr.at("offset").get<uint64_t>(),
                         .size = fr.at("size").get<uint64_t>(),
                         .module = fr.at("module").get<std::string>(),
                         .exact = fr.at("exact").get<bool>(),
                         .reliable = fr.at("reliable").get<bool>()};
          frame.user = fr.at("user").get<bool>();
          for (const auto& s : fr.at("source"))
            frame.source.push_back({.function = s.at("function").get<std::string>(),
                                    .file = s.at("file").get<std::string>(),
                                    .line = s.at("line").get<int>(),
                                    .column = s.at("column").get<int>()});
          r.faults.back().frames.push_back(std::move(frame));
        }
      }
      reports.push_back(std::move(r));
    }
  } catch (const Json::exception& e) {
    return bad_input(fmt::format("not a labctl JSON report: {}", e.what()));
  } catch (const FatalError& e) {
    return bad_input(fmt::format("not a labctl JSON report: {}", e.error().message));
  }
  return reports;
}

} // namespace labctl
