#!/usr/bin/env python3
"""Check the CI recipes (docs/ci/*.yml): each parses as YAML, and each labctl command line
in their scripts names a real subcommand and real options (as the built labctl's --help
lists them), gives a value to each option that takes one, and a --shard K/N whose N matches
the job matrix (GitHub's `shard` list, GitLab's `parallel`).

    usage: check_ci_recipes.py LABCTL RECIPE.yml...   (exit 0: all good; else one line each)
"""

import importlib.util
import os
import re
import shlex
import sys

import yaml

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "help_docs", os.path.join(here, "..", "scripts", "help-docs.py"))
help_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(help_docs)


def scripts_of(node):
    """Every shell script in a workflow: GitHub's `run:` strings, GitLab's `script:` lists."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                yield value
            elif key in ("script", "before_script", "after_script"):
                yield from (value if isinstance(value, list) else [value])
            else:
                yield from scripts_of(value)
    elif isinstance(node, list):
        for item in node:
            yield from scripts_of(item)


def shard_counts(node):
    """How many jobs each matrix or parallel keyword makes."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "shard" and isinstance(value, list):
                yield len(value)
            elif key == "parallel" and isinstance(value, int):
                yield value
            else:
                yield from shard_counts(value)
    elif isinstance(node, list):
        for item in node:
            yield from shard_counts(item)


def main():
    labctl, recipes = sys.argv[1], sys.argv[2:]
    top = help_docs.Help(help_docs.labctl_help(labctl))
    subs = {e.names[0]: help_docs.Help(help_docs.labctl_help(labctl, e.names[0]))
            for e in top.entries("Subcommands")}
    problems = []
    for recipe in recipes:
        with open(recipe) as f:
            doc = yaml.safe_load(f)
        counts = set(shard_counts(doc))
        commands = 0
        for script in scripts_of(doc):
            for line in str(script).split("\n"):
                line = line.strip()
                if not line.startswith("labctl "):
                    continue
                commands += 1
                # CI variables stand for a shard number: ${{ matrix.shard }}, $CI_NODE_INDEX
                total = {"CI_NODE_TOTAL": str(max(counts, default=1))}
                text = re.sub(r"\$\{\{[^}]*\}\}", "1", line)
                text = re.sub(r"\$\{?(\w+)\}?", lambda m: total.get(m.group(1), "1"), text)
                problems += check_command(recipe, line, shlex.split(text), top, subs, counts)
        if commands == 0:
            problems.append(f"{recipe}: no labctl command line")
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


def check_command(recipe, line, words, top, subs, counts):
    where = f"{recipe}: '{line}'"
    options = {n: e for e in top.entries("Options") for n in e.names}
    sub = None
    i = 1
    while i < len(words):
        w = words[i]
        name = w.split("=", 1)[0]
        if w.startswith("-"):
            entry = options.get(name)
            if entry is None:
                return [f"{where}: {name} is not an option of labctl {sub or ''}".rstrip()]
            if entry.value and "=" not in w:
                i += 1
                if i >= len(words):
                    return [f"{where}: {name} needs a value"]
                if name == "--shard":
                    m = re.fullmatch(r"(\d+)/(\d+)", words[i])
                    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
                        return [f"{where}: --shard {words[i]} is not K/N"]
                    if counts and int(m.group(2)) not in counts:
                        return [f"{where}: --shard .../{m.group(2)} but the jobs make "
                                f"{sorted(counts)} shards"]
        elif sub is None:
            if w not in subs:
                return [f"{where}: {w} is not a labctl subcommand"]
            sub = w
            options.update({n: e for e in subs[w].entries("Options") for n in e.names})
        i += 1
    return [] if sub else [f"{where}: no subcommand"]


if __name__ == "__main__":
    main()
