#!/usr/bin/python3
"""Overhead and detection latency of `harness run`, side by side in one process run.

For each of --runs pairs (order alternating), on the local Swarm:
  harness   `harness run pass` (tests/fixtures/recipes/pass: one busybox httpd with a
            healthcheck, one HTTP test): deploy, converge, test, teardown
  poll-1s   bench/poll1s.sh: the same Docker operations by hand, polling every second
            (deploy, wait healthy, one HTTP probe, remove, wait gone)
  floor     Docker's own time for the recipe, from its event stream, taken on the poll-1s
            runs (where Docker alone deploys and removes the stack): first task created
            (the service's create event: Swarm creates its tasks with it; Docker emits no
            task events) -> healthy, plus service removed -> last container destroyed.
            The same spans of the harness's own runs are printed beside it: the harness
            removes a throwaway deploy's containers itself, so its removal span is shorter
            than Docker's own.
Detection latency: from Docker's `health_status: healthy` event to the harness starting
its next phase (the started_at of the run's test proof packet).

Prints medians, the ratios, and p50/p95 of the detection latency.
Usage: bench/overhead.py [--runs N] [--harness build/harness]
"""
import argparse
import datetime
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Events:
    """`docker events` for containers and services, collected in the background."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ["docker", "events", "--format", "{{json .}}", "--filter", "type=container", "--filter", "type=service"],
            stdout=subprocess.PIPE, text=True)
        self.items = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.items.append(e)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()

    def of(self, ns):
        """Events of stack `ns`: containers by their stack label, services by name."""
        with self.lock:
            out = []
            for e in self.items:
                attrs = e.get("Actor", {}).get("Attributes", {})
                if e.get("Type") == "container" and attrs.get("com.docker.stack.namespace") == ns:
                    out.append(e)
                elif e.get("Type") == "service" and attrs.get("name", "").startswith(ns + "_"):
                    out.append(e)
            return out


def seconds(e):
    return e["timeNano"] / 1e9


def floor_of(events):
    """Docker's own time: service create -> first healthy, service remove -> last container destroy.
    Returns (up, down, healthy_at) or Nones."""
    created = [seconds(e) for e in events if e["Type"] == "service" and e["Action"] == "create"]
    healthy = [seconds(e) for e in events if e["Type"] == "container" and e["Action"] == "health_status: healthy"]
    removes = [seconds(e) for e in events if e["Type"] == "service" and e["Action"] == "remove"]
    destroys = [seconds(e) for e in events if e["Type"] == "container" and e["Action"] == "destroy"]
    if not (created and healthy and removes and destroys):
        return None, None, None
    return min(healthy) - min(created), max(destroys) - min(removes), min(healthy)


def iso_seconds(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


TICK = os.sysconf("SC_CLK_TCK")


def own_usage(pid):
    """The process's own CPU seconds (not its children's) and peak RSS in KiB, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
        with open(f"/proc/{pid}/status") as f:
            hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        return cpu, hwm
    except (OSError, StopIteration, IndexError, ValueError):
        return None


def run_sampled(argv, every):
    """Runs argv; its wall time, exit code, stdout, stderr, and its own CPU seconds and peak
    RSS in KiB (sampled every `every` seconds until it exits; None if never read)."""
    started = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    usage = None
    while p.poll() is None:
        usage = own_usage(p.pid) or usage
        time.sleep(every)
    out, err = p.communicate()
    return time.monotonic() - started, p.returncode, out, err, usage


def run_harness(harness, work):
    """Runs `harness run pass`; its wall time, namespace, run id, own CPU seconds and peak RSS."""
    wall, code, out, err, usage = run_sampled(
        [harness, "--recipes", os.path.join(ROOT, "tests/fixtures/recipes"), "--artifacts",
         os.path.join(work, "artifacts"), "--state", os.path.join(work, "state"), "--json", "-q", "run", "pass"], 0.02)
    if code != 0:
        sys.exit(f"harness run failed ({code}): {err}{out}")
    summary = json.loads(out)
    return wall, summary["namespace"], summary["run_id"], usage


