"""Leaderboard maths for a blind arena: Bradley-Terry ratings fitted by
maximum likelihood, bootstrap 95% intervals, and pairwise win rates.
(Used in ``02b_inside_chat_models.ipynb``.)

The model is the one Chatbot Arena uses. Each contestant ``i`` has a rating
``R_i``; the chance that ``i``'s answer is preferred to ``j``'s is

    P(i beats j) = 1 / (1 + 10 ** ((R_j - R_i) / 400))

so 400 points apart means 10:1 odds, 191 points 3:1, 0 points even. Ratings
are fitted by maximising the likelihood of the votes, with

* a **tie counted as half a win for each side** (the log-likelihood term is
  ``0.5 log P + 0.5 log (1 - P)``);
* **"both bad" counted as a tie** by default, as Chatbot Arena does: neither
  answer was preferred. ``both_bad="drop"`` leaves those votes out of the fit
  instead (the leaderboard still counts them, so nothing disappears);
* a weak L2 pull of the ratings towards their mean (``reg``, in natural
  units: 0.05 moves a 3-to-1 head-to-head by under one point) so that a
  contestant that won *every* vote gets a large but finite rating instead of
  infinity; ``reg=0`` is the plain maximum-likelihood fit;
* ratings **anchored** so runs are comparable: the mean rating is 1000, or
  the ``anchor`` contestant is at ``anchor_rating``. Only differences mean
  anything.

Intervals: the votes are resampled with replacement ``rounds`` times (a
seeded multinomial over the distinct (pair, outcome) rows, as FastChat
does) and refitted; the 2.5th and 97.5th percentiles of each contestant's
rating are its 95% interval. With few votes the bootstrap cannot see the
uncertainty (one vote resampled is always that vote: a zero-width
"interval"), so each interval is widened, where needed, to cover the
normal approximation from the curvature of the fitted likelihood (the
inverse Hessian, prior included): few votes, wide bars, never none. A
contestant with fewer than :data:`ENOUGH_VOTES` votes is marked "needs
more votes" (``enough`` is False in the table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInputError

if TYPE_CHECKING:
    import numpy as np

OUTCOMES = ("A", "B", "tie", "both bad")
SCALE = 400.0
BASE = 10.0
CENTER = 1000.0
ALPHA = math.log(BASE)
ENOUGH_VOTES = 10  # fewer votes than this for a contestant: its rating "needs more votes"
Z95 = 1.959963984540054


class RatingsInputError(BadInputError):
    """Votes (or fit options) that cannot be rated."""


def _outcome_values(winners, both_bad: str) -> tuple[np.ndarray, np.ndarray]:
    """(score of side A per vote, keep mask) from the vote labels."""
    import numpy as np

    score = np.full(len(winners), 0.5)
    keep = np.ones(len(winners), dtype=bool)
    for i, w in enumerate(winners):
        if w == "A":
            score[i] = 1.0
        elif w == "B":
            score[i] = 0.0
        elif w == "tie":
            pass
        elif w == "both bad":
            keep[i] = both_bad == "tie"
        else:
            raise RatingsInputError(f"vote {i} has winner {w!r}", f"use one of {', '.join(map(repr, OUTCOMES))}")
    return score, keep


def _check_votes(votes) -> Any:
    import numpy as np
    import pandas as pd

    if not isinstance(votes, pd.DataFrame):
        votes = pd.DataFrame(list(votes))
    if len(votes) == 0:
        raise RatingsInputError("there are no votes yet", "vote in the arena (or simulate votes) first")
    missing = [c for c in ("model_a", "model_b", "winner") if c not in votes.columns]
    if missing:
        raise RatingsInputError(f"the votes have no column {', '.join(missing)}",
                                "pass votes with model_a, model_b and winner (oc.merge_votes(folder) makes them)")
    same = votes["model_a"] == votes["model_b"]
    if same.any():
        raise RatingsInputError(f"vote {int(np.flatnonzero(same.to_numpy())[0])} pits a contestant against itself",
                                "drop that vote: a contestant cannot be compared with itself")
    return votes


def _schedule(votes, both_bad: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Distinct (a, b, outcome) rows with their counts, and the contestant names."""
    import numpy as np

    score, keep = _outcome_values(list(votes["winner"]), both_bad)
    names = sorted(set(votes["model_a"]) | set(votes["model_b"]))
    index = {n: k for k, n in enumerate(names)}
    a = np.array([index[x] for x in votes["model_a"]], dtype=np.int64)[keep]
    b = np.array([index[x] for x in votes["model_b"]], dtype=np.int64)[keep]
    rows = np.column_stack([a, b, (score[keep] * 2).astype(np.int64)])
    if len(rows) == 0:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0), np.zeros(0), names
    uniq, counts = np.unique(rows, axis=0, return_counts=True)
    return uniq[:, :2], uniq[:, 2] / 2.0, counts.astype(np.float64), names


