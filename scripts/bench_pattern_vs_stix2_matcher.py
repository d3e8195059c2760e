#!/usr/bin/env python3
"""Shieldwall's pattern evaluator beside the OASIS reference matcher (stix2-matcher), on the
same generated files, in the same run.

1. Runs the Rust bench binary (`cargo bench -p shieldwall-pattern --bench pattern_eval`), which
   writes patterns-P.txt and observed-O.json and times compile + evaluate of every pattern
   against all O observations.
2. Times stix2-matcher's `match()` on a sample of the same patterns against the same bundle.
   The full runs would take hours (each call takes a fraction of a second to seconds on 10,000
   observations), so the Python side is sampled: every k-th pattern, at most --sample patterns.
   The sample keeps the generated mix because patterns are generated independently in order.
3. With --shieldwall BINARY, also times the command line's batch mode on the same files, as a
   whole process (loading the observations, compiling and evaluating every pattern on every
   core): `shieldwall pattern match --patterns patterns-P.txt --observed observed-O.json --json`,
   and checks that its verdicts agree with stix2-matcher's on the sampled patterns.
4. Prints the throughputs (pattern x observation evaluations per second) and the ratios.

Usage: scripts/bench_pattern_vs_stix2_matcher.py [--python-sample 40] [--patterns 1000,10000]
Run it with the Python that has stix2-matcher installed (e.g. .venv/bin/python after `pip install stix2-matcher`).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

from stix2matcher.matcher import match


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patterns", default="1000,10000")
    ap.add_argument("--observations", type=int, default=10000)
    ap.add_argument("--python-sample", type=int, default=40)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--shieldwall", default=None, help="a release `shieldwall` binary: time its batch mode too")
    args = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    bench_dir = args.dir or os.path.join(target, "pattern-bench")
    cmd = ["cargo", "bench", "-q", "-p", "shieldwall-pattern", "--bench", "pattern_eval", "--",
           "--dir", bench_dir, "--patterns", args.patterns,
           "--observations", str(args.observations), "--json"]
    print("$ " + " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True).stdout
    rust = json.loads(out.strip().splitlines()[-1])

    report = {"machine": f"{platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}",
              "rust_load_seconds": rust["load_seconds"], "runs": []}
    with open(rust["runs"][0]["observed_file"]) as f:
        bundle = json.load(f)
    observed = [bundle]
    for run in rust["runs"]:
        with open(run["patterns_file"]) as f:
            pats = [line.rstrip("\n") for line in f if line.strip()]
        step = max(1, len(pats) // args.python_sample)
        sample = pats[::step][: args.python_sample]
        t = time.perf_counter()
        py_matched = 0
        for p in sample:
            if match(p, observed, stix_version="2.1"):
                py_matched += 1
        py_s = time.perf_counter() - t
        cli = None
        if args.shieldwall:
            t = time.perf_counter()
            res = subprocess.run([args.shieldwall, "pattern", "match", "--json", "--patterns",
                                  run["patterns_file"], "--observed", run["observed_file"]],
                                 capture_output=True, text=True)
            cli_s = time.perf_counter() - t
            out = json.loads(res.stdout)
            verdicts = [r.get("matched") for r in out["results"]]
            sampled = verdicts[::step][: args.python_sample]
            py_verdicts = [bool(match(p, observed, stix_version="2.1")) for p in sample]
            cli = {"seconds": cli_s, "matched": out["matched"], "errors": out["errors"],
                   "agrees_on_sample": sampled == py_verdicts}
        o = run["observations"]
        py_rate = len(sample) * o / py_s
        rs_rate = run["evaluations_per_second"]
        rs_rate_c = run["evaluations_per_second_incl_compile"]
        entry = {
            "patterns": run["patterns"], "observations": o,
            "rust_evaluate_seconds": run["evaluate_seconds"],
            "rust_compile_seconds": run["compile_seconds"],
            "rust_matched": run["matched"], "rust_errors": run["errors"],
            "rust_evals_per_s": rs_rate, "rust_evals_per_s_incl_compile": rs_rate_c,
            "python_sampled_patterns": len(sample), "python_seconds": py_s,
            "python_matched_in_sample": py_matched,
            "python_evals_per_s": py_rate,
            "ratio": rs_rate / py_rate, "ratio_incl_compile": rs_rate_c / py_rate,
        }
        if cli:
            cli_rate = run["patterns"] * o / cli["seconds"]
            entry.update({"cli_seconds": cli["seconds"], "cli_matched": cli["matched"],
                          "cli_errors": cli["errors"], "cli_evals_per_s": cli_rate,
                          "cli_ratio": cli_rate / py_rate,
                          "cli_agrees_with_stix2_matcher_on_sample": cli["agrees_on_sample"]})
            print(f"  shieldwall pattern match --patterns (whole process): {cli['seconds']:.2f}s, "
                  f"{cli_rate:.3e} evals/s, ratio {cli_rate / py_rate:.0f}x; verdicts agree on the "
                  f"sample: {cli['agrees_on_sample']}")
        report["runs"].append(entry)
        print(f"P={run['patterns']} O={o}: shieldwall {rs_rate:.3e} evals/s "
              f"({rs_rate_c:.3e} incl. compile); stix2-matcher {py_rate:.3e} evals/s "
              f"(sample of {len(sample)} patterns, {py_s:.1f}s); ratio {rs_rate / py_rate:.0f}x "
              f"({rs_rate_c / py_rate:.0f}x incl. compile)")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
