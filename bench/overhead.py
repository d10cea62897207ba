#!/usr/bin/python3
"""Overhead and detection latency of `harness run`, side by side in one process run.

For each of --runs pairs (order alternating), on the local Swarm:
  harness   `harness run pass` (tests/fixtures/recipes/pass: one busybox httpd with a
            healthcheck, one HTTP test): deploy, converge, test, teardown; another recipe
            with --recipe and --recipes (e.g. --recipe web --recipes recipes)
  poll-1s   bench/poll1s.sh on the recipe's compose.yml: the same Docker operations by
            hand, polling every second (deploy, wait healthy, one HTTP probe, remove, wait
            gone); always on the local Docker
  floor     Docker's own time for the recipe, from its event stream, taken on the poll-1s
            runs (where Docker alone deploys and removes the stack): first task created
            (the service's create event: Swarm creates its tasks with it; Docker emits no
            task events) -> healthy, plus service removed -> last container destroyed.
            The same spans of the harness's own runs are printed beside it: the harness
            removes a throwaway deploy's containers itself, so its removal span is shorter
            than Docker's own.
Detection latency: from Docker's `health_status: healthy` event to the harness starting
its next phase (the started_at of the run's test proof packet).

The whole CPU cost of each side of a pair, beside its wall time:
  tree CPU     user+sys of the process and of every descendant it waited for (the rusage
               of wait4(): the docker CLI processes the harness or the script starts,
               the script's sleeps); not what those processes ask of the daemon
  system CPU   non-idle CPU time of the whole machine while it ran (user+nice+system+irq+
               softirq+steal jiffies of /proc/stat), less this benchmark's own process
               (its `docker events` child stays in): dockerd, containerd, the shims, the
               containers and their healthchecks, the kernel, and anything else running,
               which --baseline seconds of quiet before the pairs measure (the
               "background" line; "above background" takes its rate times the wall
               time off each run).
               Of it, printed apart: Docker's processes (the dockerd of
               /var/run/docker.pid and its containerd with the children they waited
               for, from /proc, and each container's containerd-shim with the runc
               processes it waited for, sampled; see DockerCpu), the
               containers (the docker cgroup's CPU accounting, cgroup v1 cpuacct or v2
               cpu.stat, which keeps what removed containers used), and the rest once
               the side's tree CPU is taken off too: the kernel's work (network
               namespaces, the overlay network, mounts, page faults) and whatever
               else ran. The first two are untouched by other work on the machine that
               does not use Docker (a build or another run on the same Docker counts);
               the rest is not
  processes    the `processes` count of /proc/stat over the run: every fork and clone on
               the machine, threads included (a Go docker CLI starts several)
Both sides are sampled the same way (own CPU and RSS from /proc every 20 ms).

With --target ssh://... (and --ssh-key, --known-hosts) the harness side goes through
SSH; the script side stays local. The tree CPU of the harness then leaves out the docker
commands run by sshd on the target; the system CPU and processes include them only when
the target is this machine, and Docker's floor and the detection latency (read from the
local event stream) only then too.

Prints medians, the ratios, and p50/p95 of the detection latency.
Usage: bench/overhead.py [--runs N] [--harness build/harness] [--recipe pass]
                         [--recipes tests/fixtures/recipes] [--baseline SECONDS]
                         [--target ssh://user@host:port --ssh-key KEY --known-hosts FILE]
"""
import argparse
import datetime
import glob
import json
import os
import re
import resource
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
SAMPLE_EVERY = 0.02  # seconds between two reads of a running side's /proc, both sides alike
SCAN_EVERY = 0.2     # seconds between two looks for new containerd-shim processes


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


def system_usage():
    """Non-idle CPU seconds of the whole machine (user+nice+system+irq+softirq+steal; guest
    time is inside user) and the count of forks since boot, from /proc/stat."""
    busy = forks = None
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu "):
                v = [int(x) for x in line.split()[1:9]]
                busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / TICK
            elif line.startswith("processes "):
                forks = int(line.split()[1])
    return busy, forks


