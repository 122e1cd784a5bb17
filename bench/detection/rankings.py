#!/usr/bin/env python3
"""Label-issue rankings of one run with injected noise, side by side (docs/detection.md).

Usage: /usr/bin/python3 bench/detection/rankings.py RUN_DIR [--json OUT]

Reads RUN_DIR/dynamics.h5 (trajectories, margins), RUN_DIR/assignments.h5 (label_issue,
P(mislabeled)) and RUN_DIR/difficulty_scores.csv (the holdout pilot's out-of-sample probability of
the label; read only when the run used probes.difficulty=holdout, since the other difficulty
signals write the same file), and prints AUROC and average precision (scikit-learn) of each ranking
of the flipped training labels: the in-sample signals (mean loss, AUM, forgetting, EL2N,
Cartography), the out-of-sample one, and rank mixes of the two.
"""
import argparse
import csv
import json
import sys
from pathlib import Path

import h5py
import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, roc_auc_score


def percentile(x):
    return (rankdata(x) - 0.5) / len(x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    run = args.run_dir
    with h5py.File(run / "dynamics.h5", "r") as f:
        t = int(np.asarray(f["epochs/complete"]).reshape(-1)[0])
        roles = f["examples/role"][:]
        train = np.flatnonzero(roles == 0)
        loss = f["epochs/loss"][:t][:, train].astype(np.float64)
        prob = f["epochs/true_prob"][:t][:, train].astype(np.float64)
        pred = f["epochs/pred"][:t][:, train]
        label = f["examples/label"][:][train]
        original = f["examples/original_label"][:][train]
        ids = f["examples/id"][:][train]
        margin = f["epochs/margin"][:t][:, train].astype(np.float64) if "margin" in f["epochs"] else None
        el2n = f["epochs/el2n"][:t][:, train].astype(np.float64) if "el2n" in f["epochs"] else None
    flipped = label != original
    if not flipped.any():
        sys.exit("no flipped label in this run: nothing to rank")
    correct = pred == label[None, :]
    rankings = {
        "mean_loss": loss.mean(0),
        "last_loss": loss[-1],
        "cartography_confidence": 1 - prob.mean(0),
        "cartography_correctness": 1 - correct.mean(0),
        "forgetting": np.where(correct.any(0), (correct[:-1] & ~correct[1:]).sum(0), t + 1),
    }
    if margin is not None:
        rankings["aum"] = -margin.mean(0)
    if el2n is not None:
        rankings["el2n"] = el2n[: max(1, t // 5)].mean(0)
    assignments = run / "assignments.h5"
    if assignments.exists():
        with h5py.File(assignments, "r") as f:
            rows = f["row"][:]
            names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["category_names"]]
            at = {r: i for i, r in enumerate(rows)}
            order = np.array([at[c] for c in train])
            rankings["label_issue"] = f["label_issue"][:][order]
            if "mislabeled" in names:
                rankings["p_mislabeled"] = f["prob"][:][order, names.index("mislabeled")]
    scores_file = run / "difficulty_scores.csv"
    difficulty = json.load(open(run / "config.resolved.json"))["probes"]["difficulty"]
    if difficulty == "holdout" and scores_file.exists():
        held_out = {int(r["id"]): float(r["score"]) for r in csv.DictReader(open(scores_file))}
        oos = np.array([held_out.get(int(i), np.nan) for i in ids])
        if np.isfinite(oos).all():
            rankings["holdout_p"] = 1 - oos
            base = percentile(loss.mean(0))
            for w in (0.25, 0.5, 0.75):
                rankings[f"mix_{w:g}"] = (1 - w) * base + w * percentile(1 - oos)
            if margin is not None:
                rankings["mix_aum_0.5"] = 0.5 * percentile(-margin.mean(0)) + 0.5 * percentile(1 - oos)
    print(f"{run}: {flipped.sum()} of {len(train)} training labels flipped ({flipped.mean():.1%}), {t} epochs")
    print(f"{'ranking':<26}{'AUROC':>9}{'AP':>9}")
    out = {}
    for name, score in rankings.items():
        a = roc_auc_score(flipped, score)
        ap = average_precision_score(flipped, score)
        out[name] = {"auroc": a, "average_precision": ap}
        print(f"{name:<26}{a:>9.4f}{ap:>9.4f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
