#!/usr/bin/env python3
"""labctl benchmarks, measured in one run on the same kernel (medians, ratios).

  boot     (a) the article's way: qemu -kernel /boot/vmlinuz-* -initrd <busybox initrd whose
               /init powers off>, vs (b) labctl booting bench/one-step.json, warm cache.
               Target: median(b) / median(a) <= 0.6 under TCG.
  steps    median round trip of a `true` step, 100 in a row. Target <= 30 ms under TCG.
  parallel 4 scenarios with -j 1 vs -j 2. Target: throughput(-j 2) >= 1.7 x throughput(-j 1).
  cached   `labctl build` of an unchanged module whose header lives outside its folder
           (tests/kmod/pwd_include: every input kbuild recorded is re-hashed before the
           cached .ko is used), vs kbuild's own no-op `make M=` in a built copy of the same
           folder. Target: the cached check stays near 15 ms and far below make's no-op.
  matrix   scenarios/smoke.json on every kernel (`--kernel R1,R2`, the two oldest and newest
           kernels doctor lists) vs on the newest alone, both at -j 1, warm caches,
           interleaved. Target: two kernels cost <= 2.1 x one. Also each kernel's median boot
           (QEMU start to READY) from the same two-kernel runs.

Usage: bench/bench.py [--runs N] [boot] [steps] [parallel] [cached] [matrix]   (build/cli/labctl must exist)
"""
import argparse, glob, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABCTL = os.path.join(ROOT, "build", "cli", "labctl")


def newest_kernel():
    out = subprocess.run([LABCTL, "doctor"], capture_output=True, text=True).stdout
    m = re.search(r"kernel\s+(\S+)", out)
    if not m:
        sys.exit("bench: labctl doctor found no kernel:\n" + out)
    return m.group(1)


def kernel_releases():
    """The releases doctor lists (every kernel with an image and headers), oldest first."""
    out = subprocess.run([LABCTL, "doctor"], capture_output=True, text=True).stdout
    return re.findall(r"release\s+(\S+?)(?: \(auto\))?: image", out)


def article_initrd(tmp):
    """A busybox initrd whose /init powers off at once, packed the article's way (cpio)."""
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
    with open(os.path.join(root, "init"), "w") as f:
        f.write("#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc 2>/dev/null\n"
                "echo INIT-REACHED\n/bin/busybox poweroff -f\n")
    os.chmod(os.path.join(root, "init"), 0o755)
    os.makedirs(os.path.join(root, "proc"))
    out = os.path.join(tmp, "article.cpio.gz")
    subprocess.run(f"cd {root} && find . | cpio -o -H newc --quiet | gzip -9 > {out}",
                   shell=True, check=True)
    return out


def run_article(kernel, initrd):
    argv = ["qemu-system-x86_64", "-nodefaults", "-no-reboot", "-display", "none", "-accel", "tcg",
            "-m", "256M", "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0 panic=-1", "-serial", "stdio"]
    start = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = init = None
    for line in p.stdout:
        now = time.monotonic() - start
        if first is None and line.strip():
            first = now
        if init is None and b"INIT-REACHED" in line:
            init = now
    p.wait()
    return {"wall": time.monotonic() - start, "first_console_line": first, "ready": init}


