#!/usr/bin/env python3
"""A real one-node SLURM cluster on localhost runs the scripts/slurm templates (issue 15 item 4).

Brings up munged, slurmctld and slurmd from Debian's packages (slurm-wlm, munge; scripts/setup
installs them) with a munge key, a slurm.conf and all state in a temporary folder, on free ports,
then submits the whole audit with scripts/slurm/submit.sh: a 2-task training (srun, Gloo on
localhost) that receives SIGUSR1 after its first committed epoch, must exit 138, requeue itself and
resume into the same run directory, continuing the stopped epoch from its step checkpoint; the assignment as a 3-task job array; and the merge and report.
Checks the jobs' states, the restart, the complete run, and that the merged assignment equals one
`mapd assign` of the same run; then that the array submitted again skips every finished part, and
that an array not starting at 0 is refused. Everything it started is stopped on exit, also on failure or a
timeout (SIGTERM from CTest).

    slurm_cluster_test.py --mapd build/release/mapd --source .      (CTest label: slurm)

Exit 0: passed; 77: skipped (SLURM or munge not installed, or not root); other: failed.
"""
import argparse
import filecmp
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "scontrol", "sinfo", "squeue", "scancel")


def log(message):
    print(f"[slurm-test {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_pattern_idx(folder, split, n, seed):
    """IDX files of n 28x28 grey images, label i % 10: dim noise plus a bright 7x6 block whose place
    on a 4x3 grid is the class (the tiny learnable set of tests/cli/pipeline_fixtures.hpp)."""
    rng = random.Random(seed)
    side = 28
    images = bytearray(struct.pack(">IIII", 0x803, n, side, side))
    labels = bytearray(struct.pack(">II", 0x801, n))
    for i in range(n):
        label = i % 10
        pixels = bytearray(rng.randrange(60) for _ in range(side * side))
        top, left = (label // 4) * 9 + 1, (label % 4) * 7
        for y in range(top, top + 7):
            for x in range(left, left + 6):
                pixels[y * side + x] = 200 + rng.randrange(55)
        images += pixels
        labels.append(label)
    with open(os.path.join(folder, f"{split}-images-idx3-ubyte"), "wb") as f:
        f.write(images)
    with open(os.path.join(folder, f"{split}-labels-idx1-ubyte"), "wb") as f:
        f.write(labels)


class Cluster:
    """munged, slurmctld and slurmd of a one-node cluster whose files all live under `root`."""

    def __init__(self, root):
        self.root = root
        self.processes = []  # (name, Popen), in start order
        self.env = dict(os.environ)
        self.conf = os.path.join(root, "slurm.conf")
        self.env["SLURM_CONF"] = self.conf

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def start(self):
        for folder in ("munge", "state", "spool", "log"):
            os.makedirs(self.path(folder), mode=0o700, exist_ok=True)
        key = self.path("munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        socket_path = self.path("munge", "munge.socket")
        self.spawn("munged", ["munged", "--foreground", "--force", f"--socket={socket_path}",
                              f"--key-file={key}", f"--pid-file={self.path('munge', 'munged.pid')}",
                              f"--seed-file={self.path('munge', 'munged.seed')}",
                              f"--log-file={self.path('log', 'munged.log')}"])
        self.wait_for(lambda: os.path.exists(socket_path), 20, "munged's socket", "munged.log")

        host = socket.gethostname().split(".")[0]
        cpus = max(2, os.cpu_count() or 2)
        with open(self.conf, "w") as f:
            f.write(f"""# One node on localhost, written by tests/slurm/slurm_cluster_test.py
ClusterName=mapdtest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={socket_path}
StateSaveLocation={self.path('state')}
SlurmdSpoolDir={self.path('spool')}
SlurmctldPidFile={self.path('state', 'slurmctld.pid')}
SlurmdPidFile={self.path('spool', 'slurmd.pid')}
SlurmctldLogFile={self.path('log', 'slurmctld.log')}
SlurmdLogFile={self.path('log', 'slurmd.log')}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
        self.spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", self.conf])
        self.spawn("slurmd", ["slurmd", "-D", "-N", "localhost", "-f", self.conf])
        self.wait_for(lambda: self.node_state() in ("idle", "mixed", "allocated"), 60,
                      "the node to come up idle (sinfo)", "slurmctld.log")

    def spawn(self, name, argv):
        out = open(self.path("log", f"{name}.out"), "w")
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                   start_new_session=True)
        self.processes.append((name, process))
        log(f"started {name} (pid {process.pid})")

    def wait_for(self, ready, seconds, what, log_name):
        deadline = time.time() + seconds
        while time.time() < deadline:
            for name, process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited {process.returncode} while waiting for {what}; "
                                       f"see {self.path('log', name + '.out')}\n{self.tail(name + '.out')}")
            if ready():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out after {seconds} s waiting for {what}\n{self.tail(log_name)}")

    def tail(self, name, lines=30):
        try:
            with open(self.path("log", name), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def run(self, argv, check=True):
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stdout}{result.stderr}")
        return result.stdout

    def node_state(self):
        result = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], env=self.env, capture_output=True,
                                text=True, timeout=30)
        return result.stdout.strip() if result.returncode == 0 else ""

    def job(self, job_id):
        """`scontrol show job` of one job (the first record for an array) as a dict."""
        text = self.run(["scontrol", "show", "job", "-o", str(job_id)], check=False)
        fields = {}
        for line in text.splitlines()[:1]:
            for item in line.split():
                name, _, value = item.partition("=")
                fields[name] = value
        return fields

    def array_states(self, job_id):
        text = self.run(["scontrol", "show", "job", "-o", str(job_id)], check=False)
        states = []
        for line in text.splitlines():
            for item in line.split():
                if item.startswith("JobState="):
                    states.append(item.split("=", 1)[1])
        return states

    def stop(self):
        """Cancels every job, waits for their steps to end, then stops the daemons (newest first)."""
        if any(name == "slurmctld" and p.poll() is None for name, p in self.processes):
            subprocess.run(["scancel", "--full", "-u", "root"], env=self.env, capture_output=True, timeout=30)
            deadline = time.time() + 30
            while time.time() < deadline:
                result = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%T"], env=self.env,
                                        capture_output=True, text=True, timeout=30)
                if result.returncode != 0 or not set(result.stdout.split()) & {"RUNNING", "COMPLETING",
                                                                               "PENDING", "CONFIGURING"}:
                    break
                time.sleep(0.5)
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                log(f"stopped {name}")
        self.processes = []


def committed_epochs(run_dir):
    try:
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mapd", required=True, help="the mapd binary")
    parser.add_argument("--source", required=True, help="the source tree (scripts/slurm)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    missing = [tool for tool in DAEMONS if shutil.which(tool) is None]
    if missing:
        print(f"SKIP: {', '.join(missing)} not installed; scripts/setup installs slurm-wlm and munge")
        return SKIP
    if os.geteuid() != 0:
        print("SKIP: the test cluster runs its daemons as root (SlurmUser=root)")
        return SKIP

    started = time.time()
    root = tempfile.mkdtemp(prefix="mapd_slurm_test_")
    os.chmod(root, 0o700)
    cluster = Cluster(root)

    def on_signal(number, _frame):
        raise SystemExit(f"signal {number}: stopping the cluster")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ok = False
    try:
        cluster.start()
        log(f"cluster up in {time.time() - started:.1f} s")
        ok = run_audit(cluster, root, os.path.realpath(args.mapd), os.path.realpath(args.source))
    finally:
        cluster.stop()
        if ok and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"kept {root}")
    log(f"{'passed' if ok else 'FAILED'} in {time.time() - started:.1f} s")
    return 0 if ok else 1


def run_audit(cluster, root, mapd, source):
    data = os.path.join(root, "data")
    os.makedirs(data)
    write_pattern_idx(data, "train", 600, 1)
    write_pattern_idx(data, "t10k", 100, 2)
    epochs = 15  # ~0.3 s each: the signal after the first lands well before the last
    config = os.path.join(root, "tiny.yaml")
    with open(config, "w") as f:
        f.write(f"data: {{format: idx, path: {data}, name: tiny, workers: 1}}\n"
                "model: {arch: small_cnn, width: 16, norm: none}\n"
                "optimizer: {lr: 0.05}\n"
                f"train: {{epochs: {epochs}, batch_size: 16, threads: 1}}\n"
                "probes: {fit_per_category: 10, val_per_category: 10, pilot_epochs: 1, max_fraction: 0.3}\n"
                "knn: {k: 5}\ndist: {timeout_s: 60}\nrecord: {dtype: fp32}\n")
    run_dir = os.path.join(root, "run")
    jobs_dir = os.path.join(root, "jobs")  # the jobs' output files
    os.makedirs(jobs_dir)
    cluster.env["MASTER_PORT"] = str(free_port())
    cluster.env["OMP_WAIT_POLICY"] = "passive"
    submitted = subprocess.run(
        [os.path.join(source, "scripts", "slurm", "submit.sh"), "--run-dir", run_dir, "--config", config,
         "--nodes", "1", "--gpus-per-node", "0", "--tasks-per-node", "2", "--shards", "3", "--mapd", mapd,
         "--", "--chdir", jobs_dir],
        env=cluster.env, capture_output=True, text=True, timeout=60)
    if submitted.returncode != 0:
        raise RuntimeError(f"submit.sh exited {submitted.returncode}: {submitted.stdout}{submitted.stderr}")
    ids = dict(line.split() for line in submitted.stdout.splitlines())
    log(f"submitted: {ids}")
    train, assign, report = ids["train"], ids["assign"], ids["report"]

    # SIGUSR1 (what --signal=USR1@300 sends) once the 2-task training has committed an epoch.
    deadline = time.time() + 180
    while committed_epochs(run_dir) < 1:
        state = cluster.job(train).get("JobState", "")
        if state in ("FAILED", "COMPLETED", "CANCELLED", "TIMEOUT", "NODE_FAIL") or time.time() > deadline:
            raise RuntimeError(f"training job {train} is {state} before its first epoch\n"
                               + read(os.path.join(jobs_dir, f"mapd-train-{train}.out")))
        time.sleep(0.2)
    log(f"epoch 1 of {epochs} committed: scancel --signal=USR1 {train}")
    cluster.run(["scancel", "--signal=USR1", train])

    failures = []

    def check(condition, message):
        if not condition:
            failures.append(message)
            log(f"FAILED: {message}")

    # The training requeues itself: SLURM holds a requeued job back for a while (its EligibleTime,
    # about two minutes after the requeue); the test lets it start 5 s after the requeue. Not at
    # once: slurmd revoked the first start's job credential, and a credential created within the
    # same second as that revocation counts as revoked too ("Job credential revoked": the job
    # fails). The update itself makes slurmctld schedule at once (a begin time set in the future
    # waits for its next periodic pass, up to a minute).
    deadline = time.time() + 120
    while True:
        job = cluster.job(train)
        if job.get("Restarts", "0") != "0" and job.get("JobState") == "PENDING":
            log(f"job {train} requeued (eligible at {job.get('EligibleTime')}); in 5 s: scontrol update StartTime=now")
            time.sleep(5)
            cluster.run(["scontrol", "update", f"JobId={train}", "StartTime=now"])
            break
        if job.get("Restarts", "0") != "0" and job.get("JobState") == "RUNNING":
            log(f"job {train} requeued and running again")
            break
        if job.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT") or time.time() > deadline:
            log(f"job {train} did not requeue: {job.get('JobState')}")
            break
        time.sleep(0.2)

    # The resumed training, then the array and the report (afterok dependencies).
    deadline = time.time() + 300
    while True:
        job = cluster.job(report)
        state = job.get("JobState", "")
        if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT") or time.time() > deadline:
            break
        if job.get("Reason") == "DependencyNeverSatisfied":
            state = "PENDING (DependencyNeverSatisfied: a job before it failed)"
            break
        time.sleep(0.5)
    log(f"report job {report}: {state}")
    train_job = cluster.job(train)
    train_out = read(os.path.join(jobs_dir, f"mapd-train-{train}.out"))
    check(train_job.get("JobState") == "COMPLETED", f"training job state {train_job.get('JobState')}")
    check(train_job.get("Restarts") == "1", f"training job restarts {train_job.get('Restarts')}, expected 1")
    check("requeueing job" in train_out, "audit.sbatch did not requeue after mapd's exit 138")
    check("start 2" in train_out and "mapd resume" in train_out,
          "the second start did not resume the run directory")
    check(committed_epochs(run_dir) == epochs, f"{committed_epochs(run_dir)} epochs committed, expected {epochs}")
    # SIGUSR1 mid-epoch writes a step checkpoint and the requeued start continues that epoch from its step
    # (the signal may also land while an epoch commits: then the run stops after that epoch).
    train_log = read(os.path.join(run_dir, "train.log"))
    mid_epoch = "continues from that step" in train_out
    check(mid_epoch or "stopped after epoch" in train_out, "mapd did not say where it stopped")
    if mid_epoch:
        log("stopped mid-epoch: the requeued start continues from the step checkpoint")
        check("continuing epoch" in train_log, "the requeued start did not continue the stopped epoch from its step")
    check(not os.path.exists(os.path.join(run_dir, "checkpoints", "step.pt")),
          "checkpoints/step.pt is left after its epoch was committed")
    check(os.path.exists(os.path.join(run_dir, "train.rank-1.log")), "no log of rank 1: not a 2-task job")
    array = cluster.array_states(assign)
    check(array == ["COMPLETED"] * 3, f"assignment array states {array}")
    check(state == "COMPLETED", f"report job state {state}")
    for i in range(3):
        check(os.path.exists(os.path.join(run_dir, "assign_parts", f"part-{i:04d}-of-0003.h5")), f"no part {i}")
    check(os.path.exists(os.path.join(run_dir, "report", "index.html")), "no report/index.html")

    # The merged assignment equals one `mapd assign` of the same run.
    if os.path.exists(os.path.join(run_dir, "assignments.csv")):
        whole = os.path.join(root, "whole")
        os.makedirs(whole)
        # The job's record: dynamics.h5 and the rank files it stitches.
        for name in ["dynamics.h5", "config.resolved.json"] + sorted(
                n for n in os.listdir(run_dir) if n.startswith("dynamics.rank-")):
            shutil.copy(os.path.join(run_dir, name), whole)
        result = subprocess.run([mapd, "assign", whole, "--log-level", "warn"], capture_output=True, text=True,
                                timeout=120, env=cluster.env | {"MAPD_IGNORE_SLURM": "1"})
        check(result.returncode == 0, f"mapd assign exited {result.returncode}: {result.stdout}{result.stderr}")
        check(filecmp.cmp(os.path.join(whole, "assignments.csv"), os.path.join(run_dir, "assignments.csv"),
                          shallow=False), "merged assignments.csv differs from one mapd assign")
    else:
        check(False, "no assignments.csv after the merge")
    # The array again: every part is done, so every task skips; an array that does not start at 0
    # is refused with the form to use.
    env = cluster.env | {"MAPD_RUN_DIR": run_dir, "MAPD": mapd}
    template = os.path.join(source, "scripts", "slurm", "assign.sbatch")
    again = submit(env, ["--array", "0-2", "--chdir", jobs_dir, template])
    shifted = submit(env, ["--array", "1-2", "--chdir", jobs_dir, template])
    deadline = time.time() + 120
    while time.time() < deadline and any(
            s in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING")
            for s in cluster.array_states(again) + cluster.array_states(shifted)):
        time.sleep(0.5)
    check(cluster.array_states(again) == ["COMPLETED"] * 3, f"rerun array states {cluster.array_states(again)}")
    for i in range(3):
        out = read(os.path.join(jobs_dir, f"mapd-assign-{again}_{i}.out"))
        check(f"part {i}/3 already done" in out, f"rerun task {i} did not skip its part: {out}")
    check(cluster.array_states(shifted) == ["FAILED"] * 2, f"array 1-2 states {cluster.array_states(shifted)}")
    out = read(os.path.join(jobs_dir, f"mapd-assign-{shifted}_1.out"))
    check("submit it as --array 0-1" in out, f"array 1-2 task 1 did not say the form to use: {out}")

    if failures:
        for name in (f"mapd-train-{train}.out", f"mapd-report-{report}.out"):
            log(f"--- {name}\n{read(os.path.join(jobs_dir, name))}")
        log(f"--- slurmctld.log\n{cluster.tail('slurmctld.log', 40)}")
    return not failures


def submit(env, argv):
    """sbatch ARGV; the job id."""
    result = subprocess.run(["sbatch", "--parsable"] + argv, env=env, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"sbatch {' '.join(argv)} exited {result.returncode}: {result.stderr}")
    return result.stdout.strip().split(";")[0]


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return f"(no {path})"


if __name__ == "__main__":
    sys.exit(main())
