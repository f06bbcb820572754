"""Statistics over scored cases: classification metrics with bootstrap
confidence intervals, measurement agreement, simple distributions.

Why a percentile bootstrap over cases: our suites are small (tens of
cases), the metrics are ratios whose sampling distribution is far from
normal at such sizes, and resampling the cases keeps each case's
outcomes together. Fixed seed, so a summary is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 20261126


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


@dataclass(frozen=True)
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def sensitivity(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    def specificity(self) -> float | None:
        return _ratio(self.tn, self.tn + self.fp)

    def ppv(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    def f1(self) -> float | None:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def accuracy(self) -> float | None:
        return _ratio(self.tp + self.tn, self.n)


METRICS = ("sensitivity", "specificity", "ppv", "f1")


def confusion(pairs: list[tuple[bool, bool]]) -> Confusion:
    """(expected, predicted) pairs → counts."""
    tp = sum(1 for e, p in pairs if e and p)
    fp = sum(1 for e, p in pairs if not e and p)
    fn = sum(1 for e, p in pairs if e and not p)
    tn = sum(1 for e, p in pairs if not e and not p)
    return Confusion(tp, fp, fn, tn)


def bootstrap_ci(pairs: list[tuple[bool, bool]], metric: str, samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED
                 ) -> tuple[float, float] | None:  # fmt: skip
    """Percentile 95% interval of `metric` over resampled pairs; None when
    the metric is undefined in the data (e.g. sensitivity with no positives)."""
    if not pairs or getattr(confusion(pairs), metric)() is None:
        return None
    arr = np.array(pairs, dtype=bool)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(samples, len(arr)))
    e, p = arr[idx, 0], arr[idx, 1]
    tp = (e & p).sum(1)
    fp = (~e & p).sum(1)
    fn = (e & ~p).sum(1)
    tn = (~e & ~p).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        num, den = {
            "sensitivity": (tp, tp + fn),
            "specificity": (tn, tn + fp),
            "ppv": (tp, tp + fp),
            "f1": (2 * tp, 2 * tp + fp + fn),
            "accuracy": (tp + tn, tp + fp + fn + tn),
        }[metric]
        vals = num / den
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return None
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def binary_summary(pairs: list[tuple[bool, bool]], samples: int = BOOTSTRAP_SAMPLES) -> dict:
    c = confusion(pairs)
    out: dict = {"n": c.n, "tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn}
    for m in METRICS:
        out[m] = getattr(c, m)()
        out[f"{m}_ci"] = bootstrap_ci(pairs, m, samples) if out[m] is not None else None
    return out


def agreement(pred: list[float], truth: list[float], tolerance: list[float | None] | None = None) -> dict:
    """Bland–Altman style agreement of paired values: MAE, bias (mean of
    pred − truth), SD of the differences, 95% limits of agreement
    (bias ± 1.96 SD) and, when tolerances are given, the share within them."""
    p = np.asarray(pred, float)
    t = np.asarray(truth, float)
    d = p - t
    out: dict = {"n": int(d.size)}
    if d.size == 0:
        return out
    out["mae"] = float(np.abs(d).mean())
    out["bias"] = float(d.mean())
    if d.size > 1:
        sd = float(d.std(ddof=1))
        out["sd"] = sd
        out["loa_low"] = out["bias"] - 1.96 * sd
        out["loa_high"] = out["bias"] + 1.96 * sd
    if d.size > 2 and p.std() > 0 and t.std() > 0:
        out["pearson_r"] = float(np.corrcoef(p, t)[0, 1])
    if tolerance is not None:
        tol = [(abs(x), tt) for x, tt in zip(d, tolerance) if tt is not None]
        if tol:
            out["within_tolerance"] = sum(1 for x, tt in tol if x <= tt) / len(tol)
    return out


def distribution(values: list[float]) -> dict:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    if v.size == 0:
        return {"n": 0}
    return {"n": int(v.size), "mean": float(v.mean()), "median": float(np.median(v)), "p90": float(np.percentile(v, 90)),
            "max": float(v.max()), "sum": float(v.sum())}  # fmt: skip


def precision_recall(tp: int, fp: int, fn: int) -> dict:
    return {"tp": tp, "fp": fp, "fn": fn, "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn)}
