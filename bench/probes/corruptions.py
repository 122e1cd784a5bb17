#!/usr/bin/python3
"""Which corruption makes `corrupted` probes that the audit can tell apart? (docs/probes.md)

One training run measures many candidate corruptions at once: the contaminated set of
ood_sources.py (the first LIMIT Fashion-MNIST training images, 15% of labels flipped, 150 planted
digits and 150 planted photo crops with random labels) gets, for each candidate corruption, 200
more Fashion-MNIST training images (from index 20000 on, disjoint from the base set) corrupted that
way and declared as user probes of their own category (`x_<name>`, label kept). `mapd audit` then
records every trajectory. Offline, each candidate in turn plays the `corrupted` category: the
built-in typical / atypical / mislabeled / ood / random_input probes plus the candidate's probes
(their own fit / val halves) form the suite, and a k-NN over the loss trajectories (k = 20, uniform
votes, Euclidean, as `mapd assign` with the default knn settings) gives
  - the probe self-test (val probes) and the candidate's recall,
  - where the clean, flipped and planted training images go (issue 16's targets: clean ->
    typical/atypical >= 90%, flipped -> mislabeled >= 90%, planted -> ood >= 80%).
The row `builtin` uses the run's own corrupted probes (probes.corrupted_kind / corrupted_sigma as
given with --extra) and checks the offline k-NN against the run's selftest.json. --signals repeats
the analysis with the loss followed by the recorded EL2N (and margin) per epoch, standardised with
the fit set's mean and std (knn.signals).

usage: corruptions.py BUILD_DIR OUT_DIR [--seeds 1 2 3] [--extra KEY=VALUE ...] [--tag NAME]
"""
import argparse
import csv
import io
import json
import os
import subprocess
import sys

import h5py
import numpy as np
from PIL import Image
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ood_sources  # noqa: E402  (same directory)

PER_VARIANT = 200
FIRST_SOURCE = 20000


def jpeg(x, quality):
    buf = io.BytesIO()
    Image.fromarray((x * 255).round().astype(np.uint8)).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf), dtype=np.float64) / 255.0


def pixelate(x, factor):
    h, w = x.shape
    small = x.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    return np.kron(small, np.ones((factor, factor)))


def occlude(x, size, rng):
    y0, x0 = rng.integers(0, x.shape[0] - size + 1), rng.integers(0, x.shape[1] - size + 1)
    out = x.copy()
    out[y0:y0 + size, x0:x0 + size] = rng.random()
    return out


def salt_pepper(x, share, rng):
    out = x.copy()
    hit = rng.random(x.shape) < share
    out[hit] = rng.integers(0, 2, size=int(hit.sum()))
    return out


VARIANTS = {
    "gauss02": lambda x, r: np.clip(x + 0.2 * r.standard_normal(x.shape), 0, 1),
    "gauss03": lambda x, r: np.clip(x + 0.3 * r.standard_normal(x.shape), 0, 1),
    "gauss05": lambda x, r: np.clip(x + 0.5 * r.standard_normal(x.shape), 0, 1),
    "blur15": lambda x, r: ndimage.gaussian_filter(x, 1.5),
    "blur25": lambda x, r: ndimage.gaussian_filter(x, 2.5),
    "pixel4": lambda x, r: pixelate(x, 4),
    "pixel7": lambda x, r: pixelate(x, 7),
    "occlude14": lambda x, r: occlude(x, 14, r),
    "saltpep20": lambda x, r: salt_pepper(x, 0.2, r),
    "jpeg5": lambda x, r: jpeg(x, 5),
    "contrast25": lambda x, r: 0.375 + 0.25 * x,
}


def build(out, rng):
    ood_sources.build(out, 10000, 150, np.random.default_rng(12345))
    data = os.path.join(out, "data")
    target = os.path.join(data, "train_x")
    if os.path.exists(os.path.join(target, "user_probes.csv")):
        return target
    x = ood_sources.read_idx("train-images-idx3-ubyte.gz")
    y = ood_sources.read_idx("train-labels-idx1-ubyte.gz")
    base = list(csv.DictReader(open(os.path.join(data, "train", "manifest.csv"))))
    os.makedirs(os.path.join(target, "img"), exist_ok=True)
    rows, probes = [], []
    for r in base:
        rows.append((os.path.join("..", "train", r["path"]), r["label"], r["id"]))
    src = FIRST_SOURCE
    for name, fn in VARIANTS.items():
        for _ in range(PER_VARIANT):
            img = np.clip(fn(x[src].astype(np.float64) / 255.0, rng), 0, 1)
            path = f"img/{src}.png"
            Image.fromarray((img * 255).round().astype(np.uint8)).save(os.path.join(target, path))
            rows.append((path, int(y[src]), src))
            probes.append((src, "x_" + name))
            src += 1
    with open(os.path.join(target, "manifest.csv"), "w") as f:
        f.write("path,label,id\n" + "".join(f"{p},{lab},{i}\n" for p, lab, i in rows))
    with open(os.path.join(target, "classes.txt"), "w") as f:
        f.write("\n".join(ood_sources.CLASSES) + "\n")
    with open(os.path.join(target, "user_probes.csv"), "w") as f:
        f.write("id,category\n" + "".join(f"{i},{c}\n" for i, c in probes))
    return target


def knn_votes(fit, fit_cat, queries, k, ncat, chunk=4096):
    """Share of the k nearest fit trajectories in each category (uniform votes; ties by index)."""
    out = np.zeros((len(queries), ncat))
    f2 = (fit * fit).sum(1)
    for s in range(0, len(queries), chunk):
        q = queries[s:s + chunk]
        d = (q * q).sum(1)[:, None] + f2[None, :] - 2 * q @ fit.T
        nn = np.argsort(d, axis=1, kind="stable")[:, :k]
        for c in range(ncat):
            out[s:s + chunk, c] = (fit_cat[nn] == c).mean(1)
    return out


