#!/usr/bin/python3
"""Check labctl --json reports (and result.json files) against docs/report-json.schema.json,
plus the rules between keys that a JSON Schema cannot say (docs/report-json.md, "Checking a
report").

usage: check_report_json.py REPORT...
Exit 0: every report is valid; 1: some are not (each problem is printed with its place);
2: usage, an unreadable file, or the Debian package python3-jsonschema is missing.
Run it with /usr/bin/python3: that is where apt installs python3-jsonschema.
"""
import base64
import binascii
import json
import os
import sys

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs",
                      "report-json.schema.json")


def place(path):
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path) or "(top)"


def cross_checks(report):
    """Rules between keys; yields (place, problem)."""
    scenarios = report.get("scenarios", [])
    summary = report.get("summary", {})
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for s in scenarios:
        counts[s.get("verdict")] = counts.get(s.get("verdict"), 0) + 1
    for key, verdict in (("passed", "passed"), ("failed", "failed"), ("errors", "error"), ("skipped", "skipped")):
        if summary.get(key) != counts[verdict]:
            yield ".summary." + key, f"{summary.get(key)}, but {counts[verdict]} scenarios are {verdict}"
    if summary.get("total") != len(scenarios):
        yield ".summary.total", f"{summary.get('total')}, but there are {len(scenarios)} scenarios"
    highest = max([s.get("exit_code", 0) for s in scenarios], default=0)
    if report.get("exit_code") != highest:
        yield ".exit_code", f"{report.get('exit_code')}, but the highest scenario exit_code is {highest}"
    for i, s in enumerate(scenarios):
        steps = s.get("steps", [])
        for j, step in enumerate(steps):
            for stream in ("stdout", "stderr"):
                if stream + "_base64" in step:
                    try:
                        raw = base64.b64decode(step[stream + "_base64"], validate=True)
                    except binascii.Error as e:
                        yield f".scenarios[{i}].steps[{j}].{stream}_base64", f"not base64: {e}"
                        continue
                    try:
                        raw.decode("utf-8")
                        yield (f".scenarios[{i}].steps[{j}].{stream}_base64",
                               "present although the bytes are valid UTF-8")
                    except UnicodeDecodeError:
                        pass
        skipped_steps = s.get("skipped_steps", [])
        lines = [step.get("line") for step in steps] + [step.get("line") for step in skipped_steps]
        if lines != sorted(lines) or len(set(lines)) != len(lines):
            yield (f".scenarios[{i}].skipped_steps",
                   f"the lines of steps and skipped_steps ({lines}) are not the scenario's steps in order")
        reasons = {step.get("reason") for step in skipped_steps}
        if len(reasons) > 1:
            yield f".scenarios[{i}].skipped_steps", f"{len(reasons)} reasons; one thing stopped the steps"
        for j, fault in enumerate(s.get("faults", [])):
            at = f".scenarios[{i}].faults[{j}]"
            for k, frame in enumerate(fault.get("frames", [])):
                printed = frame.get("frame", "").split(" ")[0]
                if printed not in fault.get("report", ""):
                    yield f"{at}.frames[{k}].frame", f"{printed!r} is not in the fault's report"
                if frame.get("user") and not frame.get("module"):
                    yield f"{at}.frames[{k}].user", "true for a frame of no module"
            index = fault.get("step_index")
            if index is None:
                continue
            if not 1 <= index <= len(steps):
                yield at + ".step_index", f"{index}, but the scenario has {len(steps)} steps"
            elif fault.get("step") != steps[index - 1].get("command"):
                yield (at + ".step", f"{fault.get('step')!r} is not the command of step {index} "
                       f"({steps[index - 1].get('command')!r})")


def main(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        import jsonschema
    except ImportError:
        print("check_report_json: python3-jsonschema is missing (apt-get install "
              "python3-jsonschema, or scripts/setup.sh); run with /usr/bin/python3", file=sys.stderr)
        return 2
    try:
        with open(SCHEMA) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        print(f"check_report_json: {SCHEMA}: {e}", file=sys.stderr)
        return 2
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    for name in argv[1:]:
        try:
            with open(name, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            print(f"{name}: {e}", file=sys.stderr)
            return 2
        problems = [(place(e.absolute_path), e.message) for e in validator.iter_errors(report)]
        if not problems:
            problems = list(cross_checks(report))
        for where, what in problems:
            print(f"{name}: {where}: {what}")
        bad += bool(problems)
        if not problems:
            print(f"{name}: valid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
