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
Needs python3-h5py, python3-numpy, python3-sklearn.
"""
import sys

import h5py
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors


def load(run):
    with h5py.File(run + "/dynamics.h5", "r", swmr=True) as f:
        ex = f["examples"]
        cols = {k: ex[k][:] for k in ("role", "probe_category", "label", "original_label")}
        complete = int(f["epochs/complete"][()])
        loss = f["epochs/loss"][:complete].astype(np.float64).T
        el2n = f["epochs/el2n"][:complete].astype(np.float64).T
    return cols, loss, el2n


def line(name, p, flipped):
    flag = p > 0.5
    hits = (flag & flipped).sum()
    return (f"  {name:14s} AUROC {roc_auc_score(flipped, p):.4f}  precision {hits / max(flag.sum(), 1) * 100:5.1f}"
            f"  recall {hits / flipped.sum() * 100:5.1f}  mean P clean {p[~flipped].mean():.3f}"
            f"  clean with P > 0.5 {flag[~flipped].mean() * 100:5.1f}%")


def knn_votes(X, refs, y, queries, k, leave_out=None):
    idx = NearestNeighbors(n_neighbors=k + (1 if leave_out is not None else 0)).fit(X[refs]).kneighbors(
        X[queries], return_distance=False)
    votes = y[idx]
    if leave_out is None:
        return votes.mean(1)
    keep = refs[idx] != queries[:, None]  # a training row is not its own neighbour
    keep &= np.cumsum(keep, 1) <= k
    return (votes * keep).sum(1) / keep.sum(1)


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
        cols, loss, el2n = load(run)
        train = np.where(cols["role"] == 0)[0]
        probes = np.where(cols["role"] != 0)[0]
        flipped = (cols["label"] != cols["original_label"])[train]
        y = (cols["probe_category"][probes] == 1).astype(np.float64)
        print(f"{run}: {len(train)} training rows, {flipped.mean() * 100:.1f}% flipped, {len(probes)} probes")
        for e in epochs:
            if e > loss.shape[1]:
                continue
            X = np.concatenate([loss[:, :e], el2n[:, :e]], 1)
            X = (X - X[probes].mean(0)) / (X[probes].std(0) + 1e-6)
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
                q = knn_votes(X, refs, np.concatenate([y, q[sure]]), train, 20, leave_out=True)
            print(line("self-train", q, flipped))


if __name__ == "__main__":
    main(sys.argv[1:])