def proc_cpu(pid, children=False):
    """User+sys CPU seconds of a process so far, with those of the children it waited for
    when `children`; None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15 if children else 13]) / TICK
    except (OSError, IndexError, ValueError):
        return None


CGROUPS = [("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage", lambda t: int(t) / 1e9),  # cgroup v1
           ("/sys/fs/cgroup/docker/cpu.stat", lambda t: int(t.split()[1]) / 1e6)]    # v2, usage_usec first


def containers_cpu():
    """CPU seconds so far of every container: the docker cgroup's CPU accounting, which
    keeps what removed containers used (cgroupfs driver); None if not found."""
    for path, parse in CGROUPS:
        try:
            with open(path) as f:
                return parse(f.read())
        except (OSError, ValueError, IndexError):
            continue
    return None


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def cmdline(pid):
    return read(f"/proc/{pid}/cmdline").split("\0")


def ppid(pid):
    try:
        return int(read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()[1])
    except (IndexError, ValueError):
        return None


def option(argv, *names):
    """The value of the first of `names` in argv (`--name value` or `--name=value`)."""
    for i, a in enumerate(argv):
        for n in names:
            if a == n and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(n + "="):
                return a[len(n) + 1:]
    return None


def docker_daemon():
    """(dockerd pid, its containerd's pid or None, the containerd socket its shims are
    given) of this machine's Docker: the dockerd of /var/run/docker.pid, not another one
    a test may run beside it. The socket is the [grpc] address of a containerd dockerd
    started with --config, else containerd's --address, else containerd's default."""
    try:
        dockerd = int(read("/var/run/docker.pid").strip())
    except ValueError:
        return None, None, None
    if read(f"/proc/{dockerd}/comm").strip() != "dockerd":
        return None, None, None
    for d in os.listdir("/proc"):
        if d.isdigit() and read(f"/proc/{d}/comm").strip() == "containerd" and ppid(int(d)) == dockerd:
            argv = cmdline(int(d))
            address = option(argv, "--address", "-a")
            config = option(argv, "--config", "-c")
            if address is None and config:
                grpc = re.search(r'^\[grpc\][^\[]*?^\s*address\s*=\s*"([^"]+)"', read(config), re.M | re.S)
                address = grpc.group(1) if grpc else None
            return dockerd, int(d), address or "/run/containerd/containerd.sock"
    return dockerd, None, "/run/containerd/containerd.sock"  # a containerd of its own (not measured)


class DockerCpu:
    """The CPU this machine's Docker uses from the creation of this object to the last
    sample(): dockerd and the containerd it started, with the children they waited for
    (dockerd's re-executions that set up network namespaces: netns-create, set-ipv6,
    setup-resolver...; containerd's short-lived shim starters), and each container's
    containerd-shim of
    that containerd with the runc processes it waited for (runc create, an exec for every
    healthcheck, delete). The shims come and go with their containers and are
    re-parented to init, so they are sampled: a shim found by a scan counts from zero if
    it was not there at the start, and what one uses after its last sample before it
    exits is missed. Another dockerd (a test's second node) and its shims are left out."""

    SHIM = "containerd-shim"  # comm of containerd-shim-runc-v2, cut to 15 characters

    def __init__(self):
        self.comm = {}
        dockerd, containerd, self.address = docker_daemon()
        self.daemons = {pid: proc_cpu(pid, children=True) for pid in (dockerd, containerd) if pid}
        self.shims = {}    # pid -> [CPU at start or 0, CPU at the last sample]
        self.containers0 = containers_cpu()
        self.scan(first=True)

    def scan(self, first=False):
        """Looks for new shims of this Docker's containerd."""
        pids = set()
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            pid = int(d)
            pids.add(pid)
            if pid in self.comm:
                continue
            self.comm[pid] = read(f"/proc/{pid}/comm").strip()
            if self.comm[pid] == self.SHIM and option(cmdline(pid), "-address", "--address") == self.address:
                now = proc_cpu(pid, children=True)
                if now is not None:
                    self.shims[pid] = [now if first else 0.0, now]
        for pid in set(self.comm) - pids:
            del self.comm[pid]

    def sample(self):
        for span_pid, span in self.shims.items():
            now = proc_cpu(span_pid, children=True)
            if now is not None:
                span[1] = now

    def totals(self):
        """(dockerd + containerd + shims, containers) CPU seconds since the start; None
        for what could not be read."""
        self.sample()
        docker = sum(last - first for first, last in self.shims.values())
        for pid, first in self.daemons.items():
            now = proc_cpu(pid, children=True)
            if now is None or first is None:
                docker = None
                break
            docker += now - first
        if not self.daemons:
            docker = None
        return docker, minus(containers_cpu(), self.containers0)


def minus(a, b):
    return None if a is None or b is None else a - b


def self_cpu():
    """This benchmark's own CPU seconds (every thread of it, the events reader included)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Run:
    """One process run: wall (s), code, out, err; usage: its own CPU seconds and peak RSS
    in KiB (None if never read); tree: user+sys seconds of it and every descendant it
    waited for (wait4); system: non-idle CPU seconds of the machine during the run, less
    this benchmark's own; processes: forks on the machine during the run; daemons: CPU
    seconds of dockerd, containerd and the shims during the run (DockerCpu); containers:
    of the containers."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def run_sampled(argv, every, env=None):
    """Runs argv to its end, reading its own CPU and RSS from /proc every `every` seconds
    and once more when it has exited but is not yet reaped (waitid WNOWAIT), then reaps
    it with wait4() for the CPU of its whole tree. Output goes through temporary files (no
    pipe can fill while it runs). Returns a Run."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        busy0, forks0 = system_usage()
        docker = DockerCpu()
        self0 = self_cpu()
        started = time.monotonic()
        p = subprocess.Popen(argv, stdout=out, stderr=err, text=True, env=env)
        usage = None
        scanned = started
        while True:
            usage = own_usage(p.pid) or usage
            docker.sample()
            if time.monotonic() - scanned >= SCAN_EVERY:
                docker.scan()
                scanned = time.monotonic()
            if os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
            time.sleep(every)
        usage = own_usage(p.pid) or usage  # a zombie's /proc/<pid>/stat keeps its final times
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        busy1, forks1 = system_usage()
        docker.scan()
        daemons, containers = docker.totals()
        bench = self_cpu() - self0
        out.seek(0)
        err.seek(0)
        return Run(wall=wall, code=p.returncode, out=out.read(), err=err.read(), usage=usage,
                   tree=ru.ru_utime + ru.ru_stime, system=busy1 - busy0 - bench, processes=forks1 - forks0,
                   daemons=daemons, containers=containers)


def background(seconds):
    """The machine's non-idle CPU seconds per second and forks per second over `seconds`
    of this benchmark doing nothing but following Docker's events."""
    busy0, forks0 = system_usage()
    self0 = self_cpu()
    time.sleep(seconds)
    busy1, forks1 = system_usage()
    return (busy1 - busy0 - (self_cpu() - self0)) / seconds, (forks1 - forks0) / seconds


def run_harness(args, work):
    """Runs `harness run RECIPE`; its Run, namespace and run id."""
    argv = [args.harness, "--recipes", args.recipes, "--artifacts", os.path.join(work, "artifacts"),
            "--state", os.path.join(work, "state"), "--json", "-q"]
    if args.target != "local":
        argv += ["--target", args.target]
    if args.ssh_key:
        argv += ["--ssh-key", args.ssh_key]
    if args.known_hosts:
        argv += ["--known-hosts", args.known_hosts]
    r = run_sampled(argv + ["run", args.recipe], SAMPLE_EVERY)
    if r.code != 0:
        sys.exit(f"harness run failed ({r.code}): {r.err}{r.out}")
    summary = json.loads(r.out)
    return r, summary["namespace"], summary["run_id"]


def run_script(args, ns):
    r = run_sampled(["bash", os.path.join(ROOT, "bench/poll1s.sh"), args.compose, ns], SAMPLE_EVERY)
    if r.code != 0:
        sys.exit(f"poll1s.sh failed ({r.code}): {r.err}")
    return r


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


def median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=2):
    return "?" if v is None else f"{v:.{digits}f}"


def ratio(a, b):
    return "?" if a is None or not b else f"{a / b:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--harness", default=os.path.join(ROOT, "build/harness"))
    ap.add_argument("--recipe", default="pass", help="recipe to run (default: pass)")
    ap.add_argument("--recipes", default=os.path.join(ROOT, "tests/fixtures/recipes"),
                    help="folder of recipes; poll1s.sh deploys <recipes>/<recipe>/compose.yml "
                         "(default: tests/fixtures/recipes)")
    ap.add_argument("--baseline", type=float, default=5.0,
                    help="seconds of quiet before the pairs to measure the machine's background CPU (0: none)")
    ap.add_argument("--target", default="local",
                    help="the harness side's --target, e.g. ssh://root@127.0.0.1:2222 (the script stays local)")
    ap.add_argument("--ssh-key", help="the harness side's --ssh-key")
    ap.add_argument("--known-hosts", help="the harness side's --known-hosts")
    args = ap.parse_args()
    args.recipes = os.path.abspath(args.recipes)
    args.compose = os.path.join(args.recipes, args.recipe, "compose.yml")
    if not os.path.isfile(args.compose):
        sys.exit(f"overhead: no {args.compose} for poll1s.sh")
    work = tempfile.mkdtemp(prefix="harness-bench-")
    events = Events()
    time.sleep(0.5)  # docker events is subscribed
    rows = []
    latencies = []
    idle = None
    try:
        if args.baseline > 0:
            idle = background(args.baseline)
            print(f"background: {idle[0]:.3f} CPU s/s, {idle[1]:.1f} forks/s over {args.baseline:.0f} s "
                  "with nothing deployed", flush=True)
        for i in range(args.runs):
            order = ["harness", "script"] if i % 2 == 0 else ["script", "harness"]
            row = {}
            for which in order:
                if which == "harness":
                    r, ns, run_id = run_harness(args, work)
                    if r.usage:
                        row["cpu"], row["rss"] = r.usage
                    time.sleep(1)  # the last events arrive
                    up, down, healthy_at = floor_of(events.of(ns))
                    row["harness"] = r.wall
                    row["h_tree"], row["h_system"], row["h_procs"] = r.tree, r.system, r.processes
                    row["h_daemons"], row["h_containers"] = r.daemons, r.containers
                    row["harness_docker"] = None if up is None else up + down
                    started = test_started(work, run_id)
                    if healthy_at is not None and started is not None:
                        latencies.append(started - healthy_at)
                else:
                    ns = f"benchpoll{os.getpid()}x{i}"
                    r = run_script(args, ns)
                    row["script"] = r.wall
                    row["s_tree"], row["s_system"], row["s_procs"] = r.tree, r.system, r.processes
                    row["s_daemons"], row["s_containers"] = r.daemons, r.containers
                    time.sleep(1)  # the last events arrive
                    up, down, _ = floor_of(events.of(ns))
                    row["floor"] = None if up is None else up + down
                    row["floor_up"], row["floor_down"] = up, down
            rows.append(row)
            print(f"pair {i + 1}: harness {row['harness']:.2f}s  poll-1s {row['script']:.2f}s  floor "
                  f"{fmt(row['floor'])}s (up {fmt(row['floor_up'])}s, down {fmt(row['floor_down'])}s)  "
                  f"Docker spans of the harness run {fmt(row['harness_docker'])}s", flush=True)
            print(f"        CPU s harness / poll-1s: tree {row['h_tree']:.2f} / {row['s_tree']:.2f}  "
                  f"system {row['h_system']:.2f} / {row['s_system']:.2f}  "
                  f"(Docker's processes {fmt(row['h_daemons'])} / {fmt(row['s_daemons'])}, containers "
                  f"{fmt(row['h_containers'])} / {fmt(row['s_containers'])})  "
                  f"processes {row['h_procs']} / {row['s_procs']}", flush=True)
    finally:
        events.stop()
        shutil.rmtree(work, ignore_errors=True)
    keys = ("harness", "script", "floor", "harness_docker", "h_tree", "s_tree", "h_system", "s_system",
            "h_procs", "s_procs", "h_daemons", "s_daemons", "h_containers", "s_containers")
    med = {k: median(rows, k) for k in keys}
    side = "harness run" if args.target == "local" else "harness run (ssh)"
    print()
    print(f"median of {len(rows)} paired runs, recipe {args.recipe}" +
          ("" if args.target == "local" else f", harness --target {args.target}"))
    print(f"  {side:17} {med['harness']:7.2f} s")
    print(f"  poll-1s script    {med['script']:7.2f} s   harness / script = {ratio(med['harness'], med['script'])}"
          "  (target <= 0.90)")
    print(f"  Docker floor      {fmt(med['floor']):>7} s   harness / floor  = {ratio(med['harness'], med['floor'])}"
          "  (target <= 1.05)")
    print(f"  Docker spans of the harness runs {fmt(med['harness_docker'])} s (its removal is the harness's own)")
    print("whole cost of a run (medians)      harness    poll-1s   harness / script")
    print(f"  wall                            {med['harness']:8.2f} s {med['script']:8.2f} s   "
          f"{ratio(med['harness'], med['script'])}")
    print(f"  tree CPU (process + children)   {med['h_tree']:8.2f} s {med['s_tree']:8.2f} s   "
          f"{ratio(med['h_tree'], med['s_tree'])}")
    print(f"  system CPU (whole machine)      {med['h_system']:8.2f} s {med['s_system']:8.2f} s   "
          f"{ratio(med['h_system'], med['s_system'])}")
    print(f"    of which Docker's processes   {fmt(med['h_daemons']):>8} s {fmt(med['s_daemons']):>8} s   "
          f"{ratio(med['h_daemons'], med['s_daemons'])}")
    print(f"    of which the containers       {fmt(med['h_containers']):>8} s {fmt(med['s_containers']):>8} s   "
          f"{ratio(med['h_containers'], med['s_containers'])}")
    rest = {k: median([dict(x, rest=x[f"{k}_system"] - x[f"{k}_tree"] - x[f"{k}_daemons"] - x[f"{k}_containers"])
                       for x in rows if None not in (x[f"{k}_daemons"], x[f"{k}_containers"])], "rest")
            for k in ("h", "s")}
    print(f"    the rest (kernel, other work) {fmt(rest['h']):>8} s {fmt(rest['s']):>8} s   "
          f"{ratio(rest['h'], rest['s'])}")
    if idle:
        net = {k: median([dict(x, net=x[k] - idle[0] * x[w]) for x in rows], "net")
               for k, w in (("h_system", "harness"), ("s_system", "script"))}
        print(f"  system CPU above background     {net['h_system']:8.2f} s {net['s_system']:8.2f} s   "
              f"{ratio(net['h_system'], net['s_system'])}")
    print(f"  processes started (machine)     {med['h_procs']:8.0f}   {med['s_procs']:8.0f}     "
          f"{ratio(med['h_procs'], med['s_procs'])}")
    cpu = [r["cpu"] / r["harness"] for r in rows if "cpu" in r]
    if cpu:
        print(f"engine cost: the harness's own CPU {100 * statistics.median(cpu):.2f}% of a run's wall time"
              f" (median; target <= 2%), peak RSS {max(r['rss'] for r in rows if 'rss' in r) / 1024:.1f} MiB;"
              f" with its children {100 * statistics.median([r['h_tree'] / r['harness'] for r in rows]):.2f}%")
    if latencies:
        ms = [1000 * x for x in latencies]
        print(f"detection latency (healthy event -> test phase): p50 {percentile(ms, 50):.0f} ms, "
              f"p95 {percentile(ms, 95):.0f} ms over {len(ms)} runs  (target p95 <= 100 ms)")


if __name__ == "__main__":
    main()
