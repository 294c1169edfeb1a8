#!/usr/bin/env python3
"""labctl's man page and bash completion, made from its own --help at build time.

Every option, positional, subcommand, exit code and footer comes from `labctl --help` and
`labctl SUBCOMMAND --help` (CLI11's output), so neither file can drift from the binary; only
the ENVIRONMENT, FILES and SEE ALSO sections are written here.

    usage: help-docs.py LABCTL --man OUT.1 --completion OUT.bash
"""

import argparse
import re
import subprocess
import sys

ENVIRONMENT = [
    ("LABCTL_HOME", "Where labctl's data lives (initrd/, configs/, templates/, scenarios/), "
     "instead of the installed share/labctl next to the binary."),
    ("LABCTL_CACHE_DIR", "The cache (built modules, initrds, extracted vmlinux, run "
     "artifacts); default $XDG_CACHE_HOME/labctl."),
    ("XDG_CACHE_HOME", "Default ~/.cache; the cache is its labctl/ folder."),
    ("XDG_CONFIG_HOME", "Default ~/.config; user profiles are its labctl/NAME.json."),
    ("TMPDIR", "Where each VM's private 0700 folder (its sockets) is made; default /tmp."),
    ("NO_COLOR", "When set, no colour in the output."),
]

FILES = [
    ("./configs/NAME.json", "A profile of the project (the current folder), found first by "
     "--profile NAME."),
    ("$XDG_CONFIG_HOME/labctl/NAME.json", "A profile of the user (default "
     "~/.config/labctl/NAME.json), found second."),
    ("PREFIX/share/labctl/configs/NAME.json", "The installed profiles (default.json), found "
     "last; `labctl doctor` prints the file it used, `labctl list --profiles` every name."),
    ("PREFIX/share/labctl/", "The guest scripts (initrd/), the templates of `labctl new` "
     "(templates/), the shipped scenarios and modules (scenarios/, kmod/)."),
    ("~/.cache/labctl/", "The build cache and the artifacts of runs (runs/) and shells "
     "(shells/)."),
    ("PREFIX/share/doc/labctl/", "The reference: scenario.md, profile.md, faults.md, ci.md "
     "and the CI recipes."),
]

# How the completion completes an option's value (the rest complete file names).
VALUE_KINDS = {
    "--profile": "profile",
    "--kernel": "kernel",
    "--artifacts": "dir",
    "--module": "dir",
    "-m": "dir",
    "--with": "dir",
    "--trace": "none",
    "--jobs": "none",
    "-j": "none",
    "--shard": "none",
}
# And a positional, by its name in --help.
POSITIONAL_KINDS = {"SCENARIO": "scenario", "MODULE_DIR": "dir", "DIR": "dir", "NAME": "none"}


def labctl_help(labctl, *args):
    r = subprocess.run([labctl, *args, "--help"], capture_output=True, text=True, check=True)
    return r.stdout


class Entry:
    def __init__(self, names, value, text):
        self.names = names  # ["-j", "--jobs"] or ["SCENARIO"]
        self.value = value  # "INT", "TEXT ...", "" for a flag
        self.text = text


class Help:
    """One --help: description, usage, its sections (Options:, Positionals:, Subcommands:)
    and the footer (whatever follows them)."""

    def __init__(self, text):
        lines = text.rstrip("\n").split("\n")
        self.description = lines[0]
        self.usage = lines[1].removeprefix("Usage: ")
        self.sections = {}
        self.footer = []
        section = None
        for line in lines[2:]:
            heading = re.fullmatch(r"(Options|Positionals|Subcommands):", line)
            if heading:
                section = heading.group(1)
                self.sections[section] = []
            elif section and line.startswith("  ") and not line.startswith("   "):
                m = re.match(r"  (\S+)((?: [A-Z][A-Z_]*(?::\S+)?(?:=\S*)?(?: \.\.\.)?)*)\s*(.*)$",
                             line)
                names, value, desc = m.group(1), m.group(2).strip(), m.group(3)
                self.sections[section].append(Entry(names.split(","), value, desc))
            elif section and line.startswith("   ") and self.sections[section]:
                self.sections[section][-1].text += " " + line.strip()  # a wrapped description
            elif section and line == "":
                continue
            else:
                section = None
                self.footer.append(line)

    def entries(self, section):
        return self.sections.get(section, [])


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + l) if l.startswith((".", "'")) else l for l in text.split("\n"))