def run_labctl(scenario, art, extra=()):
    start = time.monotonic()
    r = subprocess.run([LABCTL, "-q", "run", "--artifacts", art, "--json", art + "/r.json",
                        *extra, *scenario], capture_output=True, text=True)
    wall = time.monotonic() - start
    if r.returncode != 0:
        sys.exit(f"bench: labctl failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    with open(art + "/r.json") as f:
        return wall, json.load(f)["scenarios"]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def bench_boot(runs, tmp):
    kernel = newest_kernel()
    initrd = article_initrd(tmp)
    run_labctl([os.path.join(ROOT, "bench/one-step.json")], tmp + "/warm")  # warm the caches
    a, b = [], []
    for i in range(runs):  # interleaved, so both see the same machine load
        a.append(run_article(kernel, initrd))
        wall, sc = run_labctl([os.path.join(ROOT, "bench/one-step.json")], f"{tmp}/b{i}")
        t = dict(sc[0]["timeline"])
        t["wall"] = wall
        b.append(t)
    ma, mb = med([x["wall"] for x in a]), med([x["wall"] for x in b])
    print(f"boot ({runs} runs each, kernel {kernel}, TCG)")
    print(f"  (a) article: bzImage + cpio initrd, poweroff at init: median {ma:.2f} s"
          f"  [first kernel line {med([x['first_console_line'] for x in a]):.2f} s,"
          f" init {med([x['ready'] for x in a]):.2f} s]")
    keys = ["qemu_started", "first_console_line", "init_started", "ready", "steps_done", "qemu_exited"]
    where = ", ".join(f"{k} {med([x.get(k) for x in b]):.2f}" for k in keys)
    print(f"  (b) labctl one-step scenario, warm cache: median {mb:.2f} s  [{where}]")
    print(f"  ratio (b)/(a) = {mb / ma:.2f}  (target <= 0.60)")
    return mb / ma


def bench_steps(runs, tmp):
    medians = []
    for i in range(runs):
        _, sc = run_labctl([os.path.join(ROOT, "bench/hundred-steps.json")], f"{tmp}/s{i}")
        medians.append(statistics.median(s["seconds"] for s in sc[0]["steps"]))
    m = statistics.median(medians) * 1000
    print(f"steps: median round trip of `true` over 100 steps: {m:.1f} ms"
          f" (per-run medians {', '.join(f'{x*1000:.1f}' for x in medians)}; target <= 30 ms)")
    return m


def bench_parallel(runs, tmp):
    four = []
    for k in range(4):  # distinct files: labctl runs a scenario named twice only once
        four.append(os.path.join(tmp, f"one-step-{k + 1}.json"))
        shutil.copy(os.path.join(ROOT, "bench/one-step.json"), four[-1])
    j1, j2 = [], []
    for i in range(runs):
        j1.append(run_labctl(four, f"{tmp}/j1-{i}", ["-j", "1"])[0])
        j2.append(run_labctl(four, f"{tmp}/j2-{i}", ["-j", "2"])[0])
    speedup = med(j1) / med(j2)
    print(f"parallel: 4 scenarios, -j 1 median {med(j1):.2f} s, -j 2 median {med(j2):.2f} s:"
          f" throughput x{speedup:.2f} (target >= 1.7)")
    return speedup


def bench_cached(runs, tmp):
    module = os.path.join(ROOT, "tests", "kmod", "pwd_include", "module")
    env = dict(os.environ, LABCTL_CACHE_DIR=os.path.join(tmp, "cache"))

    def labctl_build():
        start = time.monotonic()
        subprocess.run([LABCTL, "-q", "build", module], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        return time.monotonic() - start

    labctl_build()  # fill the cache
    # Baseline: kbuild deciding there is nothing to do, in a built copy of the same tree.
    copy = os.path.join(tmp, "pwd_include")
    shutil.copytree(os.path.dirname(module), copy)
    release = os.path.basename(newest_kernel()).removeprefix("vmlinuz-")
    make = ["make", "-s", "-C", f"/lib/modules/{release}/build",
            f"M={copy}/module", "modules"]

    def make_noop():
        start = time.monotonic()
        subprocess.run(make, check=True, capture_output=True, cwd=f"{copy}/module",
                       env=dict(os.environ, PWD=f"{copy}/module"))
        return time.monotonic() - start

    make_noop()  # the first one builds the copy
    n = max(runs, 10)
    cached = [labctl_build() for _ in range(n)]
    noop = [make_noop() for _ in range(max(runs, 3))]
    print(f"cached: labctl build of an unchanged module: median {med(cached) * 1000:.0f} ms"
          f" over {n}; kbuild's no-op make: median {med(noop) * 1000:.0f} ms;"
          f" ratio {med(cached) / med(noop):.3f}")
    return med(cached)


def bench_matrix(runs, tmp):
    releases = kernel_releases()
    if len(releases) < 2:
        sys.exit(f"bench: matrix needs two kernels with headers, doctor lists {releases}")
    pair = [releases[0], releases[-1]]
    scenario = [os.path.join(ROOT, "scenarios/smoke.json")]
    one_kernel = ["-j", "1", "--kernel", pair[1]]
    two_kernels = ["-j", "1", "--kernel", ",".join(pair)]
    run_labctl(scenario, f"{tmp}/mwarm", two_kernels)  # build each kernel's modules, initrds
    one, two, boot = [], [], {r: [] for r in pair}
    for i in range(runs):  # interleaved, so both see the same machine load
        one.append(run_labctl(scenario, f"{tmp}/m1-{i}", one_kernel)[0])
        wall, sc = run_labctl(scenario, f"{tmp}/m2-{i}", two_kernels)
        two.append(wall)
        for r in sc:
            boot[r["kernel"]].append(dict(r["timeline"]).get("ready"))
    ratio = med(two) / med(one)
    print(f"matrix ({runs} runs each, scenarios/smoke.json, -j 1, TCG)")
    print(f"  one kernel ({pair[1]}): median {med(one):.2f} s;"
          f" two kernels: median {med(two):.2f} s; ratio {ratio:.2f} (target <= 2.10)")
    print("  boot to READY, median over the two-kernel runs: " +
          ", ".join(f"{r} {med(boot[r]):.2f} s" for r in pair))
    return ratio


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("which", nargs="*", default=["boot", "steps", "parallel", "cached", "matrix"])
    args = ap.parse_args()
    if not os.access(LABCTL, os.X_OK):
        sys.exit(f"bench: build labctl first ({LABCTL} missing): scripts/build.sh")
    with tempfile.TemporaryDirectory(prefix="labctl-bench.") as tmp:
        for which in args.which:
            {"boot": bench_boot, "steps": bench_steps, "parallel": bench_parallel,
             "cached": bench_cached, "matrix": bench_matrix}[which](args.runs, tmp)


if __name__ == "__main__":
    main()
