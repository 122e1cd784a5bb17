#!/usr/bin/python3
"""Summarises one `mapd audit` run with injected label noise for docs/probes.md: probe self-test
recall per category (selftest.json), the share of clean and of flipped training examples assigned
to each category (assignments.csv joined with /examples of dynamics.h5), and how many probes of the
transformed categories came from flipped sources. Usage: analyze_choices.py RUN_DIR [LABEL]"""
import csv
import json
import sys

import h5py
import numpy as np

run = sys.argv[1]
label = sys.argv[2] if len(sys.argv) > 2 else run
with h5py.File(f"{run}/dynamics.h5", "r") as f:
    ex = f["/examples"]
    role = ex["role"][:]
    ids = ex["id"][:]
    lab = ex["label"][:]
    orig = ex["original_label"][:]
    cat = ex["probe_category"][:]
    src = ex["source_index"][:]
    names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs.get("category_names", [])]
    if not names:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in ex.attrs["category_names"]]
train_rows = role == 0
clean_by_id = {int(i): bool(l == o) for i, l, o in zip(ids[train_rows], lab[train_rows], orig[train_rows])}
# Flipped sources among probes: the source row's original label differs from its trained label in the dataset.
flipped_ids = {i for i, c in clean_by_id.items() if not c}
assigned_clean = {}
assigned_dirty = {}
with open(f"{run}/assignments.csv") as fh:
    for row in csv.DictReader(fh):
        i = int(row["id"])
        if i not in clean_by_id:
            continue
        d = assigned_clean if clean_by_id[i] else assigned_dirty
        d[row["assigned"]] = d.get(row["assigned"], 0) + 1
st = json.load(open(f"{run}/selftest.json"))
recall = {p["name"]: p["recall"] for p in st.get("per_category", [])}
n_clean = sum(assigned_clean.values())
n_dirty = sum(assigned_dirty.values())
print(f"## {label}: self-test accuracy {st.get('accuracy', float('nan')):.3f}; {n_clean} clean, {n_dirty} flipped")
print("| category | val recall | clean assigned | flipped assigned |")
print("| --- | --- | --- | --- |")
for name in names:
    r = recall.get(name)
    print(f"| {name} | {'-' if r is None else f'{r:.2f}'} | {100.0 * assigned_clean.get(name, 0) / max(n_clean, 1):.1f}% "
          f"| {100.0 * assigned_dirty.get(name, 0) / max(n_dirty, 1):.1f}% |")
# Contamination: probes kept with the dataset's (possibly flipped) label whose source was flipped
# (label != original_label). Mislabeled probes replace the label, so their sources cannot be told here.
contam = []
for c, name in enumerate(names):
    rows = (cat == c) & (role != 0) & (src >= 0)
    if name in ("typical", "atypical", "corrupted", "ood"):
        contam.append(f"{name} {int((lab[rows] != orig[rows]).sum())}/{int(rows.sum())}")
print("probes from flipped sources: " + ", ".join(contam))