def split_footer(footer):
    """The footer's "Exit codes:" block as (code, meaning) pairs, and the other lines."""
    codes, other, i = [], [], 0
    while i < len(footer):
        if footer[i] == "Exit codes:":
            i += 1
            while i < len(footer) and footer[i].startswith("  "):
                m = re.match(r"  (\d+)\s+(.*)", footer[i])
                if m:
                    codes.append([m.group(1), m.group(2)])
                else:
                    codes[-1][1] += " " + footer[i].strip()
                i += 1
        else:
            other.append(footer[i])
            i += 1
    while other and other[-1] == "":
        other.pop()
    return codes, other


def man_entries(entries):
    out = []
    for e in entries:
        label = ", ".join(f"\\fB{roff(n)}\\fR" for n in e.names)
        if e.value:
            label += " \\fI" + roff(e.value) + "\\fR"
        out += [".TP", label, roff(e.text)]
    return out


def make_man(top, subs, version):
    codes, top_footer = split_footer(top.footer)
    out = [f'.TH LABCTL 1 "" "{roff(version)}" "User Commands"', ".nh", ".ad l", ".SH NAME",
           "labctl \\- " + roff(top.description.split(": ", 1)[-1]), ".SH SYNOPSIS"]
    for name, h in subs.items():
        out += [".br", "\\fBlabctl\\fR [\\fIGLOBAL OPTIONS\\fR] " + roff(h.usage.split(" ", 1)[1])]
    out += [".SH DESCRIPTION", roff(top.description) + ".",
            "Each subcommand is described below with its own options; the global options "
            "go before or after it."]
    out += [".SH GLOBAL OPTIONS"] + man_entries(top.entries("Options"))
    out += [".SH COMMANDS"]
    for name, h in subs.items():
        out += [".SS " + roff("labctl " + h.usage.split(" ", 1)[1]), roff(h.description) + "."]
        out += man_entries(h.entries("Positionals"))
        out += man_entries(e for e in h.entries("Options") if e.names != ["-h", "--help"])
        # The footer of its own (shell's keys, new's files), not the lines every one ends with.
        extra = [l for l in split_footer(h.footer)[1] if l not in top_footer or l == ""]
        while extra and extra[-1] == "":
            extra.pop()
        if extra:
            out += [".PP", ".nf"] + [roff(l) for l in extra] + [".fi"]
    out += [".SH EXIT STATUS"]
    for code, meaning in codes:
        out += [".TP", f"\\fB{code}\\fR", roff(meaning)]
    if top_footer:
        out += [".PP"] + [roff(l) for l in top_footer if l]
    out += [".SH ENVIRONMENT"]
    for name, text in ENVIRONMENT:
        out += [".TP", f"\\fB{name}\\fR", roff(text)]
    out += [".SH FILES"]
    for name, text in FILES:
        out += [".TP", f"\\fI{roff(name)}\\fR", roff(text)]
    out += [".SH SEE ALSO", "\\fBqemu-system-x86_64\\fR(1), \\fBbusybox\\fR(1), "
            "\\fBinsmod\\fR(8), \\fBgdb\\fR(1); the reference in \\fI/usr/share/doc/labctl/\\fR."]
    return "\n".join(out) + "\n"


def option_words(h):
    return [n for e in h.entries("Options") for n in e.names]


def valued(h):
    return [n for e in h.entries("Options") if e.value for n in e.names]


def kind_of(option):
    return VALUE_KINDS.get(option, "file")


