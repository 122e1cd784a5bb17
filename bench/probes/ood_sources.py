#!/usr/bin/python3
"""Which OOD probe source finds real out-of-distribution images in the training data?

Builds a contaminated Fashion-MNIST training set: the first LIMIT training images (15% of all
labels flipped by mapd's data.label_noise) plus PLANTED images from two other distributions,
each with a random label -- handwritten digits (scikit-learn's 8x8 digits, upsampled) and crops of
natural photographs (scikit-learn's sample images china.jpg and flower.jpg, grey). Everything comes
from Debian packages (dataset-fashion-mnist, python3-sklearn, python3-pil). Then runs `mapd audit`
once per OOD probe source and seed and reports, per run:
  - the probe self-test recall of the ood probes and the overall self-test accuracy;
  - the share of clean / flipped Fashion-MNIST images assigned `ood` (false alarms);
  - for each planted kind: recall of argmax == ood and AUROC of score_ood (planted vs clean);
  - a second table: atypical probes whose source had a flipped label, atypical / mislabeled probe
    recall, where clean and flipped images go, and the ground-truth detection of the flipped labels
    (docs/probes.md, "atypical_floor").
Probe sources: sketch (the paper), glyphs (rendered characters, built in), and `dataset` with
digits or photo crops disjoint from the planted ones -- a dataset source of the same kind as a
planted kind is marked "same kind" (optimistic: a user rarely has OOD probes of the exact kind
that contaminates their data).

usage: ood_sources.py BUILD_DIR OUT_DIR [--limit 10000] [--planted 150] [--seeds 1 2]
                      [--sources sketch glyphs digits photos] [--extra KEY=VALUE ... --tag NAME]
                      [--images-from train|test]
"""
import argparse
import csv
import gzip
import json
import os
import struct
import subprocess
import sys

import h5py
import numpy as np
from PIL import Image

FMNIST = "/usr/share/datasets/fashion-mnist"
SKLEARN = "/usr/lib/python3/dist-packages/sklearn/datasets"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


def read_idx(name):
    with gzip.open(os.path.join(FMNIST, name)) as f:
        magic, n = struct.unpack(">II", f.read(8))
        if magic == 0x803:
            h, w = struct.unpack(">II", f.read(8))
            return np.frombuffer(f.read(), dtype=np.uint8).reshape(n, h, w)
        return np.frombuffer(f.read(), dtype=np.uint8)


def digits():
    raw = np.loadtxt(os.path.join(SKLEARN, "data", "digits.csv.gz"), delimiter=",")
    images = (raw[:, :64].reshape(-1, 8, 8) * (255.0 / 16.0)).astype(np.uint8)
    return [np.asarray(Image.fromarray(d).resize((28, 28), Image.BILINEAR)) for d in images]


def photo_crops(n, rng):
    photos = [np.asarray(Image.open(os.path.join(SKLEARN, "images", f)).convert("L"))
              for f in ("china.jpg", "flower.jpg")]
    out = []
    for _ in range(n):
        p = photos[rng.integers(len(photos))]
        s = int(rng.integers(40, 200))
        y, x = int(rng.integers(0, p.shape[0] - s)), int(rng.integers(0, p.shape[1] - s))
        out.append(np.asarray(Image.fromarray(p[y:y + s, x:x + s]).resize((28, 28), Image.BOX)))
    return out


