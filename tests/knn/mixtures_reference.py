#!/usr/bin/env python3
"""Reference numbers for tests/knn/mixtures_test.cpp, computed independently with numpy.

Run once with a Python that has numpy (e.g. ~/.cache/mapd/venv-torch-2.11.0/bin/python); the
printed values are pasted into mixtures_test.cpp, where each test names the numbers that came
from here. Not run by CTest. The procedures follow docs/label-correction.md §2 (Beta mixture and
per-category Gaussians), written vectorised in numpy rather than as a copy of the C++ loops.
"""

import math

import numpy as np


def show(name, values):
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    print(f"{name} = {{{', '.join(repr(float(v)) for v in values)}}}")


# --- numpy's default percentile ("linear") ---------------------------------------------------
PERCENTILE_SAMPLE = [3.5, 1.0, 2.0, 10.0, 7.25, -4.0, 0.3]
PERCENTILE_QS = [0.0, 5.0, 37.5, 50.0, 95.0, 100.0]
show("percentile_sample", np.percentile(np.array(PERCENTILE_SAMPLE, dtype=np.float64), PERCENTILE_QS))
LONG_SAMPLE = np.array([0.1 * i * i - 0.37 * i for i in range(23)], dtype=np.float64)
show("percentile_long", np.percentile(LONG_SAMPLE, [5.0, 95.0]))

# --- Beta mixture, E.1 step 2 ------------------------------------------------------------------
BMM_LOSSES = [0.01, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.22, 0.25, 0.3, 0.35, 0.4, 0.45,
              1.8, 2.0, 2.2, 2.5, 2.7, 3.0, 3.3, 4.5]  # the C++ test adds a NaN, which is skipped


def beta_pdf(x, a, b):
    log_norm = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    return np.exp((a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - log_norm)


def as_float32(values):
    """The C++ API takes float losses: round to float32 first, then compute in float64."""
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def fit_bmm(losses):
    losses = as_float32(losses)
    lo, hi = np.percentile(losses, [5.0, 95.0])
    kept = losses[(losses >= lo) & (losses <= hi)]
    lo_shifted = lo + 1e-5
    x = np.clip((kept - lo_shifted) / (hi - lo_shifted + 1e-6), 1e-3, 1.0 - 1e-3)
    alpha = np.array([1.0, 2.0])
    beta = np.array([2.0, 1.0])
    pi = np.array([0.5, 0.5])
    for _ in range(10):
        dens = np.stack([pi[k] * beta_pdf(x, alpha[k], beta[k]) for k in range(2)])
        dens = np.maximum(dens, 1e-12)
        resp = dens / dens.sum(axis=0, keepdims=True)
        for k in range(2):
            w = resp[k]
            m = np.average(x, weights=w)
            v = np.average((x - m) ** 2, weights=w)
            alpha[k] = m * (m * (1.0 - m) / v - 1.0)
            beta[k] = alpha[k] * (1.0 - m) / m
        pi = resp.sum(axis=1) / resp.sum()
    grid = np.linspace(1e-12, 1.0 - 1e-12, 100)
    f0 = pi[0] * beta_pdf(grid, alpha[0], beta[0])
    f1 = pi[1] * beta_pdf(grid, alpha[1], beta[1])
    table = f1 / (f0 + f1 + 1e-12)
    peak = int(np.argmax(table))
    table[peak:] = table[peak]
    return lo_shifted, hi, alpha, beta, pi, table


def bmm_probability(loss, lo_shifted, hi, table):
    x = min(max((loss - lo_shifted) / (hi - lo_shifted + 1e-6), 1e-3), 1.0 - 1e-3)
    return table[int(100 * x)]


lo_s, hi_s, alpha_s, beta_s, pi_s, table_s = fit_bmm(BMM_LOSSES)
show("bmm_min_max", [lo_s, hi_s])
show("bmm_alpha", alpha_s)
show("bmm_beta", beta_s)
show("bmm_weights", pi_s)
show("bmm_table", table_s)
BMM_QUERIES = [-1.0, 0.0, 0.2, 0.9, 1.5, 2.4, 3.3, 10.0]
show("bmm_queries", BMM_QUERIES)
show("bmm_probability", [bmm_probability(q, lo_s, hi_s, table_s) for q in as_float32(BMM_QUERIES)])


# --- per-category Gaussians, E.3 ----------------------------------------------------------------
def gmm_fit(categories):
    mu = np.array([np.mean(c) for c in categories])
    sd = np.array([np.std(c) for c in categories])  # population std (ddof = 0)
    return mu, sd, np.full(len(categories), 1.0 / len(categories))


def normal_pdf(x, mu, sd):
    return np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))


def gmm_posterior(loss, mu, sd, pi):
    weighted = pi * normal_pdf(loss, mu, sd)
    return weighted / (weighted.sum() + 1e-12)


def gmm_adapt(losses, mu, sd, pi):
    x = np.asarray(losses, dtype=np.float64)[:, None]
    dens = np.maximum(pi[None, :] * normal_pdf(x, mu[None, :], sd[None, :]), 1e-12)
    resp = dens / dens.sum(axis=1, keepdims=True)
    return resp.sum(axis=0) / resp.sum()


TWO = [[1.0, 3.0], [4.0, 8.0]]
THREE = [[1.0, 3.0], [4.0, 8.0], [10.0, 10.0, 13.0]]
GMM_QUERIES = [0.0, 3.5, 5.0, 9.0]
ADAPT_LOSSES = [2.0, 5.5, 6.0, 7.0, 11.0]  # the C++ test adds a NaN, which is skipped
for name, cats in (("two", TWO), ("three", THREE)):
    mu, sd, pi = gmm_fit(cats)
    show(f"gmm_{name}_means", mu)
    show(f"gmm_{name}_stds", sd)
    for q in GMM_QUERIES:
        show(f"gmm_{name}_posterior({q})", gmm_posterior(q, mu, sd, pi))
    pi_new = gmm_adapt(ADAPT_LOSSES, mu, sd, pi)
    show(f"gmm_{name}_adapted_weights", pi_new)
    show(f"gmm_{name}_posterior_after_adapt(5.0)", gmm_posterior(5.0, mu, sd, pi_new))