def run_script(work, ns):
    started = time.monotonic()
    r = subprocess.run(["bash", os.path.join(ROOT, "bench/poll1s.sh"),
                        os.path.join(ROOT, "tests/fixtures/recipes/pass/compose.yml"), ns],
                       capture_output=True, text=True)
    wall = time.monotonic() - started
    if r.returncode != 0:
        sys.exit(f"poll1s.sh failed ({r.returncode}): {r.stderr}")
    return wall


def test_started(work, run_id):
    for path in glob.glob(os.path.join(work, "artifacts", run_id, "*-test.json")):
        with open(path) as f:
            return iso_seconds(json.load(f)["started_at"])
    return None


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--harness", default=os.path.join(ROOT, "build/harness"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="harness-bench-")
    events = Events()
    time.sleep(0.5)  # docker events is subscribed
    rows = []
    latencies = []
    try:
        for i in range(args.runs):
            order = ["harness", "script"] if i % 2 == 0 else ["script", "harness"]
            row = {}
            for which in order:
                if which == "harness":
                    wall, ns, run_id, usage = run_harness(args.harness, work)
                    if usage:
                        row["cpu"], row["rss"] = usage
                    time.sleep(1)  # the last events arrive
                    up, down, healthy_at = floor_of(events.of(ns))
                    row["harness"] = wall
                    row["harness_docker"] = None if up is None else up + down
                    started = test_started(work, run_id)
                    if healthy_at is not None and started is not None:
                        latencies.append(started - healthy_at)
                else:
                    ns = f"benchpoll{os.getpid()}x{i}"
                    row["script"] = run_script(work, ns)
                    time.sleep(1)  # the last events arrive
                    up, down, _ = floor_of(events.of(ns))
                    row["floor"] = None if up is None else up + down
                    row["floor_up"], row["floor_down"] = up, down
            rows.append(row)
            fmt = lambda v: "?" if v is None else f"{v:.2f}"
            print(f"pair {i + 1}: harness {row['harness']:.2f}s  poll-1s {row['script']:.2f}s  floor "
                  f"{fmt(row['floor'])}s (up {fmt(row['floor_up'])}s, down {fmt(row['floor_down'])}s)  "
                  f"Docker spans of the harness run {fmt(row['harness_docker'])}s", flush=True)
    finally:
        events.stop()
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median([r[k] for r in rows if r.get(k) is not None]) for k in ("harness", "script", "floor", "harness_docker")}
    print()
    print(f"median of {len(rows)} paired runs")
    print(f"  harness run       {med['harness']:7.2f} s")
    print(f"  poll-1s script    {med['script']:7.2f} s   harness / script = {med['harness'] / med['script']:.3f}"
          "  (target <= 0.90)")
    print(f"  Docker floor      {med['floor']:7.2f} s   harness / floor  = {med['harness'] / med['floor']:.3f}"
          "  (target <= 1.05)")
    print(f"  Docker spans of the harness runs {med['harness_docker']:.2f} s (its removal is the harness's own)")
    cpu = [r["cpu"] / r["harness"] for r in rows if "cpu" in r]
    if cpu:
        print(f"engine cost: the harness's own CPU {100 * statistics.median(cpu):.2f}% of a run's wall time"
              f" (median; target <= 2%), peak RSS {max(r['rss'] for r in rows if 'rss' in r) / 1024:.1f} MiB")
    if latencies:
        ms = [1000 * x for x in latencies]
        print(f"detection latency (healthy event -> test phase): p50 {percentile(ms, 50):.0f} ms, "
              f"p95 {percentile(ms, 95):.0f} ms over {len(ms)} runs  (target p95 <= 100 ms)")


if __name__ == "__main__":
    main()