def _loss_and_grad(theta, pairs, outcome, weight, reg: float):
    """Negative log-likelihood (ties as half wins) plus ``reg/2 * |theta - mean|^2``, and its gradient."""
    import numpy as np
    from scipy.special import expit, log_expit

    diff = ALPHA * (theta[pairs[:, 0]] - theta[pairs[:, 1]])
    loss = -float(np.sum(weight * (outcome * log_expit(diff) + (1.0 - outcome) * log_expit(-diff))))
    g_pair = -ALPHA * weight * (outcome - expit(diff))
    grad = np.zeros_like(theta)
    np.add.at(grad, pairs[:, 0], g_pair)
    np.add.at(grad, pairs[:, 1], -g_pair)
    if reg:
        centred = theta - theta.mean()
        loss += 0.5 * reg * float(centred @ centred)
        grad += reg * centred
    return loss, grad


def _fit(pairs: np.ndarray, outcome: np.ndarray, weight: np.ndarray, n: int, reg: float) -> np.ndarray:
    """Natural-unit ratings (mean 0), by scipy's BFGS (on these few-parameter problems it was ~7x faster
    than L-BFGS-B here, with the same optimum)."""
    import numpy as np
    from scipy.optimize import minimize

    if n == 0 or weight.sum() == 0:
        return np.zeros(n)
    res = minimize(_loss_and_grad, np.zeros(n), args=(pairs, outcome, weight, reg), jac=True, method="BFGS",
                   options={"maxiter": 500, "gtol": 1e-8})
    theta = res.x
    return theta - theta.mean()


def _curvature_se(theta, pairs, outcome, weight, n: int, reg: float, anchor_index: int | None):
    """Standard errors (natural units) of each rating from the inverse Hessian of the penalised negative
    log-likelihood at ``theta``: relative to the mean, or to the anchor's rating."""
    import numpy as np
    from scipy.special import expit

    h = np.zeros((n, n))
    if len(pairs):
        p = expit(ALPHA * (theta[pairs[:, 0]] - theta[pairs[:, 1]]))
        c = weight * ALPHA**2 * p * (1 - p)
        for (i, j), v in zip(pairs, c, strict=True):
            h[i, i] += v
            h[j, j] += v
            h[i, j] -= v
            h[j, i] -= v
    centre = np.eye(n) - 1.0 / n
    h += reg * centre
    cov = np.linalg.pinv(h, hermitian=True)
    if anchor_index is None:
        cov = centre @ cov @ centre
        return np.sqrt(np.clip(np.diag(cov), 0, None))
    k = anchor_index
    var = np.diag(cov) + cov[k, k] - 2 * cov[:, k]
    return np.sqrt(np.clip(var, 0, None))


def _anchored(theta: np.ndarray, names: list[str], anchor: str | None, anchor_rating: float) -> np.ndarray:
    """Elo-scale ratings: mean ``CENTER``, or ``anchor`` at ``anchor_rating`` (works on one fit or a stack)."""
    r = theta * SCALE + CENTER
    if anchor is not None:
        k = names.index(anchor)
        r = r + (anchor_rating - r[..., [k]])
    return r


@dataclass
class Ratings:
    """A fitted leaderboard. ``table``: one row per contestant, best first,
    with ``rating``, ``lower``/``upper`` (95% bootstrap interval), ``rank``,
    and vote counts. ``win_rates``: row contestant's share of wins (ties as
    half) against the column contestant. ``battles``: how many votes each
    pair got. ``samples``: the bootstrap ratings (rounds x contestants)."""

    table: Any
    win_rates: Any
    battles: Any
    samples: Any
    votes: int
    rounds: int
    seed: int
    both_bad: str
    reg: float
    anchor: str | None
    simulated: bool = False
    notes: list[str] = field(default_factory=list)

    def rating(self, name: str) -> float:
        return float(self.table.set_index("contestant").loc[name, "rating"])

    def difference(self, a: str, b: str) -> tuple[float, float, float]:
        """(rating of ``a`` minus rating of ``b``, and its 95% interval from the same bootstrap rounds). The
        order of ``a`` and ``b`` is supported by the votes when the interval excludes 0 -- a question the two
        separate intervals cannot answer (they can overlap while the difference's interval excludes 0)."""
        import numpy as np

        d = self.rating(a) - self.rating(b)
        if not len(self.samples):
            return d, float("nan"), float("nan")
        diffs = (self.samples[a] - self.samples[b]).to_numpy()
        return d, float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))

    def __repr__(self) -> str:
        return f"<Ratings of {len(self.table)} contestants from {self.votes} votes>\n{self.table.to_string(index=False)}"

    def _repr_html_(self) -> str:
        import html

        head = (f"<b>{'SIMULATED votes — ' if self.simulated else ''}Bradley–Terry ratings from {self.votes:,} votes</b>"
                f" (95% intervals from {self.rounds} bootstrap rounds, seed {self.seed}; ties as half wins; "
                f"'both bad' {'as a tie' if self.both_bad == 'tie' else 'left out of the fit'})")
        notes = "".join(f"<div style='color:#666;font-size:12px'>{html.escape(n)}</div>" for n in self.notes)
        return head + self.table.to_html(index=False, float_format=lambda x: f"{x:,.0f}") + notes


