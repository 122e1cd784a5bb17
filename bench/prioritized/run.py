#!/usr/bin/python3
"""bench/prioritized: every selector of mapd's prioritized training on the same data, seed, optimizer
and budget of gradient steps, on Fashion-MNIST with and without injected symmetric label noise
(docs/prioritized.md, docs/results.md §4).

usage: /usr/bin/python3 bench/prioritized/run.py BUILD_DIR OUT_DIR [options]
  --limit N        class-balanced training subset (default 20000; 0 = all 60,000)
  --epochs E       training epochs (default 18: with 1,000 probes, 1,188 gradient steps of 32)
  --seeds S,...    train.seed and data.label_noise.seed (default 0,1,2)
  --noise R,...    symmetric noise rates (default 0,0.3)
  --selectors ...  comma list of uniform, loss, not_learned, rho, mapd (default all)
  --set KEY=VALUE  extra mapd --set, repeatable (e.g. prioritized.class_balanced=false for the
                   research code's top-k of any class; mapd's default is class-balanced)

Every run is `mapd train --mode prioritized` of the real binary into OUT_DIR/n<rate>-<selector>-s<seed>
(AdamW lr 1e-3, weight decay 1e-2, constant rate, 320 candidates -> 32 per step, the
`prioritized` probe suite: 500 clean + 500 mislabeled probes, every selector trains on the same
rows); runs already complete there are read, not redone. Writes OUT_DIR/results.json, the figure
OUT_DIR/prioritized.svg (test accuracy against gradient steps and against seconds, mean over seeds)
and prints markdown tables: best and last test accuracy, the gradient steps and seconds each
selector needs to reach uniform's best, the share of flipped labels among the trained examples, and
the cost of each part of a step. Needs Fashion-MNIST (Debian dataset-fashion-mnist).
"""
import argparse, json, os, subprocess, sys, time

SELECTORS = ["uniform", "loss", "not_learned", "rho", "mapd"]
COLOURS = {"uniform": "#555555", "loss": "#d62728", "not_learned": "#ff7f0e", "rho": "#1f77b4",
           "mapd": "#2ca02c"}


def parse(argv):
    p = argparse.ArgumentParser(usage="%(prog)s BUILD_DIR OUT_DIR [options]", description=__doc__.split("\n\n")[0])
    p.add_argument("build")
    p.add_argument("out")
    p.add_argument("--limit", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=18)
    p.add_argument("--seeds", type=lambda v: [int(s) for s in v.split(",")], default=[0, 1, 2])
    p.add_argument("--noise", type=lambda v: [float(s) for s in v.split(",")], default=[0.0, 0.3])
    p.add_argument("--selectors", type=lambda v: v.split(","), default=SELECTORS)
    p.add_argument("--set", action="append", default=[])
    args = p.parse_args(argv)
    for s in args.selectors:
        if s not in SELECTORS:
            p.error(f"unknown selector {s!r} (expected one of {', '.join(SELECTORS)})")
    return args.build, args.out, vars(args)


def run_one(mapd, out, rate, selector, seed, opts):
    run_dir = os.path.join(out, f"n{rate:g}-{selector}-s{seed}")
    sets = [f"data.limit={opts['limit']}", f"train.epochs={opts['epochs']}", f"train.seed={seed}",
            f"data.label_noise.rate={rate}", f"data.label_noise.seed={seed}", "optimizer.name=adamw",
            "optimizer.lr=0.001", "optimizer.weight_decay=0.01", "schedule.name=constant",
            "probes.suite=prioritized", f"prioritized.score={selector}", "report.enabled=false"]
    cmd = [mapd, "train", "--mode", "prioritized"]
    for s in sets + opts["set"]:  # the user's --set last
        cmd += ["--set", s]
    timing = os.path.join(run_dir, "bench_seconds.txt")
    if not os.path.exists(timing):
        if os.path.exists(run_dir):
            subprocess.run(["rm", "-rf", run_dir], check=True)
        start = time.monotonic()
        subprocess.run(cmd + ["--run-dir", run_dir], check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, OMP_WAIT_POLICY="passive"))
        with open(timing, "w") as f:
            f.write(f"{time.monotonic() - start:.1f}\n")
    return summarise(run_dir, rate, selector, seed, float(open(timing).read()))


