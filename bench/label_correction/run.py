#!/usr/bin/python3
"""bench/label_correction: every label-correction method of mapd on the same data, model, schedule
and seed, on Fashion-MNIST with injected label noise (docs/label-correction.md, docs/results.md).

usage: /usr/bin/python3 bench/label_correction/run.py BUILD_DIR OUT_DIR [options]
  --limit N        class-balanced training subset (default 20000; 0 = all 60,000)
  --epochs E       training epochs (default 30)
  --warmup W       label_correction.warmup_epochs (default 10)
  --seeds S,...    train.seed and data.label_noise.seed (default 0)
  --settings ...   comma list of sym40, sym80, asym40 (the default), and usym40, usym80: Arazo et
                   al.'s noise (the share redrawn over all classes, so 36% / 72% wrong)
  --methods ...    comma list of mapd, mapd_binary, bmm, gmm, none, standard, oracle (default all;
                   oracle: B = 1 exactly for the flipped labels, the ceiling of any detector)
  --set KEY=VALUE  extra mapd --set, repeatable (e.g. optimizer.weight_decay=0)

`none` is the label-correction schedule without correction (mixup on the given labels); `standard`
is plain training (train.mode=standard, no mixup). Every run is `mapd train` of the real binary into
OUT_DIR/<setting>-<method>-s<seed>; runs already complete there are read, not redone. Prints one JSON
line per run and a markdown table (mean over seeds): test accuracy best and last, corrections'
precision and recall (flagged = P(mislabeled) > 0.5 at the end), the share of flipped labels the
corrected labels restore, the share of clean labels they change, wall time.
Needs Fashion-MNIST (Debian dataset-fashion-mnist) and python3-numpy.
"""
import csv, json, os, subprocess, sys, time

# sym: `rate` of the labels moved to another class; asym: c -> c+1; usym: Arazo et al.'s generator, the
# one published noise rates refer to (`rate` redrawn over all classes: about 0.9 of it wrong with 10).
SETTINGS = {"sym40": (0.4, "symmetric"), "sym80": (0.8, "symmetric"), "asym40": (0.4, "asymmetric"),
            "usym40": (0.4, "uniform"), "usym80": (0.8, "uniform")}
DEFAULT_SETTINGS = ["sym40", "sym80", "asym40"]
METHODS = ["mapd", "mapd_binary", "bmm", "gmm", "none", "standard", "oracle"]


def parse(argv):
    opts = {"limit": 20000, "epochs": 30, "warmup": 10, "seeds": [0], "settings": DEFAULT_SETTINGS,
            "methods": METHODS, "set": []}
    pos, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a in ("--limit", "--epochs", "--warmup"):
            opts[a[2:]] = int(argv[i + 1]); i += 2
        elif a == "--seeds":
            opts["seeds"] = [int(s) for s in argv[i + 1].split(",")]; i += 2
        elif a in ("--settings", "--methods"):
            opts[a[2:]] = argv[i + 1].split(","); i += 2
        elif a == "--set":
            opts["set"].append(argv[i + 1]); i += 2
        else:
            pos.append(a); i += 1
    if len(pos) != 2:
        sys.exit(__doc__)
    for s in opts["settings"]:
        if s not in SETTINGS:
            sys.exit(f"unknown setting {s!r} (expected one of {', '.join(SETTINGS)})")
    for m in opts["methods"]:
        if m not in METHODS:
            sys.exit(f"unknown method {m!r} (expected one of {', '.join(METHODS)})")
    return pos[0], pos[1], opts


def run_one(mapd, out, setting, method, seed, opts):
    rate, kind = SETTINGS[setting]
    run_dir = os.path.join(out, f"{setting}-{method}-s{seed}")
    sets = [f"data.limit={opts['limit']}", f"train.epochs={opts['epochs']}", f"train.seed={seed}",
            f"data.label_noise.rate={rate}", f"data.label_noise.kind={kind}", f"data.label_noise.seed={seed}",
            "report.enabled=false"]
    cmd = [mapd, "train"]
    if method != "standard":
        lc_method = "mapd" if method == "mapd_binary" else method
        cmd += ["--mode", "label-correction"]
        sets += [f"label_correction.method={lc_method}", f"label_correction.warmup_epochs={opts['warmup']}",
                 "probes.suite=label-correction"]
        if method == "mapd_binary":
            sets.append("label_correction.assignment=binary")
    for s in sets + opts["set"]:  # the user's --set last: they override the method's
        cmd += ["--set", s]
    seconds = None
    timing = os.path.join(run_dir, "bench_seconds.txt")
    if not os.path.exists(timing):
        if os.path.exists(run_dir):
            subprocess.run(["rm", "-rf", run_dir], check=True)
        start = time.monotonic()
        subprocess.run(cmd + ["--run-dir", run_dir], check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, OMP_WAIT_POLICY="passive"))
        seconds = time.monotonic() - start
        with open(timing, "w") as f:
            f.write(f"{seconds:.1f}\n")
    else:
        seconds = float(open(timing).read())
    return summarise(run_dir, setting, method, seed, seconds)


def summarise(run_dir, setting, method, seed, seconds):
    acc = [json.loads(l)["test_acc"] for l in open(os.path.join(run_dir, "metrics.jsonl"))]
    row = {"setting": setting, "method": method, "seed": seed, "best": max(acc), "last": acc[-1],
           "epochs": len(acc), "seconds": seconds}
    path = os.path.join(run_dir, "corrected_labels.csv")
    if os.path.exists(path):
        flipped = restored = clean = changed = flagged = flagged_flipped = 0
        for r in csv.DictReader(open(path)):
            noisy = r["given_label"] != r["original_label"]
            flag = r["p_mislabeled"] != "" and float(r["p_mislabeled"]) > 0.5
            flagged += flag
            flagged_flipped += flag and noisy
            if noisy:
                flipped += 1
                restored += r["corrected_label"] == r["original_label"]
            else:
                clean += 1
                changed += r["corrected_label"] != r["given_label"]
        row.update(precision=flagged_flipped / max(flagged, 1), recall=flagged_flipped / max(flipped, 1),
                   restored=restored / max(flipped, 1), clean_changed=changed / max(clean, 1))
    return row


def fmt(v, pct=True):
    if v is None:
        return "–"
    return f"{100 * v:.1f}" if pct else f"{v:.0f}"


def main():
    build, out, opts = parse(sys.argv[1:])
    mapd = os.path.join(build, "mapd")
    os.makedirs(out, exist_ok=True)
    rows = []
    for setting in opts["settings"]:
        for method in opts["methods"]:
            for seed in opts["seeds"]:
                row = run_one(mapd, out, setting, method, seed, opts)
                print(json.dumps(row), flush=True)
                rows.append(row)
    with open(os.path.join(out, "results.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    keys = ["best", "last", "precision", "recall", "restored", "clean_changed", "seconds"]
    print("\n| setting | method | seeds | test acc best | test acc last | precision | recall | "
          "flipped restored | clean changed | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for setting in opts["settings"]:
        for method in opts["methods"]:
            group = [r for r in rows if r["setting"] == setting and r["method"] == method]
            mean = {k: (sum(r[k] for r in group) / len(group) if all(k in r for r in group) else None)
                    for k in keys}
            print(f"| {setting} | {method} | {len(group)} | {fmt(mean['best'])} | {fmt(mean['last'])} | "
                  f"{fmt(mean['precision'])} | {fmt(mean['recall'])} | {fmt(mean['restored'])} | "
                  f"{fmt(mean['clean_changed'])} | {fmt(mean['seconds'], False)} |")


if __name__ == "__main__":
    main()
