#!/usr/bin/python3
"""Makespan of `harness sweep` against its lower bound, at --jobs 1, 2 and 4.

N synthetic recipes (one busybox httpd with a healthcheck; one test that keeps the
container busy for a known time, spread from --shortest to --longest seconds) are swept
at each --jobs level. The lower bound of a sweep is max(longest run, total of runs /
jobs), with each run's own duration from the sweep's summary; the ratio is the sweep's
wall time over that bound. The sweep process's own CPU time (its docker children excluded)
and peak RSS are printed with each level: the engine's cost with that many runs at once;
beside it, "with its children", the CPU of the sweep and of every descendant it waited
for (the rusage of wait4(): the docker CLI processes it started), all the CPU the
harness's own processes take (not what they ask of dockerd or the containers).

With --canon FOLDER, the recipes of that folder are swept instead (the bundled canon:
--canon recipes); a recipe failing there (the canon's `broken`) is part of the sweep,
not an error of the benchmark.

Usage: bench/makespan.py [--recipes N | --canon FOLDER] [--jobs 1,2,4] [--harness build/harness]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from overhead import run_sampled  # noqa: E402  the same /proc sampling and wait4()


def make_recipes(folder, count, shortest, longest):
    compose_src = os.path.join(ROOT, "tests/fixtures/recipes/pass/compose.yml")
    for i in range(count):
        busy = shortest + (longest - shortest) * i / max(1, count - 1)
        d = os.path.join(folder, f"synth{i:02d}")
        os.makedirs(d)
        shutil.copy(compose_src, os.path.join(d, "compose.yml"))
        with open(os.path.join(d, "recipe.lua"), "w") as f:
            f.write("return recipe {\n"
                    f"  tests = {{ {{ \"busy {busy:.1f}s\", function()\n"
                    f"      local r = exec(\"app\", {{ \"sleep\", \"{busy:.1f}\" }})\n"
                    "      expect.eq(r.code, 0, \"sleep in app\")\n"
                    "    end } },\n"
                    "}\n")


def image_refs():
    """The repository:tag names Docker holds now."""
    out = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipes", type=int, default=6)
    ap.add_argument("--jobs", default="1,2,4")
    ap.add_argument("--shortest", type=float, default=1.0)
    ap.add_argument("--longest", type=float, default=12.0)
    ap.add_argument("--canon", help="sweep the recipes of this folder instead of synthetic ones")
    ap.add_argument("--harness", default=os.path.join(ROOT, "build/harness"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="harness-makespan-")
    before = image_refs()  # a canon's runs pull registry images: removed again at the end
    try:
        if args.canon:
            recipes = os.path.abspath(args.canon)
            print(f"the recipes of {args.canon}: {', '.join(sorted(os.listdir(recipes)))}")
        else:
            recipes = os.path.join(work, "recipes")
            make_recipes(recipes, args.recipes, args.shortest, args.longest)
            print(f"{args.recipes} synthetic recipes, busy {args.shortest:.0f}-{args.longest:.0f} s each")
        for jobs in [int(j) for j in args.jobs.split(",")]:
            r = run_sampled(
                [args.harness, "--recipes", recipes, "--artifacts", os.path.join(work, f"a{jobs}"),
                 "--state", os.path.join(work, "state"), "--json", "-q", "sweep", "--jobs", str(jobs)], 0.05)
            wall = r.wall
            if r.code != 0 and not (args.canon and r.code == 1):  # 1: a recipe failed
                sys.exit(f"sweep --jobs {jobs} failed ({r.code}): {r.err[-2000:]}")
            runs = [x["elapsed_ms"] / 1000 for x in json.loads(r.out)["runs"]]
            bound = max(max(runs), sum(runs) / jobs)
            cost = "" if r.usage is None else (f"; the harness's own CPU {100 * r.usage[0] / wall:.2f}% of the wall "
                                               f"time, with its children {100 * r.tree / wall:.2f}%, "
                                               f"peak RSS {r.usage[1] / 1024:.1f} MiB")
            print(f"--jobs {jobs}: makespan {wall:6.1f} s, bound {bound:6.1f} s (longest {max(runs):.1f} s, "
                  f"total {sum(runs):.1f} s), ratio {wall / bound:.3f}  (target <= 1.10){cost}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        pulled = sorted(image_refs() - before)
        if pulled:
            subprocess.run(["docker", "image", "rm"] + pulled, capture_output=True)
            print(f"removed the images the sweeps pulled: {', '.join(pulled)}")


if __name__ == "__main__":
    main()