def write_manifest(folder, images, labels, ids):
    os.makedirs(os.path.join(folder, "img"), exist_ok=True)
    with open(os.path.join(folder, "manifest.csv"), "w") as f:
        f.write("path,label,id\n")
        for img, y, i in zip(images, labels, ids):
            name = f"img/{i}.png"
            Image.fromarray(img).save(os.path.join(folder, name))
            f.write(f"{name},{y},{i}\n")
    with open(os.path.join(folder, "classes.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    return os.path.join(folder, "manifest.csv")


def build(out, limit, planted, rng, images_from="train"):
    if os.path.exists(os.path.join(out, "data", "planted.csv")):
        return
    x, y = read_idx("train-images-idx3-ubyte.gz"), read_idx("train-labels-idx1-ubyte.gz")
    tx, ty = read_idx("t10k-images-idx3-ubyte.gz"), read_idx("t10k-labels-idx1-ubyte.gz")
    if images_from == "test":  # the issue's held-out set: train on t10k, test on training images
        x, y, tx, ty = tx, ty, x, y
    d = digits()
    order = rng.permutation(len(d))
    crops = photo_crops(planted + 500, rng)
    images = list(x[:limit])
    labels = [int(v) for v in y[:limit]]
    kinds = []
    for kind, pool in (("digits", [d[i] for i in order[:planted]]), ("photos", crops[:planted])):
        for img in pool:
            images.append(img)
            labels.append(int(rng.integers(10)))
            kinds.append((len(images) - 1, kind))
    data = os.path.join(out, "data")
    write_manifest(os.path.join(data, "train"), images, labels, range(len(images)))
    write_manifest(os.path.join(data, "test"), list(tx[:2000]), [int(v) for v in ty[:2000]], range(2000))
    # OOD probe datasets, disjoint from the planted images (labels are ignored by mapd).
    write_manifest(os.path.join(data, "ood_digits"), [d[i] for i in order[planted:planted + 500]],
                   [0] * 500, range(500))
    write_manifest(os.path.join(data, "ood_photos"), crops[planted:], [0] * 500, range(500))
    with open(os.path.join(data, "planted.csv"), "w") as f:
        f.write("id,kind\n" + "".join(f"{i},{k}\n" for i, k in kinds))


def auroc(pos, neg):
    scores = np.concatenate([pos, neg])
    ranks = np.empty(len(scores))
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    i = 0
    while i < len(s):  # mid-ranks for ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    return (ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def analyse(run, planted):
    with h5py.File(os.path.join(run, "dynamics.h5"), "r") as f:
        ex = f["/examples"]
        role, ids, lab, orig = ex["role"][:], ex["id"][:], ex["label"][:], ex["original_label"][:]
        cat = ex["probe_category"][:]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in ex.attrs["category_names"]]
    train = role == 0
    atypical = (role > 0) & (cat == names.index("atypical")) if "atypical" in names else role < 0
    flipped = {int(i): bool(a != b) for i, a, b in zip(ids[train], lab[train], orig[train])}
    rows = {}
    with open(os.path.join(run, "assignments.csv")) as fh:
        for r in csv.DictReader(fh):
            i = int(r["id"])
            if i in flipped:
                rows[i] = (r["assigned"], float(r["score_ood"]), float(r["p_ood"]))
    st = json.load(open(os.path.join(run, "selftest.json")))
    recall = {p["name"]: p["recall"] for p in st["per_category"]}
    clean = [i for i in rows if i not in planted and not flipped[i]]
    dirty = [i for i in rows if i not in planted and flipped[i]]
    res = dict(selftest=st["accuracy"], ood_recall=recall.get("ood"),
               clean_ood=np.mean([rows[i][0] == "ood" for i in clean]),
               flipped_ood=np.mean([rows[i][0] == "ood" for i in dirty]),
               clean_typical=np.mean([rows[i][0] == "typical" for i in clean]),
               clean_corrupted=np.mean([rows[i][0] == "corrupted" for i in clean]),
               clean_atypical=np.mean([rows[i][0] == "atypical" for i in clean]),
               flipped_mislabeled=np.mean([rows[i][0] == "mislabeled" for i in dirty]),
               flipped_atypical=np.mean([rows[i][0] == "atypical" for i in dirty]),
               atypical_recall=recall.get("atypical"), mislabeled_recall=recall.get("mislabeled"),
               atypical_flipped=int((lab[atypical] != orig[atypical]).sum()), atypical_probes=int(atypical.sum()))
    det = json.load(open(os.path.join(run, "detection.json")))
    res.update(p_mislabeled_auroc=det["rankings"]["p_mislabeled"]["auroc"],
               p_mislabeled_ap=det["rankings"]["p_mislabeled"]["average_precision"],
               label_issue_auroc=det["rankings"]["label_issue"]["auroc"],
               argmax_precision=det["argmax_mislabeled"]["precision"],
               argmax_recall=det["argmax_mislabeled"]["recall"])
    clean_score = np.array([rows[i][1] for i in clean])
    for kind in sorted(set(planted.values())):
        ids_k = [i for i, k in planted.items() if k == kind and i in rows]
        res[f"{kind}_recall"] = np.mean([rows[i][0] == "ood" for i in ids_k])
        res[f"{kind}_auroc"] = auroc(np.array([rows[i][1] for i in ids_k]), clean_score)
        res[f"{kind}_assigned"] = {c: int(sum(rows[i][0] == c for i in ids_k)) for c in
                                   sorted({rows[i][0] for i in ids_k})}
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("out")
    ap.add_argument("--limit", type=int, default=10000)
    ap.add_argument("--planted", type=int, default=150)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--sources", nargs="+", default=["sketch", "glyphs", "digits", "photos"])
    ap.add_argument("--extra", nargs="*", default=[], help="more --set assignments for every run")
    ap.add_argument("--tag", default="", help="suffix of the run directories (with --extra)")
    ap.add_argument("--images-from", choices=["train", "test"], default="train",
                    help="Fashion-MNIST split the LIMIT training images come from (test: the t10k images, "
                         "with the first 2,000 training images as the test set); applies when OUT/data is "
                         "built, so use a new OUT")
    a = ap.parse_args()
    build(a.out, a.limit, a.planted, np.random.default_rng(12345), a.images_from)
    data = os.path.join(a.out, "data")
    planted = {int(r["id"]): r["kind"] for r in csv.DictReader(open(os.path.join(data, "planted.csv")))}
    results = []
    for seed in a.seeds:
        for source in a.sources:
            run = os.path.join(a.out, f"{source}-s{seed}{a.tag}")
            sets = [f"data.format=manifest", f"data.path={data}/train/manifest.csv",
                    f"data.test_path={data}/test/manifest.csv", "data.label_noise.rate=0.15",
                    "data.image_size=32",  # as measured (the default became 0, as stored, later)
                    f"data.label_noise.seed={seed}", f"probes.seed={seed}", f"train.seed={seed}",
                    "probes.fit_per_category=100", "probes.val_per_category=100", "report.enabled=false"]
            if source in ("sketch", "glyphs"):
                sets.append(f"probes.ood_source={source}")
            else:
                sets += ["probes.ood_source=dataset", "probes.ood_format=manifest",
                         f"probes.ood_path={data}/ood_{source}/manifest.csv"]
            sets += a.extra
            if not os.path.exists(os.path.join(run, "selftest.json")):
                cmd = [os.path.join(a.build, "mapd"), "audit", "--run-dir", run, "--log-level", "warn"]
                for s in sets:
                    cmd += ["--set", s]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            r = analyse(run, planted)
            r.update(source=source, seed=seed)
            print(json.dumps(r, default=float), flush=True)
            results.append(r)
    kinds = sorted(set(planted.values()))
    print("\n| ood source | seed | self-test | ood probe recall | clean -> ood | flipped -> ood | "
          + " | ".join(f"{k}: -> ood / AUROC" for k in kinds) + " | clean -> typical / corrupted |")
    print("|---" * (7 + len(kinds)) + "|")
    for r in results:
        cells = []
        for k in kinds:
            same = " (same kind)" if r["source"] == k else ""
            cells.append(f"{100 * r[k + '_recall']:.0f}% / {r[k + '_auroc']:.3f}{same}")
        print(f"| {r['source']} | {r['seed']} | {r['selftest']:.3f} | {r['ood_recall']:.2f} | "
              f"{100 * r['clean_ood']:.1f}% | {100 * r['flipped_ood']:.1f}% | " + " | ".join(cells)
              + f" | {100 * r['clean_typical']:.1f}% / {100 * r['clean_corrupted']:.1f}% |")
    print("\n| run | seed | flipped atypical probes | atypical / mislabeled probe recall | clean -> atypical "
          "| flipped -> mislabeled / atypical | AUROC / AP P(mislabeled) | argmax-mislabeled precision / recall "
          "| AUROC label_issue |")
    print("|---" * 9 + "|")
    for r in results:
        print(f"| {r['source']}{a.tag} | {r['seed']} | {r['atypical_flipped']} of {r['atypical_probes']} | "
              f"{r['atypical_recall']:.2f} / {r['mislabeled_recall']:.2f} | {100 * r['clean_atypical']:.1f}% | "
              f"{100 * r['flipped_mislabeled']:.1f}% / {100 * r['flipped_atypical']:.1f}% | "
              f"{r['p_mislabeled_auroc']:.3f} / {r['p_mislabeled_ap']:.3f} | "
              f"{r['argmax_precision']:.3f} / {r['argmax_recall']:.3f} | {r['label_issue_auroc']:.4f} |")


if __name__ == "__main__":
    sys.exit(main())