def summarise(run_dir, rate, selector, seed, wall):
    lines = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]
    steps, seconds, acc, flipped, parts = [], [], [], [], {}
    total_steps, total_seconds = 0, 0.0
    rho = lines[0]["prioritized"].get("irreducible_loss_seconds", 0.0)
    total_seconds = rho
    for m in lines:
        p = m["prioritized"]
        total_steps += p["gradient_steps"]
        total_seconds += m["seconds"]  # the epoch: scoring, steps, recording and the test pass
        steps.append(total_steps)
        seconds.append(total_seconds)
        acc.append(m["test_acc"])
        if "selected_flipped_share" in p:
            flipped.append(p["selected_flipped_share"])
        for k, v in p.get("seconds", {}).items():
            parts[k] = parts.get(k, 0.0) + v
    return {"noise": rate, "selector": selector, "seed": seed, "steps": steps, "seconds": seconds, "acc": acc,
            "flipped": flipped, "parts_per_step_ms": {k: 1000 * v / total_steps for k, v in parts.items()},
            "rho_seconds": rho, "wall": wall}


def mean(xs):
    return sum(xs) / len(xs) if xs else None


def mean_curve(group, key):
    n = min(len(r[key]) for r in group)
    return [mean([r[key][i] for r in group]) for i in range(n)]