SIGNALS = ["loss", "loss+el2n", "loss+el2n+margin"]


def analyse(run, planted, k=20, signals=("loss",)):
    with h5py.File(os.path.join(run, "dynamics.h5"), "r") as f:
        values = {n: f["/epochs/" + n][:].astype(np.float64).T for n in ("loss", "el2n", "margin")}  # [rows, epochs]
        ex = f["/examples"]
        role, ids, lab, orig, cat = (ex[n][:] for n in ("role", "id", "label", "original_label",
                                                        "probe_category"))
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in ex.attrs["category_names"]]
    base = ["typical", "atypical", "mislabeled", "ood", "random_input"]
    train = role == 0
    flipped = lab != orig
    planted_mask = np.isin(ids, list(planted)) & train
    clean = train & ~flipped & ~planted_mask
    dirty = train & flipped & ~planted_mask
    candidates = ["builtin"] + [n for n in names if n.startswith("x_")]
    results = []
    for sig, cand in [(sig, cand) for sig in signals for cand in candidates]:
        suite = base + ["corrupted"]
        cid = names.index("corrupted") if cand == "builtin" else names.index(cand)
        member = {names.index(b): i for i, b in enumerate(base)}
        member[cid] = len(base)
        cat_new = np.array([member.get(int(c), -1) if r > 0 else -1 for c, r in zip(cat, role)])
        fit = (role == 1) & (cat_new >= 0)
        val = (role == 2) & (cat_new >= 0)
        # knn.signals: the loss trajectory, or loss and more signals each standardised per epoch
        # with the fit set's mean and std (as `mapd assign` does then).
        loss = np.hstack([values[n] for n in sig.split("+")])
        if "+" in sig:
            loss = (loss - loss[fit].mean(0)) / np.where(loss[fit].std(0) > 0, loss[fit].std(0), 1.0)
        votes_val = knn_votes(loss[fit], cat_new[fit], loss[val], k, len(suite))
        pred_val = votes_val.argmax(1)
        recall = {s: float((pred_val[cat_new[val] == i] == i).mean()) for i, s in enumerate(suite)}
        votes = knn_votes(loss[fit], cat_new[fit], loss[train], k, len(suite))
        assigned = np.full(len(loss), -1)
        assigned[train] = votes.argmax(1)

        def share(mask, *cats):
            return float(np.isin(assigned[mask], [suite.index(c) for c in cats]).mean())

        results.append(dict(candidate=cand, signals=sig, selftest=float((pred_val == cat_new[val]).mean()),
                            corrupted_recall=recall["corrupted"], recall=recall,
                            clean_typ_atyp=share(clean, "typical", "atypical"),
                            clean_corrupted=share(clean, "corrupted"), clean_ood=share(clean, "ood"),
                            flipped_mislabeled=share(dirty, "mislabeled"),
                            planted_ood=share(planted_mask, "ood"),
                            planted_typ_atyp=share(planted_mask, "typical", "atypical"),
                            corrupted_contaminated=int(((cat_new == len(base)) & flipped & (role > 0)).sum())))
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("out")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--extra", nargs="*", default=[])
    ap.add_argument("--tag", default="")
    ap.add_argument("--signals", nargs="+", default=["loss"], choices=SIGNALS,
                    help="trajectories the offline k-NN compares (knn.signals)")
    a = ap.parse_args()
    data = build(a.out, np.random.default_rng(777))
    planted = {int(r["id"]): r["kind"] for r in
               csv.DictReader(open(os.path.join(a.out, "data", "planted.csv")))}
    table = []
    for seed in a.seeds:
        run = os.path.join(a.out, f"x-s{seed}{a.tag}")
        sets = ["data.format=manifest", f"data.path={data}/manifest.csv",
                f"data.test_path={a.out}/data/test/manifest.csv", "data.label_noise.rate=0.15",
                f"data.label_noise.seed={seed}", f"probes.seed={seed}", f"train.seed={seed}",
                "probes.fit_per_category=100", "probes.val_per_category=100", "report.enabled=false",
                f"probes.user_probes={data}/user_probes.csv"] + a.extra
        if not os.path.exists(os.path.join(run, "selftest.json")):
            cmd = [os.path.join(a.build, "mapd"), "audit", "--run-dir", run, "--log-level", "warn"]
            for s in sets:
                cmd += ["--set", s]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        for r in analyse(run, planted, signals=a.signals):
            r["seed"] = seed
            print(json.dumps(r), flush=True)
            table.append(r)
    print("\n| corruption | knn.signals | seed | self-test | corrupted recall | clean -> typical/atypical | clean -> corrupted "
          "| clean -> ood | flipped -> mislabeled | planted -> ood | planted -> typical/atypical | "
          "contaminated probes |")
    print("|---" * 12 + "|")
    for r in table:
        print(f"| {r['candidate']} | {r['signals']} | {r['seed']} | {r['selftest']:.3f} | {r['corrupted_recall']:.2f} | "
              f"{100 * r['clean_typ_atyp']:.1f}% | {100 * r['clean_corrupted']:.1f}% | {100 * r['clean_ood']:.1f}% | "
              f"{100 * r['flipped_mislabeled']:.1f}% | {100 * r['planted_ood']:.1f}% | "
              f"{100 * r['planted_typ_atyp']:.1f}% | {r['corrupted_contaminated']} |")


if __name__ == "__main__":
    sys.exit(main())
