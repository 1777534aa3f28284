#!/usr/bin/env python3
"""A plain nibabel + numpy implementation of EVALUATION.md, the baseline of the scoring
benchmark (what a challenge organizer would write in Python), and a cross-check of the
Rust scorer's point estimates.

Usage: reference_scorer.py ANNOTATIONS_DIR SUBMISSION.zip  -> JSON on stdout

Point estimates only plus a numpy percentile bootstrap for the intervals; the bootstrap
uses numpy's RNG, so intervals differ from the Rust scorer's in the last digits while the
point estimates must agree to 1e-9.
"""
import csv
import gzip
import io
import json
import os
import sys
import zipfile

import nibabel as nib
import numpy as np
from scipy.stats import rankdata


def load_nifti_bytes(data: bytes) -> np.ndarray:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    img = nib.Nifti1Image.from_bytes(data)
    return np.asanyarray(img.dataobj)


def foreground(arr: np.ndarray) -> np.ndarray:
    arr = arr.reshape(arr.shape[:3])
    if np.issubdtype(arr.dtype, np.floating):
        return arr >= 0.5
    return arr != 0


def auc(pos, neg):
    if len(pos) == 0 or len(neg) == 0:
        return None
    ranks = rankdata(np.concatenate([pos, neg]))
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def spearman(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return None
    rx, ry = rankdata(x), rankdata(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def severity(mask, right, left):
    fr = (mask & right).sum() / right.sum() if right.sum() else 0.0
    fl = (mask & left).sum() / left.sum() if left.sum() else 0.0
    return 100.0 * max(fr, fl)


def ci(values, stat, rng, n=2000):
    out = []
    for _ in range(n):
        v = stat(rng)
        if v is not None:
            out.append(v)
    if len(out) < n / 2:
        return None
    return [float(np.percentile(out, 2.5)), float(np.percentile(out, 97.5))]


def main():
    ann, sub = sys.argv[1], sys.argv[2]
    with open(os.path.join(ann, "labels.csv"), newline="") as f:
        labels = {row["study_id"]: row["category"] for row in csv.DictReader(f)}
    ids = sorted(labels)
    zf = zipfile.ZipFile(sub)
    entries = {}
    for name in zf.namelist():
        base = name.rsplit("/", 1)[-1]
        for ext in (".nii.gz", ".nii"):
            if base.endswith(ext):
                entries[base[: -len(ext)]] = name
    true_sev, pred_sev, dice = {}, {}, {}
    for sid in ids:
        pred = foreground(load_nifti_bytes(zf.read(entries[sid])))
        lungs = np.asanyarray(nib.load(os.path.join(ann, "lungs", sid + ".nii.gz")).dataobj)
        right, left = lungs == 1, lungs == 2
        pred_sev[sid] = severity(pred, right, left)
        folder = os.path.join(ann, "lesions", sid)
        raters = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        sevs, dices = [], []
        for r in raters:
            truth = foreground(np.asanyarray(nib.load(os.path.join(folder, r)).dataobj))
            sevs.append(severity(truth, right, left))
            denom = pred.sum() + truth.sum()
            if denom:
                dices.append(2.0 * (pred & truth).sum() / denom)
        true_sev[sid] = float(np.mean(sevs)) if sevs else 0.0
        if dices:
            dice[sid] = float(np.mean(dices))

    pos = np.array([pred_sev[s] for s in ids if labels[s] == "covid"])
    out = {"n_studies": len(ids), "n_covid": len(pos),
           "identification_source": "affected_percent", "severity_source": "masks"}
    rng = np.random.default_rng(0)
    negs = {"all": [s for s in ids if labels[s] != "covid"]}
    for cat in sorted({c for c in labels.values() if c != "covid"}):
        negs[cat] = [s for s in ids if labels[s] == cat]
    for key, members in negs.items():
        neg = np.array([pred_sev[s] for s in members])
        out[f"auc_vs_{key}"] = auc(pos, neg)
        out[f"auc_vs_{key}_ci"] = ci(None, lambda g: auc(g.choice(pos, len(pos)), g.choice(neg, len(neg))), rng)
    covid = [s for s in ids if labels[s] == "covid"]
    t = np.array([true_sev[s] for s in covid])
    p = np.array([pred_sev[s] for s in covid])
    out["spearman"] = spearman(t, p)

    def boot_rho(g):
        idx = g.integers(0, len(t), len(t))
        return spearman(t[idx], p[idx])

    out["spearman_ci"] = ci(None, boot_rho, rng)
    d = np.array([dice[s] for s in covid if s in dice])
    out["dice"] = float(d.mean()) if len(d) else None
    out["dice_ci"] = ci(None, lambda g: float(g.choice(d, len(d)).mean()), rng) if len(d) else None
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
