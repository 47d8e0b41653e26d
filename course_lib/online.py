r"""Online evaluation in miniature: a simulated A/B test, team-draft interleaving and a paired test.

Offline metrics replay held-out interactions; an online test shows each list to real users and
counts what they do. The two disagree because clicks depend on position, on what else is on the
page and on items the logs never showed (a held-out item is a *lower bound* on what a user likes).
This module simulates the online side with an explicit click model, so a lesson can show what an
A/B test measures and how many users it needs, and compares two models offline with a paired test.

Click model (position-based, Craswell et al. 2008): a user examines position :math:`j` (1-based)
with probability :math:`e_j = 1 / \log_2(j + 1)` and clicks an examined item with probability
``p_relevant`` if it is among their held-out relevant items, ``p_other`` otherwise.

``ab_test``   users are split at random into two arms; each arm sees one model's lists; the outcome
              is the click-through rate per arm (clicks / lists shown). The difference comes with a
              normal-approximation 95 % interval over users (Welch, unequal variances):
              :math:`\Delta \pm 1.96 \sqrt{s_A^2 / n_A + s_B^2 / n_B}`.
``team_draft_interleave``  Radlinski, Kurup and Joachims (CIKM 2008): both models' lists are merged
              into one, each position credited to the model ("team") that placed it; the model
              whose team gets more clicks wins that user. Every user sees both models, so it needs
              far fewer users than an A/B test for the same decision.
``interleaving_test``  team-draft interleaving for every user, a win for the team with more clicks;
              the sign test (``scipy.stats.binomtest``) over the users with a winner.
``paired_test``  two models scored on the *same* users offline (e.g.
              :func:`course_lib.beyond_accuracy.per_user_ndcg`): the mean per-user difference, its
              95 % t interval, the paired t-test (``scipy.stats.ttest_rel``) and the Wilcoxon
              signed-rank test (``scipy.stats.wilcoxon``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from .validation import check_finite_number, check_random_state

__all__ = ["ab_test", "examination_probabilities", "interleaving_test", "paired_test", "simulate_clicks",
           "team_draft_interleave"]


def examination_probabilities(k: int) -> np.ndarray:
    r"""The position model's :math:`e_j = 1 / \log_2(j + 1)` for positions :math:`j = 1..k`."""
    return 1.0 / np.log2(np.arange(2, k + 2))


def _check_probability(value, name: str) -> float:
    value = check_finite_number(value, name, minimum=0)
    if value > 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
    return value


def simulate_clicks(items, relevant, rng, *, p_relevant: float = 0.7, p_other: float = 0.02) -> np.ndarray:
    """One user's clicks (bool per position) on the list ``items`` under the position-based click model."""
    items = list(items)
    p_relevant = _check_probability(p_relevant, "p_relevant")
    p_other = _check_probability(p_other, "p_other")
    examine = rng.random(len(items)) < examination_probabilities(len(items))
    attractive = np.array([p_relevant if i in relevant else p_other for i in items])
    return examine & (rng.random(len(items)) < attractive)