def make_completion(top, subs):
    q = lambda words: " ".join(words)
    lines = [
        "# bash completion for labctl: generated from its --help by scripts/help-docs.py",
        "# (subcommands, options, scenario files, module folders, profile names, kernels).",
        "",
        "_labctl_value() { # $1: what the value is, $2: the word so far",
        '\tcase $1 in',
        "\tprofile) mapfile -t COMPREPLY < <(compgen -W \"$(labctl list --profiles 2>/dev/null"
        " | cut -d' ' -f1)\" -- \"$2\") ;;",
        "\tkernel) mapfile -t COMPREPLY < <(compgen -W \"all auto $(cd /boot 2>/dev/null &&"
        " printf '%s ' vmlinuz-* | sed 's/vmlinuz-//g')\" -- \"$2\") ;;",
        "\tdir) mapfile -t COMPREPLY < <(compgen -d -- \"$2\") ;;",
        "\tscenario) mapfile -t COMPREPLY < <(compgen -d -- \"$2\"; compgen -f -X '!*.json' -- \"$2\") ;;",
        "\tnone) COMPREPLY=() ;;",
        "\t*) mapfile -t COMPREPLY < <(compgen -f -- \"$2\") ;;",
        "\tesac",
        "}",
        "",
        "_labctl() {",
        '\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}',
        "\tlocal sub='' i w",
        f"\tlocal subcommands='{q(subs)}'",
        f"\tlocal global_options='{q(option_words(top))}'",
        f"\tlocal global_valued=' {q(valued(top))} '",
        "\tfor ((i = 1; i < COMP_CWORD; i++)); do",
        "\t\tw=${COMP_WORDS[i]}",
        '\t\tif [[ $global_valued == *" $w "* ]]; then',
        "\t\t\t((i++))",
        '\t\telif [[ " $subcommands " == *" $w "* ]]; then',
        "\t\t\tsub=$w",
        "\t\t\tbreak",
        "\t\tfi",
        "\tdone",
        "\tlocal options='' valued='' positional=none",
        "\tcase $sub in",
    ]
    for name, h in subs.items():
        pos = h.entries("Positionals")
        lines += [
            f"\t{name})",
            f"\t\toptions='{q(n for n in option_words(h) if n not in option_words(top))}'",
            f"\t\tvalued=' {q(valued(h))} '",
            f"\t\tpositional={POSITIONAL_KINDS.get(pos[0].names[0], 'file') if pos else 'none'}",
            "\t\t;;",
        ]
    lines += [
        "\tesac",
        '\tif [[ $global_valued == *" $prev "* || $valued == *" $prev "* ]]; then',
        "\t\tcase $prev in",
    ]
    kinds = {}
    for h in [top, *subs.values()]:
        for n in valued(h):
            kinds.setdefault(kind_of(n), set()).add(n)
    for kind, names in sorted(kinds.items()):
        lines.append(f"\t\t{'|'.join(sorted(names))}) _labctl_value {kind} \"$cur\" ;;")
    lines += [
        "\t\tesac",
        "\telif [[ -z $sub ]]; then",
        '\t\tif [[ $cur == -* ]]; then',
        '\t\t\tmapfile -t COMPREPLY < <(compgen -W "$global_options" -- "$cur")',
        "\t\telse",
        '\t\t\tmapfile -t COMPREPLY < <(compgen -W "$subcommands" -- "$cur")',
        "\t\tfi",
        '\telif [[ $cur == -* ]]; then',
        '\t\tmapfile -t COMPREPLY < <(compgen -W "$options $global_options" -- "$cur")',
        "\telse",
        '\t\t_labctl_value "$positional" "$cur"',
        "\tfi",
        "}",
        "complete -o filenames -F _labctl labctl",
    ]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("labctl")
    p.add_argument("--man", required=True)
    p.add_argument("--completion", required=True)
    a = p.parse_args()
    top = Help(labctl_help(a.labctl))
    names = [e.names[0] for e in top.entries("Subcommands")]
    if not names:
        sys.exit("help-docs.py: no subcommands in labctl --help")
    subs = {n: Help(labctl_help(a.labctl, n)) for n in names}
    version = subprocess.run([a.labctl, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    with open(a.man, "w") as f:
        f.write(make_man(top, subs, version))
    with open(a.completion, "w") as f:
        f.write(make_completion(top, subs))


if __name__ == "__main__":
    main()
