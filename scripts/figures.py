#!/usr/bin/python3
"""Draw the MAP-D paper's main figures from a mapd run directory, with h5py and matplotlib only.

    /usr/bin/python3 scripts/figures.py RUN_DIR [--out DIR] [--top-n 16] [--images DATA]

Writes into DIR (default RUN_DIR/figures):
  loss_profiles.png   median loss per epoch with the inter-quartile band, for each probe category
                      and the training set (the figure that shows MAP-D working; paper Fig. 2)
  surfaced.png        the top training examples per category by P(category) (paper Fig. 3), drawn
                      from the IDX / CIFAR images named in config.resolved.json when they can be read,
                      else as loss-trajectory thumbnails
  learned.png         fraction of each group learned for good per epoch

Reads only the documented files (docs/user-guide.md section 6): dynamics.h5 (committed epochs only, so it
works on a live run), assignments.h5, config.resolved.json. Needs python3-h5py, python3-matplotlib.
"""
import argparse
import gzip
import json
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def decode(names):
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def read_dynamics(path):
    with h5py.File(path, "r", swmr=True) as f:
        complete = int(np.asarray(f["epochs/complete"]).reshape(-1)[0]) if "complete" in f["epochs"] else \
            int(f["epochs"].attrs.get("complete", f["epochs/loss"].shape[0]))
        ex = {k: np.asarray(f["examples"][k]) for k in f["examples"].keys()}
        names = None
        for holder in (f["examples"], f):
            for key in ("category_names", "probe_categories", "categories"):
                if key in holder.attrs:
                    names = decode(holder.attrs[key])
                    break
            if names is not None:
                break
        class_names = decode(f["examples"].attrs["class_names"]) if "class_names" in f["examples"].attrs else None
        loss = np.asarray(f["epochs/loss"][:complete], dtype=np.float32)  # [T, N]
        pred = np.asarray(f["epochs/pred"][:complete])
    return ex, names or [], class_names, loss, pred


def band(ax, loss_rows, label, color):
    q25, med, q75 = np.nanquantile(loss_rows, [0.25, 0.5, 0.75], axis=1)
    x = np.arange(1, loss_rows.shape[0] + 1)
    ax.fill_between(x, q25, q75, color=color, alpha=0.18, linewidth=0)
    ax.plot(x, med, color=color, label=f"{label} (n={loss_rows.shape[1]})", linewidth=2)


def load_images(config, indices):
    """Pixels [n, C, H, W] uint8 of training examples `indices` for IDX and CIFAR datasets, else None."""
    data = config.get("data", {})
    fmt, root = data.get("format"), data.get("path", "")
    try:
        if fmt == "idx":
            for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
                p = os.path.join(root, name)
                if os.path.exists(p):
                    raw = (gzip.open if p.endswith(".gz") else open)(p, "rb").read()
                    n, h, w = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
                    images = np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, h, w)
                    return images[indices]
        if fmt == "cifar":
            files = sorted(f for f in os.listdir(root) if f.startswith("data_batch") or f == "train.bin")
            rec = 3073 if "train.bin" not in files else 3074
            raw = np.concatenate([np.fromfile(os.path.join(root, f), np.uint8) for f in files]).reshape(-1, rec)
            return raw[indices, rec - 3072:].reshape(-1, 3, 32, 32)
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--out", default=None)
    ap.add_argument("--top-n", type=int, default=16)
    args = ap.parse_args()
    run = args.run_dir
    out = args.out or os.path.join(run, "figures")
    os.makedirs(out, exist_ok=True)

    ex, categories, class_names, loss, pred = read_dynamics(os.path.join(run, "dynamics.h5"))
    T = loss.shape[0]
    if T == 0:
        sys.exit(f"{run}/dynamics.h5 has no committed epoch yet")
    role, cat, label = ex["role"], ex["probe_category"], ex["label"]
    train = role == 0
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c, name in enumerate(categories):
        rows = (role != 0) & (cat == c)
        if rows.any():
            band(ax, loss[:, rows], name, colors[c % len(colors)])
    band(ax, loss[:, train], "train", "black")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (median, IQR band)")
    ax.set_title("Loss profiles per probe category")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss_profiles.png"), dpi=150)
    plt.close(fig)

    correct = pred == label[None, :]
    good = np.flip(np.logical_and.accumulate(np.flip(correct, 0), 0), 0)  # correct at e and after
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c, name in enumerate(categories):
        rows = (role != 0) & (cat == c)
        if rows.any():
            ax.plot(np.arange(1, T + 1), good[:, rows].mean(1), label=name, color=colors[c % len(colors)])
    ax.plot(np.arange(1, T + 1), good[:, train].mean(1), label="train", color="black")
    ax.set_xlabel("epoch")
    ax.set_ylabel("fraction learned for good")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "learned.png"), dpi=150)
    plt.close(fig)

    apath = os.path.join(run, "assignments.h5")
    if not os.path.exists(apath):
        print(f"{apath} missing: run `mapd assign {run}` for the surfaced-examples figure", file=sys.stderr)
    else:
        with h5py.File(apath, "r") as f:
            prob = np.asarray(f["prob"])
            rows = np.asarray(f["row"])
            score = np.asarray(f["score"]) if "score" in f else prob
            acats = decode(f.attrs["category_names"]) if "category_names" in f.attrs else categories
        is_train = train[rows]
        config = json.load(open(os.path.join(run, "config.resolved.json")))
        n = args.top_n
        fig, axes = plt.subplots(len(acats), n, figsize=(n * 0.9, len(acats) * 1.15), squeeze=False)
        for c, name in enumerate(acats):
            cand = np.flatnonzero(is_train)
            order = cand[np.lexsort((-score[cand, c], -prob[cand, c]))][:n]
            picked = rows[order]
            images = load_images(config, ex["source_index"][picked])
            for j in range(n):
                a = axes[c, j]
                a.set_xticks([])
                a.set_yticks([])
                if j >= len(picked):
                    a.axis("off")
                    continue
                r = picked[j]
                if images is not None:
                    img = images[j].transpose(1, 2, 0)
                    a.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=255)
                else:
                    a.plot(loss[:, r], color=colors[c % len(colors)])
                given = class_names[label[r]] if class_names else label[r]
                a.set_title(f"{ex['id'][r]}\n{given} {prob[order[j], c]:.2f}", fontsize=5)
            axes[c, 0].set_ylabel(name, fontsize=7, rotation=0, ha="right")
        fig.suptitle("Top training examples per category (id, given label, P)", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "surfaced.png"), dpi=150)
        plt.close(fig)
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()