def win_rate_matrix(votes, *, both_bad: str = "tie"):
    """(win rates, battle counts): entry [i, j] is contestant i's share of
    its votes against j that it won, ties (and "both bad", unless dropped) as
    half; NaN where the two never met. Sides do not matter."""
    import numpy as np
    import pandas as pd

    votes = _check_votes(votes)
    score, keep = _outcome_values(list(votes["winner"]), both_bad)
    names = sorted(set(votes["model_a"]) | set(votes["model_b"]))
    index = {n: k for k, n in enumerate(names)}
    a = np.array([index[x] for x in votes["model_a"]], dtype=np.int64)[keep]
    b = np.array([index[x] for x in votes["model_b"]], dtype=np.int64)[keep]
    s = score[keep]
    w = np.zeros((len(names), len(names)))
    g = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(w, (a, b), s)
    np.add.at(w, (b, a), 1.0 - s)
    np.add.at(g, (a, b), 1)
    np.add.at(g, (b, a), 1)
    wins = pd.DataFrame(w, index=names, columns=names)
    games = pd.DataFrame(g, index=names, columns=names)
    rates = wins / games.where(games > 0)
    rates.index.name = games.index.name = "contestant"
    rates.columns.name = games.columns.name = "against"
    return rates, games


def bradley_terry(votes, *, rounds: int = 200, seed: int = 0, both_bad: str = "tie", reg: float = 0.05,
                  anchor: str | None = None, anchor_rating: float = CENTER, simulated: bool | None = None) -> Ratings:
    """Fit Bradley-Terry ratings to ``votes`` (a DataFrame or list of dicts
    with ``model_a``, ``model_b`` and ``winner`` in ``A``/``B``/``tie``/``both
    bad``), with ``rounds`` seeded bootstrap refits for 95% intervals.
    See the module docstring for the maths and choices."""
    import numpy as np
    import pandas as pd

    if both_bad not in ("tie", "drop"):
        raise RatingsInputError(f"both_bad={both_bad!r} is not an option", "use 'tie' (as Chatbot Arena) or 'drop'")
    if reg < 0:
        raise RatingsInputError(f"reg={reg!r} is negative", "use reg=0 (plain maximum likelihood) or a small positive number")
    votes = _check_votes(votes)
    pairs, outcome, weight, names = _schedule(votes, both_bad)
    if anchor is not None and anchor not in names:
        raise RatingsInputError(f"anchor={anchor!r} has no votes", f"use one of {', '.join(map(repr, names))}")
    n = len(names)
    theta = _fit(pairs, outcome, weight, n, reg)
    rating = _anchored(theta, names, anchor, anchor_rating)
    rng = np.random.default_rng(seed)
    total = int(weight.sum())
    if total and rounds > 0:
        draws = rng.multinomial(total, weight / weight.sum(), size=rounds).astype(np.float64)
        boot = np.array([_fit(pairs, outcome, w, n, reg) for w in draws])
        samples = _anchored(boot, names, anchor, anchor_rating)
        lower, upper = np.percentile(samples, 2.5, axis=0), np.percentile(samples, 97.5, axis=0)
    else:
        samples = np.zeros((0, n))
        lower = upper = np.full(n, np.nan)
    if total:  # never narrower than the curvature's normal approximation (see the module docstring)
        se = SCALE * _curvature_se(theta, pairs, outcome, weight, n, reg,
                                   names.index(anchor) if anchor is not None else None)
        lower = np.fmin(lower, rating - Z95 * se)
        upper = np.fmax(upper, rating + Z95 * se)
    rates, games = win_rate_matrix(votes, both_bad=both_bad)
    counts = {name: {"votes": 0, "wins": 0, "losses": 0, "ties": 0, "both bad": 0} for name in names}
    for a, b, w in zip(votes["model_a"], votes["model_b"], votes["winner"], strict=True):
        counts[a]["votes"] += 1
        counts[b]["votes"] += 1
        if w == "A":
            counts[a]["wins"] += 1
            counts[b]["losses"] += 1
        elif w == "B":
            counts[b]["wins"] += 1
            counts[a]["losses"] += 1
        elif w == "tie":
            counts[a]["ties"] += 1
            counts[b]["ties"] += 1
        else:
            counts[a]["both bad"] += 1
            counts[b]["both bad"] += 1
    table = pd.DataFrame([{"contestant": name, "rating": rating[k], "lower": lower[k], "upper": upper[k],
                           **counts[name], "enough": counts[name]["votes"] >= ENOUGH_VOTES}
                          for k, name in enumerate(names)])
    table = table.sort_values("rating", ascending=False, kind="stable").reset_index(drop=True)
    # rank as Chatbot Arena shows it: 1 + the number of contestants whose lower bound beats this upper bound
    table.insert(0, "rank", [1 + int((table["lower"] > u).sum()) for u in table["upper"]])
    sim = bool(votes["simulated"].any()) if simulated is None and "simulated" in votes.columns else bool(simulated)
    notes = []
    if both_bad == "drop" and (votes["winner"] == "both bad").any():
        notes.append(f"{int((votes['winner'] == 'both bad').sum())} 'both bad' votes left out of the fit "
                     "(still counted in the 'both bad' column)")
    lone = [name for name in names if counts[name]["votes"] < ENOUGH_VOTES]
    if lone:
        notes.append(f"needs more votes: fewer than {ENOUGH_VOTES} for {', '.join(lone)} (their intervals are wide)")
    return Ratings(table, rates, games, pd.DataFrame(samples, columns=names), len(votes), rounds, seed, both_bad,
                   reg, anchor, sim, notes)


