"""Writes vectors.json, the reference values that tests/reference.rs checks the metrics against.

Expected values come from the libraries the leaderboard is defined by (EVALUATION.md,
section 3): scikit-learn's roc_auc_score, scipy's spearmanr and rankdata, numpy's quantile.
DeLong's variance and paired test have no such library in this environment, so they are
computed here from the textbook definition (DeLong et al. 1988), O(m n) with explicit pair
comparisons, which shares no code path with the crate's rank-based O(n log n) version.

Run from the repository root with the pinned environment (scripts/requirements.txt):

    .venv/bin/python crates/metrics/tests/reference/make_vectors.py

The seed is fixed, so the output is identical on every run.
"""

import json
from pathlib import Path

import numpy as np
from scipy.stats import norm, rankdata, spearmanr
from sklearn.metrics import roc_auc_score

rng = np.random.default_rng(20200601)


def scores(values, decimals=6):
    """Rounds to a few decimals so the JSON text, and hence the parsed floats, are exact."""
    return [float(v) for v in np.round(np.asarray(values, dtype=float), decimals)]


def structural_components(pos, neg):
    """DeLong's V10 (per positive) and V01 (per negative) from all pairs; ties count 1/2."""
    x, y = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    psi = (x > y) + 0.5 * (x == y)
    return psi.mean(axis=1), psi.mean(axis=0)


def delong_variance(pos, neg):
    if len(pos) < 2 or len(neg) < 2:
        return None
    v10, v01 = structural_components(pos, neg)
    return float(np.var(v10, ddof=1) / len(pos) + np.var(v01, ddof=1) / len(neg))


def paired_delong(a_pos, a_neg, b_pos, b_neg):
    a10, a01 = structural_components(a_pos, a_neg)
    b10, b01 = structural_components(b_pos, b_neg)
    m, n = len(a_pos), len(a_neg)
    cov = np.cov(np.vstack([a10, b10])) / m + np.cov(np.vstack([a01, b01])) / n
    var_diff = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    auc_a, auc_b = a10.mean(), b10.mean()
    if var_diff > 0:
        z = (auc_a - auc_b) / np.sqrt(var_diff)
    else:
        # The crate's convention for a difference without spread (see delong.rs).
        z = 0.0 if auc_a == auc_b else np.copysign(np.inf, auc_a - auc_b)
    return {
        "auc_a": float(auc_a),
        "auc_b": float(auc_b),
        "z": float(z),
        "p_value": float(min(1.0, 2 * norm.sf(abs(z)))),
    }


def auc_case(name, pos, neg):
    pos, neg = scores(pos), scores(neg)
    labels = [1] * len(pos) + [0] * len(neg)
    auc = roc_auc_score(labels, pos + neg)
    return {
        "name": name,
        "positives": pos,
        "negatives": neg,
        "auc": float(auc),
        "delong_variance": delong_variance(pos, neg),
    }


def spearman_case(name, x, y):
    x, y = scores(x), scores(y)
    degenerate = len(x) < 3 or len(set(x)) == 1 or len(set(y)) == 1
    rho = None if degenerate else float(spearmanr(x, y).statistic)
    return {"name": name, "x": x, "y": y, "rho": rho}


def paired_case(name, a_pos, a_neg, b_pos, b_neg):
    a_pos, a_neg, b_pos, b_neg = map(scores, (a_pos, a_neg, b_pos, b_neg))
    case = {"name": name, "a_pos": a_pos, "a_neg": a_neg, "b_pos": b_pos, "b_neg": b_neg}
    case.update(paired_delong(a_pos, a_neg, b_pos, b_neg))
    return case


n = rng.normal
auc_cases = [
    auc_case("perfect separation", [0.9, 0.8, 0.7], [0.1, 0.2]),
    auc_case("reversed separation", [0.1, 0.2], [0.9, 0.8, 0.7]),
    auc_case("all tied", [0.5] * 4, [0.5] * 6),
    auc_case("small with ties", [0.8, 0.5, 0.9, 0.5], [0.5, 0.8, 0.5, 0.1]),
    auc_case("one positive vs many", [0.61], rng.uniform(size=40)),
    auc_case("many positives vs one", rng.uniform(size=40), [0.35]),
    auc_case("two vs two", [0.3, 0.7], [0.5, 0.2]),
    auc_case("real test set size 33 vs 68", n(1.0, 1.0, 33), n(0.0, 1.0, 68)),
    auc_case("33 covid vs 32 normal", n(1.5, 1.0, 33), n(0.0, 1.0, 32)),
    auc_case("33 covid vs 36 other", n(0.5, 1.0, 33), n(0.0, 1.0, 36)),
    auc_case("integer scores heavy ties", rng.integers(0, 5, 33), rng.integers(0, 4, 68)),
    auc_case("binary scores", rng.integers(0, 2, 25), rng.integers(0, 2, 30)),
    auc_case("one decimal probabilities", np.round(rng.beta(3, 2, 50), 1), np.round(rng.beta(2, 3, 50), 1)),
    auc_case("constant positives", [0.4] * 10, rng.uniform(size=15)),
    auc_case("large continuous 500 vs 700", n(0.3, 1.0, 500), n(0.0, 1.0, 700)),
    auc_case("wide range magnitudes", n(0, 1e4, 20) + 1e3, n(0, 1e4, 25)),
    auc_case("affected percent with many zeros", np.maximum(0, n(10, 15, 33)), np.maximum(0, n(0, 5, 68))),
    auc_case("near chance", n(0, 1, 60), n(0, 1, 60)),
    auc_case("small integers 5 vs 7", [3, 1, 4, 1, 5], [9, 2, 6, 5, 3, 5, 8]),
    auc_case("strong signal 100 vs 100", n(2.5, 1, 100), n(0, 1, 100)),
]

