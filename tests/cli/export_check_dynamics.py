"""Checks `mapd export --format csv` and `--format cartography` against dynamics.h5 read with h5py.

Usage: export_check_dynamics.py RUN_DIR CSV_DIR CARTOGRAPHY_DIR
Recomputes every derived score from the raw /epochs datasets with numpy, reads the cartography
training-dynamics files the way Dataset Cartography's reader does (softmax of the logits, the gold
probability and the argmax), and exits non-zero naming the first mismatch.
"""
import csv
import json
import math
import sys
from pathlib import Path

import h5py
import numpy as np

run, csv_dir, carto_dir = (Path(a) for a in sys.argv[1:4])


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


with h5py.File(run / "dynamics.h5", "r") as f:
    epochs = int(f["epochs/complete"][()])
    loss = f["epochs/loss"][:epochs].astype(np.float64)
    prob = f["epochs/true_prob"][:epochs].astype(np.float64)
    pred = f["epochs/pred"][:epochs].astype(np.int64)
    margin = f["epochs/margin"][:epochs].astype(np.float64)
    el2n = f["epochs/el2n"][:epochs].astype(np.float64)
    ids = f["examples/id"][:]
    labels = f["examples/label"][:]
    roles = f["examples/role"][:]
train = np.flatnonzero(roles == 0)
if epochs < 2 or len(train) == 0:
    fail(f"expected a run with epochs and training rows, got {epochs} epochs, {len(train)} rows")

correct = pred[:, train] == labels[train][None, :]
expected = {
    "mean_loss": loss[:, train].mean(0),
    "confidence": prob[:, train].mean(0),
    "variability": prob[:, train].std(0),
    "correctness": correct.mean(0),
    "aum": margin[:, train].mean(0),
    "el2n": el2n[: max(1, epochs // 5), train].mean(0),
}
forgetting = ((correct[:-1]) & (~correct[1:])).sum(0)
first_correct = np.where(correct.any(0), correct.argmax(0), -1)

rows = list(csv.DictReader(open(csv_dir / "examples.csv", newline="")))
if len(rows) != len(train):
    fail(f"examples.csv has {len(rows)} rows for {len(train)} training examples")
for k, (row, column) in enumerate(zip(rows, train)):
    if int(row["id"]) != ids[column] or int(row["label"]) != labels[column]:
        fail(f"row {k}: id/label {row['id']}/{row['label']} but dynamics.h5 has {ids[column]}/{labels[column]}")
    if int(row["predicted"]) != pred[-1, column]:
        fail(f"row {k}: predicted {row['predicted']} but the last epoch predicted {pred[-1, column]}")
    for name, values in expected.items():
        if not math.isclose(float(row[name]), values[k], rel_tol=1e-4, abs_tol=1e-5):
            fail(f"row {k} ({row['id']}): {name} {row[name]} but numpy gives {values[k]}")
    if int(row["forgetting_events"]) != forgetting[k] or int(row["first_correct_epoch"]) != first_correct[k]:
        fail(f"row {k}: forgetting {row['forgetting_events']}/{row['first_correct_epoch']}, numpy "
             f"{forgetting[k]}/{first_correct[k]}")
    for name in ("category", "label_issue", "original_label"):
        if name not in row:
            fail(f"examples.csv has no column {name}: {list(row)}")

# Dataset Cartography's reader: logits per epoch, softmax, gold probability and argmax.
by_guid = {int(ids[c]): k for k, c in enumerate(train)}
for e in range(epochs):
    lines = (carto_dir / "training_dynamics" / f"dynamics_epoch_{e}.jsonl").read_text().splitlines()
    if len(lines) != len(train):
        fail(f"dynamics_epoch_{e}.jsonl has {len(lines)} lines for {len(train)} examples")
    for line in lines:
        record = json.loads(line)
        k = by_guid[record["guid"]]
        column = train[k]
        logits = np.asarray(record[f"logits_epoch_{e}"], dtype=np.float64)
        softmax = np.exp(logits - logits.max())
        softmax /= softmax.sum()
        if record["gold"] != labels[column]:
            fail(f"epoch {e} guid {record['guid']}: gold {record['gold']} but label {labels[column]}")
        if not math.isclose(softmax[record["gold"]], prob[e, column], rel_tol=1e-6, abs_tol=1e-9):
            fail(f"epoch {e} guid {record['guid']}: softmax gives {softmax[record['gold']]} for the gold "
                 f"label but dynamics.h5 has {prob[e, column]}")
        if int(softmax.argmax()) != pred[e, column]:
            fail(f"epoch {e} guid {record['guid']}: argmax {softmax.argmax()} but pred {pred[e, column]}")
metrics = [json.loads(line) for line in (carto_dir / "td_metrics.jsonl").read_text().splitlines()]
if len(metrics) != len(train):
    fail(f"td_metrics.jsonl has {len(metrics)} lines")
for m in metrics:
    k = by_guid[m["guid"]]
    for name in ("confidence", "variability", "correctness"):
        if not math.isclose(m[name], expected[name][k], rel_tol=1e-4, abs_tol=1e-5):
            fail(f"td_metrics guid {m['guid']}: {name} {m[name]} but numpy gives {expected[name][k]}")
    want = 1000 if first_correct[k] < 0 else forgetting[k]
    if m["forgetfulness"] != want:
        fail(f"td_metrics guid {m['guid']}: forgetfulness {m['forgetfulness']}, expected {want}")
print(f"ok: {len(train)} examples, {epochs} epochs")