def ab_test(recs_a: Mapping, recs_b: Mapping, relevant: Mapping, *, p_relevant: float = 0.7,
            p_other: float = 0.02, random_state=0) -> dict[str, float]:
    """Simulated A/B test: users split at random between model A's and model B's lists; CTR per arm.

    ``recs_a`` and ``recs_b`` map the same users to their lists; ``relevant`` maps users to the items
    they would like (their held-out items). Returns ``n_a``, ``n_b``, ``ctr_a``, ``ctr_b``, the
    difference ``ctr_b - ctr_a`` and its 95 % interval (``low``, ``high``); CTR = clicks per list.
    """
    users = [u for u in recs_a if u in recs_b]
    if len(users) < 4:
        raise ValueError("an A/B test needs at least 4 users present in both recs_a and recs_b")
    rng = check_random_state(random_state)
    arm = rng.random(len(users)) < 0.5
    clicks = {True: [], False: []}
    for user, in_b in zip(users, arm):
        recs = recs_b if in_b else recs_a
        clicks[bool(in_b)].append(simulate_clicks(recs[user], relevant.get(user, ()), rng,
                                                  p_relevant=p_relevant, p_other=p_other).sum())
    a, b = np.asarray(clicks[False], float), np.asarray(clicks[True], float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("one arm got fewer than 2 users: use more users")
    diff = b.mean() - a.mean()
    half = 1.96 * np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return {"n_a": len(a), "n_b": len(b), "ctr_a": float(a.mean()), "ctr_b": float(b.mean()),
            "difference": float(diff), "low": float(diff - half), "high": float(diff + half)}


def team_draft_interleave(list_a, list_b, k: int, rng) -> tuple[list, list]:
    """Team-draft interleaving: the merged list of length <= k and, per position, the team ("A" or "B").

    Each round a coin decides which team picks first; each team then adds its highest-ranked item
    not yet in the merged list (Radlinski et al. 2008, Algorithm 2).
    """
    list_a, list_b = list(list_a), list(list_b)
    merged, teams, chosen = [], [], set()
    count = {"A": 0, "B": 0}
    while len(merged) < k:
        left_a = [i for i in list_a if i not in chosen]
        left_b = [i for i in list_b if i not in chosen]
        if not left_a and not left_b:
            break
        a_first = count["A"] < count["B"] or (count["A"] == count["B"] and rng.random() < 0.5)
        team, pool = ("A", left_a) if (a_first and left_a) or not left_b else ("B", left_b)
        merged.append(pool[0])
        teams.append(team)
        chosen.add(pool[0])
        count[team] += 1
    return merged, teams


def interleaving_test(recs_a: Mapping, recs_b: Mapping, relevant: Mapping, k: int = 10, *, p_relevant: float = 0.7,
                      p_other: float = 0.02, random_state=0) -> dict[str, float]:
    """Team-draft interleaving for every user in both ``recs_a`` and ``recs_b``; wins, ties and the sign test.

    Each user sees one merged list (:func:`team_draft_interleave`), clicks under the click model
    (:func:`simulate_clicks`), and the team with more clicks wins that user. Returns ``wins_a``,
    ``wins_b``, ``ties`` and the two-sided sign-test ``pvalue`` (``scipy.stats.binomtest`` of
    ``wins_b`` among the users with a winner; 1.0 if nobody clicked).
    """
    users = [u for u in recs_a if u in recs_b]
    if not users:
        raise ValueError("no user is present in both recs_a and recs_b")
    rng = check_random_state(random_state)
    wins = {"A": 0, "B": 0, "tie": 0}
    for user in users:
        merged, teams = team_draft_interleave(recs_a[user], recs_b[user], k, rng)
        clicks = simulate_clicks(merged, relevant.get(user, ()), rng, p_relevant=p_relevant, p_other=p_other)
        a = sum(c for c, t in zip(clicks, teams) if t == "A")
        b = sum(c for c, t in zip(clicks, teams) if t == "B")
        wins["A" if a > b else "B" if b > a else "tie"] += 1
    decided = wins["A"] + wins["B"]
    pvalue = float(stats.binomtest(wins["B"], decided).pvalue) if decided else 1.0
    return {"wins_a": wins["A"], "wins_b": wins["B"], "ties": wins["tie"], "pvalue": pvalue}


def paired_test(metric_a: pd.Series, metric_b: pd.Series) -> dict[str, float]:
    """Paired comparison of two models' per-user metrics (same users): B - A, 95 % t interval, t and Wilcoxon tests.

    Users present in only one Series are dropped (their count is reported as ``n_dropped``).
    """
    if not isinstance(metric_a, pd.Series) or not isinstance(metric_b, pd.Series):
        raise TypeError("metric_a and metric_b must be pandas Series indexed by user")
    a, b = metric_a.align(metric_b, join="inner")
    if a.isna().any() or b.isna().any():
        raise ValueError("per-user metrics contain NaN: drop or fill them first")
    n = len(a)
    if n < 2:
        raise ValueError("a paired test needs at least 2 users common to both Series")
    d = (b - a).to_numpy(dtype=float)
    mean, se = d.mean(), d.std(ddof=1) / np.sqrt(n)
    half = stats.t.ppf(0.975, n - 1) * se
    t = stats.ttest_rel(b.to_numpy(float), a.to_numpy(float))
    nonzero = d[d != 0]
    w_p = float(stats.wilcoxon(nonzero).pvalue) if len(nonzero) > 0 else 1.0
    return {"n_users": n, "n_dropped": len(metric_a) + len(metric_b) - 2 * n, "mean_difference": float(mean),
            "low": float(mean - half), "high": float(mean + half), "t": float(t.statistic),
            "t_pvalue": float(t.pvalue), "wilcoxon_pvalue": w_p}