def win_probability(r_a: float, r_b: float) -> float:
    """The chance A's answer is preferred to B's, from their ratings."""
    return 1.0 / (1.0 + BASE ** ((r_b - r_a) / SCALE))


def simulate_votes(strengths: dict[str, float], n: int, *, tie_rate: float = 0.15, both_bad_rate: float = 0.05,
                   seed: int = 0):
    """``n`` SIMULATED votes between contestants with known ratings
    ``strengths`` (Elo scale): a random pair and random sides per vote; a
    share ``tie_rate`` of votes are ties and ``both_bad_rate`` "both bad";
    the rest go to A with a probability chosen so that A's expected score
    (ties as half) is exactly the Bradley-Terry probability, so the fit has
    the true ratings to recover (clipped for pairs more than ~380 points
    apart at the default rates). The rows have ``simulated=True``: never mix
    them with real votes unmarked."""
    import numpy as np
    import pandas as pd

    names = list(strengths)
    if len(names) < 2:
        raise RatingsInputError("simulate_votes needs at least two contestants", "give strengths for two or more")
    if not 0 <= tie_rate + both_bad_rate < 1:
        raise RatingsInputError(f"tie_rate + both_bad_rate = {tie_rate + both_bad_rate:g}", "keep it from 0 to below 1")
    rng = np.random.default_rng(seed)
    drawn = tie_rate + both_bad_rate
    n = int(n)
    first = rng.integers(0, len(names), size=n)
    second = (first + rng.integers(1, len(names), size=n)) % len(names)  # any other contestant, uniformly
    r = np.array([float(strengths[x]) for x in names])
    p_a = 1.0 / (1.0 + BASE ** ((r[second] - r[first]) / SCALE))
    p_decisive = np.clip((p_a - 0.5 * drawn) / (1.0 - drawn), 0.0, 1.0)
    u, v = rng.random(n), rng.random(n)
    winner = np.where(u < tie_rate, "tie", np.where(u < drawn, "both bad", np.where(v < p_decisive, "A", "B")))
    rows = [{"id": f"sim-{seed}-{k}", "voter": "simulated", "model_a": names[first[k]], "model_b": names[second[k]],
             "winner": str(winner[k]), "simulated": True} for k in range(n)]
    return pd.DataFrame(rows)


__all__ = ["ENOUGH_VOTES", "OUTCOMES", "Ratings", "RatingsInputError", "bradley_terry", "simulate_votes", "win_probability",
           "win_rate_matrix"]