x33 = np.maximum(0, n(20, 15, 33))
spearman_cases = [
    spearman_case("monotone transform", x33, np.exp(x33 / 10)),
    spearman_case("decreasing transform", x33, -x33**2),
    spearman_case("severity with noise n=33", x33, np.maximum(0, x33 + n(0, 8, 33))),
    spearman_case("integer grades heavy ties", rng.integers(0, 4, 40), rng.integers(0, 3, 40)),
    spearman_case("ties on both sides", [1, 2, 2, 3, 3, 3, 4], [1, 1, 2, 2, 3, 4, 4]),
    spearman_case("three points", [1.0, 2.0, 3.0], [2.0, 1.0, 3.0]),
    spearman_case("two points", [1.0, 2.0], [1.0, 2.0]),
    spearman_case("constant prediction", x33, [5.0] * 33),
    spearman_case("constant truth", [0.0] * 10, rng.uniform(size=10)),
    spearman_case("many zero severities", np.maximum(0, n(0, 10, 33)), np.maximum(0, n(2, 10, 33))),
    spearman_case("independent n=1000", n(0, 1, 1000), n(0, 1, 1000)),
    spearman_case("anticorrelated n=50", np.arange(50), -np.arange(50) + n(0, 10, 50)),
    spearman_case("textbook example", [1, 2, 3, 4, 5], [20, 10, 40, 30, 50]),
]

a_pos, a_neg = n(1.2, 1.0, 33), n(0.0, 1.0, 68)
paired_cases = [
    paired_case("correlated scores 33 vs 68", a_pos, a_neg, a_pos + n(0, 1, 33), a_neg + n(0, 1, 68)),
    paired_case("identical scores", a_pos, a_neg, a_pos, a_neg),
    paired_case("monotone transform", a_pos, a_neg, np.exp(a_pos), np.exp(a_neg)),
    paired_case("continuous vs binned", a_pos, a_neg, np.round(a_pos), np.round(a_neg)),
    paired_case("independent 50 vs 50", n(1, 1, 50), n(0, 1, 50), n(0.3, 1, 50), n(0, 1, 50)),
    paired_case("small 3 vs 4", [0.9, 0.4, 0.6], [0.5, 0.1, 0.65, 0.2], [0.3, 0.8, 0.6], [0.5, 0.4, 0.1, 0.9]),
    paired_case("integer ties", rng.integers(0, 4, 30), rng.integers(0, 3, 40), rng.integers(0, 5, 30), rng.integers(0, 5, 40)),
    paired_case("certain difference", [0.9, 0.8], [0.1, 0.2], [0.1, 0.2], [0.9, 0.8]),
]

rank_values = scores(np.round(rng.uniform(size=30), 1))
rank_cases = [
    {"values": rank_values, "ranks": [float(r) for r in rankdata(rank_values)]},
    {"values": [3.0, -1.0, 3.0, 0.0, 3.0], "ranks": [float(r) for r in rankdata([3, -1, 3, 0, 3])]},
]

quantile_values = scores(n(0.8, 0.05, 2001))
levels = [0.0, 0.025, 0.1234, 0.5, 0.975, 1.0]
quantile_cases = [
    {"values": quantile_values, "q": levels, "expected": [float(v) for v in np.quantile(quantile_values, levels)]},
    {"values": quantile_values[:7], "q": levels, "expected": [float(v) for v in np.percentile(quantile_values[:7], [100 * q for q in levels])]},
]

out = {
    "generator": "crates/metrics/tests/reference/make_vectors.py",
    "versions": {"numpy": np.__version__, "scipy": __import__("scipy").__version__, "sklearn": __import__("sklearn").__version__},
    "auc": auc_cases,
    "spearman": spearman_cases,
    "paired_delong": paired_cases,
    "ranks": rank_cases,
    "quantile": quantile_cases,
}
# JSON has no infinity: an infinite z (the "certain difference" case) is written as a string.
for case in paired_cases:
    if np.isinf(case["z"]):
        case["z"] = "inf" if case["z"] > 0 else "-inf"

# One case per line keeps diffs of the expected numbers reviewable.
lines = ["{"]
for i, (key, value) in enumerate(out.items()):
    comma = "," if i + 1 < len(out) else ""
    if isinstance(value, list):
        items = ",\n  ".join(json.dumps(case, allow_nan=False) for case in value)
        lines.append(f' "{key}": [\n  {items}\n ]{comma}')
    else:
        lines.append(f' "{key}": {json.dumps(value)}{comma}')
lines.append("}")
path = Path(__file__).with_name("vectors.json")
path.write_text("\n".join(lines) + "\n")
print(f"wrote {path}: {len(auc_cases)} AUC, {len(spearman_cases)} Spearman, {len(paired_cases)} paired DeLong cases")
