#!/usr/bin/env python3
"""cleanlab side by side with mapd's label-issue rankings, on the data and labels of one mapd run.

Usage (the virtual environment of scripts/setup, which holds torch and cleanlab):
    ~/.cache/mapd/venv-torch-2.11.0/bin/python bench/detection/cleanlab_cv.py RUN_DIR [--folds 5]

What cleanlab users do today: K-fold cross-validation of the same model family and epochs gives
out-of-sample predicted probabilities for every training example; cleanlab ranks by label quality
(self-confidence, normalized margin) and flags issues (find_label_issues). Here the model is
mapd's small_cnn re-built in PyTorch (bench/vs_python/train_small_cnn.py), trained as the run's
config.resolved.json says (optimizer, learning rate, weight decay, cosine schedule per epoch, batch
size, epochs; no augmentation or normalisation, as in the runs measured) on the same images at the
run's image size and channels (grey, or RGB where data.channels is 3 or, at 0, any image is in
colour, as mapd reads them) and the same noisy labels the run trained on (dynamics.h5
/examples/label).

The images and labels are read by /usr/bin/python3 (h5py, PIL: Debian's packages) into a .npz
first. Prints and writes (--json) AUROC and AP for the flipped labels of every ranking, mapd's
(label_issue, AUM, mean loss, from assignments.h5 and dynamics.h5) next to cleanlab's and the mean
of the AUM and self-confidence percentiles (in- and out-of-sample evidence together), and the
seconds the cross-validation took against the run's own training time. The out-of-sample
probabilities are kept in RUN_DIR/cleanlab_oos_probs.npy.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def extract(run, out):
    """/usr/bin/python3 side: the training rows' images, labels and mapd's scores into `out`."""
    import h5py
    import numpy as np
    from PIL import Image
    config = json.load(open(run / "config.resolved.json"))
    data = config["data"]
    with h5py.File(run / "dynamics.h5", "r") as f:
        t = int(np.asarray(f["epochs/complete"]).reshape(-1)[0])
        train = np.flatnonzero(f["examples/role"][:] == 0)
        label = f["examples/label"][:][train]
        original = f["examples/original_label"][:][train]
        source = f["examples/source_index"][:][train]
        loss = f["epochs/loss"][:t][:, train].astype(np.float64)
        margin = f["epochs/margin"][:t][:, train].astype(np.float64) if "margin" in f["epochs"] else None
    with h5py.File(run / "assignments.h5", "r") as f:
        at = {r: i for i, r in enumerate(f["row"][:])}
        issue = f["label_issue"][:][np.array([at[c] for c in train])]
    if data["format"] != "manifest":
        sys.exit("cleanlab_cv.py reads manifest datasets (bench/probes/ood_sources.py builds one)")
    manifest = Path(data["path"])
    rows = list(csv.DictReader(open(manifest)))
    size = int(data["image_size"]) or None
    files = []
    for s in source:
        with Image.open(manifest.parent / rows[s]["path"]) as image:
            files.append(image.copy())
    stored_colour = any(image.mode not in ("L", "LA") for image in files)
    colour = data["channels"] == 3 or (data["channels"] == 0 and stored_colour)
    images = []
    for image in files:
        image = image.convert("RGB" if colour else "L")
        if size and image.size != (size, size):
            image = image.resize((size, size), Image.BILINEAR)
        images.append(np.asarray(image, dtype=np.uint8))
    images = np.stack(images).transpose(0, 3, 1, 2) if colour else np.stack(images)[:, None]
    scores = {"label_issue": issue, "mean_loss": loss.mean(0)}
    if margin is not None:
        scores["aum"] = -margin.mean(0)
    np.savez(out, images=images, label=label, flipped=label != original,
             **{"mapd_" + k: v for k, v in scores.items()})


def small_cnn(channels, width, classes):
    sys.path.insert(0, str(HERE.parent / "vs_python"))
    from train_small_cnn import SmallCnn
    return SmallCnn(channels, classes, width)


def out_of_sample_probs(images, labels, folds, config, seed, threads):
    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    classes = int(labels.max()) + 1
    probs = np.zeros((len(labels), classes), dtype=np.float32)
    opt, train = config["optimizer"], config["train"]
    x_all = torch.from_numpy(images).float() / 255.0
    y_all = torch.from_numpy(labels.astype(np.int64))
    for k in range(folds):
        held = order[k::folds]
        fit = np.setdiff1d(order, held)
        torch.manual_seed(seed * 100 + k)
        model = small_cnn(images.shape[1], config["model"]["width"], classes)
        sgd = torch.optim.SGD(model.parameters(), lr=opt["lr"], momentum=opt["momentum"],
                              weight_decay=opt["weight_decay"])
        epochs, batch = train["epochs"], train["batch_size"]
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(sgd, T_max=epochs)
        for _ in range(epochs):
            model.train()
            perm = torch.from_numpy(rng.permutation(fit))
            for i in range(0, len(perm), batch):
                idx = perm[i:i + batch]
                sgd.zero_grad(set_to_none=True)
                F.cross_entropy(model(x_all[idx]), y_all[idx]).backward()
                sgd.step()
            schedule.step()
        model.eval()
        with torch.no_grad():
            for i in range(0, len(held), 1024):
                idx = torch.from_numpy(held[i:i + 1024])
                probs[idx.numpy()] = torch.softmax(model(x_all[idx]), 1).numpy()
    return probs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run_dir", type=Path)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path)
    p.add_argument("--extract", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.extract:
        extract(a.run_dir, a.extract)
        return
    import numpy as np
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    from sklearn.metrics import average_precision_score, roc_auc_score
    arrays = a.run_dir / "cleanlab_cv_inputs.npz"
    subprocess.run(["/usr/bin/python3", __file__, str(a.run_dir), "--extract", str(arrays)], check=True)
    d = np.load(arrays)
    config = json.load(open(a.run_dir / "config.resolved.json"))
    start = time.time()
    probs = out_of_sample_probs(d["images"], d["label"], a.folds, config, config["train"]["seed"], a.threads)
    cv_seconds = time.time() - start
    np.save(a.run_dir / "cleanlab_oos_probs.npy", probs)
    y, labels = d["flipped"], d["label"]
    rankings = {k[5:]: d[k] for k in d.files if k.startswith("mapd_")}
    for method in ("self_confidence", "normalized_margin", "confidence_weighted_entropy"):
        rankings["cleanlab_" + method] = 1 - get_label_quality_scores(labels, probs, method=method)
    if "aum" in rankings:
        # In-sample (the run's margins) and out-of-sample (the folds') evidence together: the mean
        # of the two percentiles.
        percentile = lambda x: np.argsort(np.argsort(x, kind="stable"), kind="stable") / (len(x) - 1)
        rankings["mix_aum_cleanlab_self_confidence"] = (
            percentile(rankings["aum"]) + percentile(rankings["cleanlab_self_confidence"])) / 2
    issues = find_label_issues(labels, probs)
    metrics = {"matched": int(y.sum()), "examples": len(y), "cv_seconds": cv_seconds, "folds": a.folds,
               "oos_accuracy": float((probs.argmax(1) == labels).mean()), "rankings": {}}
    try:
        lines = [json.loads(line) for line in open(a.run_dir / "metrics.jsonl")]
        metrics["mapd_train_seconds"] = sum(line.get("seconds", 0) for line in lines)
    except OSError:
        pass
    print(f"{a.run_dir}: {y.sum()} of {len(y)} labels flipped; {a.folds}-fold CV {cv_seconds:.0f} s "
          f"(mapd's training: {metrics.get('mapd_train_seconds', float('nan')):.0f} s)")
    print(f"{'ranking':<40}{'AUROC':>9}{'AP':>9}")
    for name, score in rankings.items():
        r = {"auroc": roc_auc_score(y, score), "average_precision": average_precision_score(y, score)}
        metrics["rankings"][name] = r
        print(f"{name:<40}{r['auroc']:>9.4f}{r['average_precision']:>9.4f}")
    tp = int((issues & y).sum())
    metrics["cleanlab_find_label_issues"] = {"flagged": int(issues.sum()), "precision": tp / max(1, issues.sum()),
                                             "recall": tp / max(1, y.sum())}
    print("cleanlab find_label_issues:", metrics["cleanlab_find_label_issues"])
    if a.json:
        a.json.write_text(json.dumps(metrics, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