def svg_panel(curves, x_key, x_label, x0, y0, w, h, y_range):
    lo, hi = y_range
    x_max = max(max(c[x_key]) for c in curves.values())
    sx = lambda x: x0 + 50 + (w - 60) * x / x_max
    sy = lambda y: y0 + h - 30 - (h - 40) * (y - lo) / (hi - lo)
    out = [f'<rect x="{x0 + 50}" y="{y0 + 10}" width="{w - 60}" height="{h - 40}" fill="none" stroke="#999"/>']
    for t in range(int(lo * 100), int(hi * 100) + 1, 10):
        y = sy(t / 100)
        out.append(f'<text x="{x0 + 45}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{t}%</text>')
        out.append(f'<line x1="{x0 + 50}" x2="{x0 + w - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
    out.append(f'<text x="{x0 + w / 2 + 20}" y="{y0 + h - 5}" font-size="11" text-anchor="middle">{x_label}</text>')
    out.append(f'<text x="{x0 + 55}" y="{y0 + h - 18}" font-size="10">0</text>')
    out.append(f'<text x="{x0 + w - 12}" y="{y0 + h - 18}" font-size="10" text-anchor="end">{x_max:.0f}</text>')
    for name, c in curves.items():
        pts = " ".join(f"{sx(x):.1f},{sy(max(lo, y)):.1f}" for x, y in zip(c[x_key], c["acc"]))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{COLOURS[name]}" stroke-width="2"/>')
    return out


def write_svg(path, by_noise):
    width, panel_h = 900, 260
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{panel_h * len(by_noise) + 60}" '
             'font-family="sans-serif">']
    for row, (rate, curves) in enumerate(sorted(by_noise.items())):
        y0 = 50 + row * panel_h
        accs = [a for c in curves.values() for a in c["acc"]]
        y_range = (max(0.0, (int(min(accs) * 10)) / 10), min(1.0, int(max(accs) * 10 + 1) / 10))
        parts.append(f'<text x="10" y="{y0}" font-size="13" font-weight="bold">'
                     f'{100 * rate:.0f}% symmetric label noise: test accuracy (mean over seeds)</text>')
        parts += svg_panel(curves, "steps", "gradient steps", 0, y0, width / 2, panel_h - 20, y_range)
        parts += svg_panel(curves, "seconds", "seconds (scoring, steps, test pass; rho: + its two models)",
                           width / 2, y0, width / 2, panel_h - 20, y_range)
    for i, name in enumerate(SELECTORS):
        x = 60 + i * 140
        parts.append(f'<line x1="{x}" x2="{x + 20}" y1="14" y2="14" stroke="{COLOURS[name]}" stroke-width="3"/>')
        parts.append(f'<text x="{x + 25}" y="18" font-size="12">{name}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    build, out, opts = parse(sys.argv[1:])
    mapd = os.path.join(build, "mapd")
    os.makedirs(out, exist_ok=True)
    rows = []
    for rate in opts["noise"]:
        for seed in opts["seeds"]:
            for selector in opts["selectors"]:
                row = run_one(mapd, out, rate, selector, seed, opts)
                print(json.dumps({k: row[k] for k in ("noise", "selector", "seed", "wall")} |
                                 {"best": max(row["acc"]), "last": row["acc"][-1]}), flush=True)
                rows.append(row)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(rows, f)
    by_noise = {}
    print("\n| noise | selector | seeds | test acc best | test acc last | steps to uniform's best | "
          "seconds to uniform's best | flipped share of trained (mean / last epoch) | run seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for rate in opts["noise"]:
        curves = {}
        for selector in opts["selectors"]:
            group = [r for r in rows if r["noise"] == rate and r["selector"] == selector]
            curves[selector] = {k: mean_curve(group, k) for k in ("steps", "seconds", "acc")}
            curves[selector]["group"] = group
        by_noise[rate] = {s: {k: v for k, v in c.items() if k != "group"} for s, c in curves.items()}
        target = max(curves["uniform"]["acc"]) if "uniform" in curves else None
        for selector, c in curves.items():
            group = c["group"]
            reach = next((i for i, a in enumerate(c["acc"]) if target is not None and a >= target), None)
            steps = f"{c['steps'][reach]:.0f}" if reach is not None else "never"
            secs = f"{c['seconds'][reach]:.0f}" if reach is not None else "never"
            fl = [r["flipped"] for r in group if r["flipped"]]
            flipped = (f"{100 * mean([mean(f) for f in fl]):.1f}% / {100 * mean([f[-1] for f in fl]):.1f}%"
                       if fl else "–")
            print(f"| {100 * rate:.0f}% | {selector} | {len(group)} | "
                  f"{100 * mean([max(r['acc']) for r in group]):.1f} ± "
                  f"{100 * (max(max(r['acc']) for r in group) - min(max(r['acc']) for r in group)) / 2:.1f} | "
                  f"{100 * mean([r['acc'][-1] for r in group]):.1f} | {steps} | {secs} | {flipped} | "
                  f"{mean([r['wall'] for r in group]):.0f} |")
    print("\n| selector | candidate forward ms/step | probe forward ms/step | k-NN ms/step | select ms/step | "
          "gradient step ms/step | k-NN / candidate forward | irreducible-loss models s |")
    print("|---|---|---|---|---|---|---|---|")
    for selector in opts["selectors"]:
        group = [r for r in rows if r["selector"] == selector]
        part = lambda k: mean([r["parts_per_step_ms"].get(k, 0.0) for r in group])
        ratio = part("knn") / part("candidate_forward") if part("candidate_forward") else 0.0
        print(f"| {selector} | {part('candidate_forward'):.1f} | {part('probe_forward'):.1f} | {part('knn'):.2f} | "
              f"{part('select'):.2f} | {part('gradient_step'):.1f} | {100 * ratio:.1f}% | "
              f"{mean([r['rho_seconds'] for r in group]):.0f} |")
    write_svg(os.path.join(out, "prioritized.svg"), by_noise)
    print(f"\nfigure: {os.path.join(out, 'prioritized.svg')}")


if __name__ == "__main__":
    main()
