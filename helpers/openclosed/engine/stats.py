"""Uncertainty for scores measured on a few hundred texts: 95% intervals for
an accuracy (Wilson) and for any score of a resample of the texts (a seeded
bootstrap), and paired comparisons of two models scored on the same texts (a
paired bootstrap of the difference, and McNemar's exact test on the texts
only one of the two got right). (Used by ``oc.evaluate`` and ``oc.cascade``.)

    wilson(120, 180)                        # (0.595, 0.733)
    paired(a_right, b_right)                # difference, its interval, McNemar p

With 180 texts an accuracy near 0.7 is known to about ±0.07; two models
scored on the same texts differ by far less than that and still be told apart,
because the texts both get right or both get wrong say nothing about which is
better: only the discordant texts do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

LEVEL = 0.95  # every interval of the lab is a 95% interval
ROUNDS = 2000  # bootstrap resamples
SEED = 0  # the same seed, so the same resamples: intervals reproduce exactly
ALPHA = 0.05  # a paired difference is "detectable" when McNemar's p is below this and its interval excludes 0


def wilson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials (scipy's
    ``binomtest(...).proportion_ci(method="wilson")``); NaNs when ``n`` is 0."""
    from scipy.stats import binomtest

    if n <= 0:
        return math.nan, math.nan
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def resamples(n: int, rounds: int = ROUNDS, seed: int = SEED) -> np.ndarray:
    """``rounds`` bootstrap resamples of ``n`` items: an integer array (rounds, n) of indices, seeded."""
    import numpy as np

    return np.random.default_rng(seed).integers(0, max(n, 1), size=(rounds, n))


def percentile_interval(samples, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap ``samples`` (percentile method)."""
    import numpy as np

    s = np.asarray(samples, dtype=float)
    s = s[~np.isnan(s)]
    if not s.size:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(s, [tail, 100 - tail])
    return float(lo), float(hi)


def macro_f1(pred, gold, n_labels: int, idx=None):
    """Macro-F1 of integer-coded predictions against integer-coded gold labels
    (labels ``0 .. n_labels-1``; any other prediction code, e.g. a failure,
    is wrong for every label), as scikit-learn computes it with
    ``zero_division=0``. ``idx``: an array of resamples (rounds, n) to score
    each resample at once; the result then has one value per resample."""
    import numpy as np

    p, g = np.asarray(pred), np.asarray(gold)
    if idx is not None:
        p, g = p[idx], g[idx]
    f1 = []
    for c in range(n_labels):
        pc, gc = p == c, g == c
        tp = (pc & gc).sum(-1)
        denom = 2 * tp + (pc & ~gc).sum(-1) + (~pc & gc).sum(-1)
        f1.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0))
    return np.mean(f1, axis=0)


def mcnemar(a_right, b_right) -> tuple[float, int, int]:
    """McNemar's exact test: (two-sided p, texts only ``a`` got right, texts
    only ``b`` got right); a binomial test of the discordant texts against
    1/2 (scipy's ``binomtest``). p is 1 when there is no discordant text."""
    import numpy as np
    from scipy.stats import binomtest

    a, b = np.asarray(a_right, dtype=bool), np.asarray(b_right, dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    if only_a + only_b == 0:
        return 1.0, only_a, only_b
    return float(binomtest(only_b, only_a + only_b, 0.5).pvalue), only_a, only_b


@dataclass
class Paired:
    """Two models scored on the same texts: ``difference`` = accuracy of ``b``
    minus accuracy of ``a``, its paired-bootstrap 95% interval, McNemar's
    exact p, and how many texts only one of them got right."""

    n: int
    accuracy_a: float
    accuracy_b: float
    difference: float
    low: float
    high: float
    p: float
    only_a: int
    only_b: int

    @property
    def detectable(self) -> bool:
        """True when McNemar's p is below :data:`ALPHA` and the interval of the difference excludes 0."""
        return self.p < ALPHA and (self.low > 0 or self.high < 0)


def paired(a_right, b_right, idx=None) -> Paired:
    """Compare two models' right/wrong answers on the same texts (see :class:`Paired`);
    ``idx``: the bootstrap resamples to use (default: :func:`resamples` of these texts)."""
    import numpy as np

    a, b = np.asarray(a_right, dtype=float), np.asarray(b_right, dtype=float)
    n = len(a)
    if n == 0:
        return Paired(0, math.nan, math.nan, math.nan, math.nan, math.nan, 1.0, 0, 0)
    idx = resamples(n) if idx is None else idx
    d = b - a
    low, high = percentile_interval(d[idx].mean(axis=1))
    p, only_a, only_b = mcnemar(a, b)
    return Paired(n, float(a.mean()), float(b.mean()), float(d.mean()), low, high, p, only_a, only_b)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (for reading many pairs at once)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    out, running = [1.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        out[i] = running
    return out


def p_text(p: float) -> str:
    """A p-value for a sentence: two significant figures, "<0.001" below that."""
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


__all__ = ["ALPHA", "LEVEL", "Paired", "holm", "macro_f1", "mcnemar", "p_text", "paired",
           "percentile_interval", "resamples", "wilson"]
