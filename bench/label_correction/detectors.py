#!/usr/bin/python3
"""bench/label_correction/detectors.py: how well other estimators of P(mislabeled) would rank and flag
the flipped labels of a label-correction run, computed offline from its dynamics.h5 (docs/results.md
§3.3). No training: every estimator reads the same recorded trajectories.

usage: /usr/bin/python3 bench/label_correction/detectors.py RUN_DIR... [--epochs 5,10,15]

For each run (a `mapd train --mode label-correction` run with injected noise, e.g. one of
bench/label_correction/run.py's) and each epoch count E (the trajectories' first E epochs, as the
refit after epoch E sees them), prints for the training rows against the flipped labels: AUROC,
precision and recall of P > 0.5, the mean P of the clean rows and the share of clean rows with
P > 0.5 (the clean examples that correction would mostly relabel). Estimators:
  knn          mapd's: k = 20 uniform votes of the clean (category 0) and mislabeled (1) probes over
               loss + EL2N per epoch, standardised with the probes' mean and std
  current loss the last epoch's loss alone (the ranking bmm's posterior is a monotone function of)
  kde h        a Gaussian-kernel vote over all probes instead of 20 neighbours (bandwidth h per
               standardised dimension): continuous, no ties
  self-train   knn, then 3 rounds that add the training rows with P = 0 or 1 as references
               (leave-one-out), so that the references cover the training distribution
  pool q       knn with other clean references: 25 training rows per class drawn from the easiest
               share q of that class by the run's difficulty pilot (difficulty_scores.csv; the
               `typical` probes come from q = 0.5), scored on the other training rows
Then, from the run's own recorded `bootstrap_weight` (the B it trained with; any method): its mean
over the correction epochs for the clean and the flipped rows, and the share of each with B > 0.5 in
the last epoch.
Needs python3-h5py, python3-numpy, python3-sklearn.
"""
import csv
import json
import sys

import h5py
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors


def load(run):
    with h5py.File(run + "/dynamics.h5", "r", swmr=True) as f:
        ex = f["examples"]
        cols = {k: ex[k][:] for k in ("id", "role", "probe_category", "label", "original_label")}
        complete = int(f["epochs/complete"][()])
        loss = f["epochs/loss"][:complete].astype(np.float64).T
        el2n = f["epochs/el2n"][:complete].astype(np.float64).T
        weight = f["epochs/bootstrap_weight"][:complete].astype(np.float64)
        warmup = json.loads(f.attrs["config_json"])["label_correction"]["warmup_epochs"]
    return cols, loss, el2n, weight, warmup


def line(name, p, flipped):
    flag = p > 0.5
    hits = (flag & flipped).sum()
    return (f"  {name:14s} AUROC {roc_auc_score(flipped, p):.4f}  precision {hits / max(flag.sum(), 1) * 100:5.1f}"
            f"  recall {hits / flipped.sum() * 100:5.1f}  mean P clean {p[~flipped].mean():.3f}"
            f"  clean with P > 0.5 {flag[~flipped].mean() * 100:5.1f}%")


def standardised(raw, refs):
    """Each column standardised with the mean and std of the reference rows, as mapd does."""
    return (raw - raw[refs].mean(0)) / (raw[refs].std(0) + 1e-6)


def knn_votes(X, refs, y, queries, k, leave_self_out=False):
    idx = NearestNeighbors(n_neighbors=k + (1 if leave_self_out else 0)).fit(X[refs]).kneighbors(
        X[queries], return_distance=False)
    votes = y[idx]
    if not leave_self_out:
        return votes.mean(1)
    keep = refs[idx] != queries[:, None]  # a training row is not its own neighbour
    keep &= np.cumsum(keep, 1) <= k
    return (votes * keep).sum(1) / keep.sum(1)


def pool_references(run, cols, train, share, per_class=25):
    """Positions in `train` of per_class rows of each class from its easiest `share` by the pilot."""
    with open(run + "/difficulty_scores.csv") as f:
        score = {int(r["id"]): float(r["score"]) for r in csv.DictReader(f)}
    easiness = np.array([score.get(int(i), -np.inf) for i in cols["id"][train]])
    labels = cols["label"][train]
    rng = np.random.default_rng(0)
    chosen = []
    for c in np.unique(labels):
        rows = np.where(labels == c)[0]
        rows = rows[np.argsort(-easiness[rows])][: max(per_class, int(round(share * len(rows))))]
        chosen.extend(rng.choice(rows, per_class, replace=False))
    return np.array(sorted(chosen))


def main(argv):
    epochs = [5, 10, 15]
    runs = []
    i = 0
    while i < len(argv):
        if argv[i] == "--epochs":
            epochs = [int(e) for e in argv[i + 1].split(",")]
            i += 2
        else:
            runs.append(argv[i])
            i += 1
    if not runs:
        sys.exit(__doc__)
    for run in runs:
        cols, loss, el2n, weight, warmup = load(run)
        train = np.where(cols["role"] == 0)[0]
        probes = np.where(cols["role"] != 0)[0]
        flipped = (cols["label"] != cols["original_label"])[train]
        y = (cols["probe_category"][probes] == 1).astype(np.float64)
        print(f"{run}: {len(train)} training rows, {flipped.mean() * 100:.1f}% flipped, {len(probes)} probes")
        for e in epochs:
            if e > loss.shape[1]:
                continue
            raw = np.concatenate([loss[:, :e], el2n[:, :e]], 1)
            X = standardised(raw, probes)
            print(f" first {e} epochs")
            p = knn_votes(X, probes, y, train, 20)
            print(line("knn", p, flipped))
            auroc = roc_auc_score(flipped, loss[train, e - 1])
            print(f"  {'current loss':14s} AUROC {auroc:.4f}  (a ranking, not a probability)")
            d2 = ((X[train, None, :] - X[None, probes, :]) ** 2).sum(2)
            d2 -= d2.min(1, keepdims=True)
            for h in (0.1, 0.3):
                w = np.exp(-d2 / (2 * h * h * X.shape[1]))
                print(line(f"kde h={h}", (w * y).sum(1) / w.sum(1), flipped))
            q = p
            for _ in range(3):
                sure = (q == 0) | (q == 1)
                refs = np.concatenate([probes, train[sure]])
                q = knn_votes(X, refs, np.concatenate([y, q[sure]]), train, 20, leave_self_out=True)
            print(line("self-train", q, flipped))
            for share in (0.3, 0.7):
                pooled = pool_references(run, cols, train, share)
                rest = np.setdiff1d(np.arange(len(train)), pooled)
                refs = np.concatenate([train[pooled], probes[y == 1]])
                labels = np.concatenate([np.zeros(len(pooled)), np.ones(int((y == 1).sum()))])
                p = knn_votes(standardised(raw, refs), refs, labels, train[rest], 20)
                print(line(f"pool {share}", p, flipped[rest]))
        b = weight[:, train]
        first = warmup if warmup > 0 else max(1, int(np.floor(0.35 * b.shape[0] + 0.5)))
        if first < b.shape[0]:
            corr = b[first:]
            print(f" recorded B, epochs {first + 1}-{b.shape[0]}: mean clean {np.nanmean(corr[:, ~flipped]):.3f}"
                  f", flipped {np.nanmean(corr[:, flipped]):.3f}; last epoch B > 0.5: clean"
                  f" {np.mean(b[-1][~flipped] > 0.5) * 100:.1f}%, flipped {np.mean(b[-1][flipped] > 0.5) * 100:.1f}%")


if __name__ == "__main__":
    main(sys.argv[1:])
