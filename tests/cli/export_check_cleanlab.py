"""Loads `mapd export --format cleanlab` with numpy, pandas and cleanlab itself.

Usage: export_check_cleanlab.py CLEANLAB_DIR EXPECTED_ROWS
cleanlab's own input validation runs on labels.npy and pred_probs.npy (find_label_issues and
get_label_quality_scores), and label_issues.csv must have the columns of Datalab's label issues.
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores

out, expected_rows = Path(sys.argv[1]), int(sys.argv[2])


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


labels = np.load(out / "labels.npy")
pred_probs = np.load(out / "pred_probs.npy")
if labels.shape != (expected_rows,) or labels.dtype != np.int64:
    fail(f"labels.npy: {labels.shape} {labels.dtype}")
if pred_probs.ndim != 2 or pred_probs.shape[0] != expected_rows or pred_probs.dtype != np.float32:
    fail(f"pred_probs.npy: {pred_probs.shape} {pred_probs.dtype}")
if not np.allclose(pred_probs.sum(1), 1.0, atol=1e-4):
    fail("pred_probs rows do not sum to 1")
issues = find_label_issues(labels, pred_probs, filter_by="prune_by_noise_rate")
quality = get_label_quality_scores(labels, pred_probs)
if issues.shape != labels.shape or quality.shape != labels.shape:
    fail("cleanlab returned arrays of another shape")
table = pd.read_csv(out / "label_issues.csv")
want = ["id", "is_label_issue", "label_score", "given_label", "predicted_label"]
if list(table.columns) != want:
    fail(f"label_issues.csv columns {list(table.columns)}, expected {want}")
if len(table) != expected_rows or table["is_label_issue"].dtype != bool:
    fail(f"label_issues.csv: {len(table)} rows, is_label_issue {table['is_label_issue'].dtype}")
if not (table["given_label"].to_numpy() == labels).all():
    fail("label_issues.csv given_label differs from labels.npy")
if not (table["predicted_label"].to_numpy() == pred_probs.argmax(1)).all():
    fail("label_issues.csv predicted_label is not the argmax of pred_probs.npy")
ids = pd.read_csv(out / "ids.csv")["id"]
if not (ids.to_numpy() == table["id"].to_numpy()).all():
    fail("ids.csv and label_issues.csv list other ids")
print(f"ok: {expected_rows} rows, {int(issues.sum())} issues by cleanlab, "
      f"{int(table['is_label_issue'].sum())} by mapd")
