#!/usr/bin/python3
"""bench/distributed: the cost of data-parallel training on one machine (docs/distributed.md).

usage: /usr/bin/python3 bench/distributed/run.py BUILD_DIR OUT_DIR [options]
  --limit N       class-balanced Fashion-MNIST training subset (default 10000)
  --epochs E      epochs per run (default 2)
  --repeats R     runs per setting, the median is reported (default 3)
  --norm NORM     model.norm of small_cnn: batch (default) or none
  --set KEY=VALUE extra mapd --set, repeatable

The same `mapd train` (small_cnn, global batch 128, Fashion-MNIST from the Debian package
dataset-fashion-mnist, no report) as one process with train.threads=2, and as a job of two
processes with train.threads=1 each (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, as torchrun sets
them), so that both use the machine's two cores. Reports the median wall time of each, the
training throughput of each epoch from metrics.jsonl (images/s of rank 0's pass, the job's total
images), and the ratio job / one process: above 1 is the price of the gradient all-reduces, the
step agreements and the per-epoch merge of the records. Writes OUT_DIR/results.json and prints a
markdown table.
"""
import argparse, json, os, socket, statistics, subprocess, sys, time

DATA = "/usr/share/datasets/fashion-mnist"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(build, out, name, ranks, threads, args):
    run_dir = os.path.join(out, name)
    subprocess.run(["rm", "-rf", run_dir], check=True)
    sets = [f"data.path={DATA}", "data.format=idx", f"data.limit={args.limit}", f"train.epochs={args.epochs}",
            "train.batch_size=128", f"train.threads={threads}", f"model.norm={args.norm}", "report.enabled=false",
            "probes.pilot_epochs=1"] + args.set
    cmd = [os.path.join(build, "mapd"), "train", "--run-dir", run_dir, "--log-level", "warn"]
    for s in sets:
        cmd += ["--set", s]
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    port = free_port()
    start = time.monotonic()
    procs = []
    for r in range(ranks):
        e = dict(env)
        if ranks > 1:
            e.update(RANK=str(r), WORLD_SIZE=str(ranks), LOCAL_RANK=str(r), MASTER_ADDR="127.0.0.1",
                     MASTER_PORT=str(port))
        procs.append(subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            sys.exit(f"{name}: exit {p.returncode}: {err.decode()[-2000:]}")
    seconds = time.monotonic() - start
    lines = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl")) if l.strip()]
    return {"seconds": seconds, "img_s": [l["img_s"] for l in lines], "loss": [l["loss"] for l in lines]}


def main(argv):
    p = argparse.ArgumentParser(usage="%(prog)s BUILD_DIR OUT_DIR [options]", description=__doc__.split("\n\n")[0])
    p.add_argument("build")
    p.add_argument("out")
    p.add_argument("--limit", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--norm", default="batch", choices=["batch", "none"])
    p.add_argument("--set", action="append", default=[])
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results = {"one process x 2 threads": [], "2 ranks x 1 thread": []}
    for i in range(args.repeats):  # interleaved, so that drifting load hits both alike
        results["one process x 2 threads"].append(run(args.build, args.out, f"one-{i}", 1, 2, args))
        results["2 ranks x 1 thread"].append(run(args.build, args.out, f"two-{i}", 2, 1, args))
    json.dump({"args": vars(args), "results": results}, open(os.path.join(args.out, "results.json"), "w"), indent=1)
    base = statistics.median(r["seconds"] for r in results["one process x 2 threads"])
    print(f"| setting | median wall s ({args.repeats} runs) | median img/s, last epoch | wall / one process |")
    print("| --- | --- | --- | --- |")
    for name, runs in results.items():
        wall = statistics.median(r["seconds"] for r in runs)
        img_s = statistics.median(r["img_s"][-1] for r in runs)
        print(f"| {name} | {wall:.1f} | {img_s:.0f} | {wall / base:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
