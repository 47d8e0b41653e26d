r"""The two-stage recommender as one call: retrieve from an ANN index, rank, drop seen items, diversify.

.. code-block:: text

    user ──► user tower p_u ──► ANN index (item tower vectors) ──► N candidates
         ──► drop items the user has seen ──► ranker (optional) ──► MMR (optional) ──► top k, with titles

**Retrieval.** The index holds the retriever's item vectors :math:`q_i` (row = inner item index);
the query is :math:`p_u`, and the index returns the :math:`N + |S_u|` best inner products
(:math:`S_u`: the user's training items, capped at the catalogue), so that :math:`N` unseen
candidates remain once the seen ones are dropped (dropping them before ranking spares the ranker
work and gives the same list as dropping them after: ranking is pointwise).

**Ranking.** A ranker re-scores the :math:`N` candidates; the final order follows its scores
(ties: retrieval order). Without one, the retrieval scores are the ranking.

**Diversity (MMR).** Maximal marginal relevance (Carbonell and Goldstein 1998) picks the list
greedily: with :math:`R` the candidates, :math:`S` the items chosen so far,

.. math::

    i^\star = \operatorname*{arg\,max}_{i \in R \setminus S}
        \Big[\lambda\, \mathrm{rel}(i) - (1 - \lambda) \max_{j \in S} \mathrm{sim}(i, j)\Big],

where :math:`\mathrm{rel}` is the ranking score min-max scaled to :math:`[0, 1]` over the
candidates (so that :math:`\lambda` weighs comparable quantities) and :math:`\mathrm{sim}` the
cosine of the item vectors (the max over an empty :math:`S` is 0). :math:`\lambda = 1` keeps the
ranking; smaller values trade relevance for variety.

Fallbacks and errors (documented, tested in ``tests/test_pipeline.py``):

* a user with neither training pairs nor features: ``unknown_users="popularity"`` (default) answers
  with the most popular unseen items, and the result's ``attrs["source"]`` says so;
  ``unknown_users="raise"`` raises :class:`~course_lib.interactions.UnknownIdError`;
* no unseen candidate left (the user has seen every retrieved item, or the whole catalogue): an
  empty table with the usual columns and ``attrs["source"]`` explaining why; the ranker is not called;
* an index whose dimension or size does not match the retriever's item vectors: ``ValueError`` at
  construction, with what to rebuild.

References: J. Carbonell and J. Goldstein, "The use of MMR, diversity-based reranking for reordering
documents and producing summaries", SIGIR 1998; P. Covington, J. Adams and E. Sargin, "Deep Neural
Networks for YouTube Recommendations", RecSys 2016 (candidate generation, then ranking).
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .ann import ANNIndex
from .interactions import UnknownIdError
from .models.base import Recommender, check_is_fitted
from .validation import check_finite_number, check_positive_int

__all__ = ["TwoStagePipeline", "RequestLatency", "mmr", "measure_request_latency"]

COLUMNS = ["rank", "item_id", "title", "retrieval_score", "ranker_score", "score"]


def mmr(relevance, vectors, k: int, lam: float = 0.7) -> np.ndarray:
    r"""Maximal marginal relevance: the order (positions into ``relevance``) of the ``k`` items picked.

    ``relevance``: ``(n,)`` scores of the candidates (any scale: min-max scaled to [0, 1] here; all
    equal -> all 1); ``vectors``: ``(n, d)`` item vectors, similarity = cosine (a zero vector has
    similarity 0 with everything); ``lam``: :math:`\lambda \in [0, 1]`. Ties go to the earlier
    candidate. Returns ``min(k, n)`` distinct positions, int64; ``n = 0`` gives an empty array.
    """
    rel = np.asarray(relevance, dtype=np.float64).ravel()
    V = np.asarray(vectors, dtype=np.float64)
    if V.ndim != 2 or V.shape[0] != rel.size:
        raise ValueError(f"vectors must have shape (n, d) with one row per relevance score ({rel.size}), "
                         f"got {V.shape}")
    if not np.isfinite(rel).all() or not np.isfinite(V).all():
        raise ValueError("relevance and vectors must be finite (no NaN or inf)")
    k = check_positive_int(k, "k")
    lam = check_finite_number(lam, "lam", minimum=0)
    if lam > 1:
        raise ValueError(f"lam (lambda) must be in [0, 1], got {lam}")
    n = rel.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    spread = rel.max() - rel.min()
    rel = (rel - rel.min()) / spread if spread > 0 else np.ones(n)
    norms = np.linalg.norm(V, axis=1)
    U = np.divide(V, norms[:, None], out=np.zeros_like(V), where=norms[:, None] > 0)
    sim = U @ U.T
    chosen: list[int] = []
    max_sim = np.full(n, -np.inf)         # max similarity to the chosen items (may be negative)
    free = np.ones(n, dtype=bool)
    for step in range(min(k, n)):
        penalty = max_sim if step else np.zeros(n)   # the max over an empty S counts as 0
        gain = np.where(free, lam * rel - (1 - lam) * penalty, -np.inf)
        best = int(np.argmax(gain))       # the first maximum: ties go to the earlier candidate
        chosen.append(best)
        free[best] = False
        max_sim = np.maximum(max_sim, sim[best])
    return np.asarray(chosen, dtype=np.int64)


@dataclass(frozen=True)
class RequestLatency:
    """Per-request latency of :func:`measure_request_latency`, in milliseconds (wall-clock and CPU)."""

    n_requests: int
    repeats: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    cpu_p50_ms: float
    cpu_p95_ms: float


class TwoStagePipeline:
    r"""Retrieve ``n_candidates`` from ``index`` → drop seen items → ``ranker`` → MMR → top ``k`` with titles.

    Parameters
    ----------
    retriever : a fitted two-tower model with ``user_vectors(user_ids, users=None)`` (queries,
        ``(n, d)``, raising :class:`~course_lib.interactions.UnknownIdError` for users it cannot
        describe), ``item_vectors()`` (``(n_items, d)`` in ``data_.item_ids`` order) and ``data_``
        (its training :class:`~course_lib.interactions.Interactions`, which says what each user has seen):
        :class:`course_lib.models.torch_models.TwoTower` or its Keras twin.
    index : an :class:`~course_lib.ann.ANNIndex` built from ``retriever.item_vectors()`` (id = inner item
        index), e.g. ``build_index(retriever.item_vectors(), "hnsw")``.
    ranker : ``None`` (retrieval order), or **the ranker interface**, one of

        * a fitted course model (:class:`~course_lib.models.base.Recommender`): its pointwise
          ``test(DataFrame(user_id, item_id), users=..., items=...)["est"]`` scores the candidates
          (raw ids; the ``users`` / ``items`` tables given here are passed on, so feature-based rankers
          can score new users and items; a candidate it cannot score gets its fallback estimate);
        * an object with ``score_candidates(user_id, item_ids) -> array (n,)`` (preferred when both
          exist: a ranker over (user, item, context) features can take its context there);
        * a callable ``f(user_id, item_ids) -> array (n,)``.

        Scores must be finite, one per candidate, higher = better; they are compared only within a request.
    n_candidates : :math:`N`, unseen candidates retrieved per request (>= ``k``).
    k : length of the final list.
    mmr_lambda : ``None`` (no diversity re-ranking) or :math:`\lambda \in [0, 1]` of :func:`mmr`.
    items : a table with ``item_id`` and ``title`` (MovieLens's ``movies``) for the titles; default the
        retriever's ``data_.items``.
    users : a table of user features for users unknown to the retriever (new users).
    unknown_users : ``"popularity"`` (default: the most popular unseen items) or ``"raise"``.
    exclude_seen : drop the user's training items (default True).
    search_params : passed to ``index.search`` (``ef_search=...`` for HNSW, ``nprobe=...`` for IVF).
    """

    def __init__(self, retriever: Recommender, index: ANNIndex, *, ranker=None, n_candidates: int = 100,
                 k: int = 10, mmr_lambda: float | None = None, items: pd.DataFrame | None = None,
                 users: pd.DataFrame | None = None, unknown_users: str = "popularity", exclude_seen: bool = True,
                 **search_params):
        check_is_fitted(retriever)
        for method in ("user_vectors", "item_vectors"):
            if not callable(getattr(retriever, method, None)):
                raise TypeError(f"the retriever must have a {method}() method (a two-tower model such as "
                                f"course_lib.models.torch_models.TwoTower), got {type(retriever).__name__}")
        self.retriever, self.index = retriever, index
        self.k = check_positive_int(k, "k")
        self.n_candidates = check_positive_int(n_candidates, "n_candidates")
        if self.n_candidates < self.k:
            raise ValueError(f"n_candidates ({n_candidates}) must be >= k ({k}): the final list is chosen among "
                             "the candidates")
        if mmr_lambda is not None:
            lam = check_finite_number(mmr_lambda, "mmr_lambda", minimum=0)
            if lam > 1:
                raise ValueError(f"mmr_lambda must be in [0, 1] (or None for no diversity re-ranking), got {lam}")
        self.mmr_lambda = mmr_lambda
        if unknown_users not in ("popularity", "raise"):
            raise ValueError(f"unknown_users must be 'popularity' or 'raise', got {unknown_users!r}")
        self.unknown_users, self.exclude_seen, self.search_params = unknown_users, bool(exclude_seen), search_params
        if ranker is not None and not (isinstance(ranker, Recommender) or callable(ranker)
                                       or callable(getattr(ranker, "score_candidates", None))):
            raise TypeError("ranker must be a fitted course model, an object with score_candidates(user_id, item_ids), "
                            f"a callable f(user_id, item_ids) -> scores, or None; got {type(ranker).__name__}")
        if isinstance(ranker, Recommender):
            check_is_fitted(ranker)
        self.ranker = ranker
        data = retriever.data_
        self.item_vectors_ = np.asarray(retriever.item_vectors(), dtype=np.float32)
        if index.dim != self.item_vectors_.shape[1]:
            raise ValueError(f"the index holds {index.dim}-dimensional vectors but the retriever's item vectors have "
                             f"{self.item_vectors_.shape[1]}: build the index from retriever.item_vectors()")
        if len(index) != data.n_items:
            raise ValueError(f"the index holds {len(index)} vectors but the retriever knows {data.n_items} items: "
                             "build the index from retriever.item_vectors() (one row per training item, in order)")
        table = items if items is not None else data.items
        self.titles_ = None
        if table is not None and "title" in table:
            self.titles_ = table.drop_duplicates("item_id").set_index("item_id")["title"].reindex(data.item_ids).to_numpy()
        self.users, self.items = users, items
        self.seen_ = data.matrix.tocsr()
        self.popularity_ = np.argsort(-data.item_counts(), kind="stable")

    # -- stages -----------------------------------------------------------------------------
    def _seen(self, inner_user: int) -> np.ndarray:
        if inner_user < 0 or not self.exclude_seen:
            return np.zeros(0, dtype=np.int64)
        m = self.seen_
        return m.indices[m.indptr[inner_user]:m.indptr[inner_user + 1]].astype(np.int64)

    def retrieve(self, user_id) -> tuple[np.ndarray, np.ndarray, str]:
        """``(inner items, retrieval scores, source)``: up to ``n_candidates`` unseen candidates, best first.

        ``source`` is ``"index"``, or the popularity fallback's explanation for an undescribed user.
        """
        data = self.retriever.data_
        inner = int(data.encode_users([user_id])[0])
        seen = self._seen(inner)
        try:
            p_u = self.retriever.user_vectors([user_id], users=self.users)
        except UnknownIdError:
            if self.unknown_users == "raise":
                raise
            free = self.popularity_[~np.isin(self.popularity_, seen)][:self.n_candidates]
            counts = data.item_counts()[free].astype(np.float64)
            return free, counts, (f"popularity fallback: user {user_id!r} has no training pairs and no features "
                                  "(pass users= with their features to retrieve for them)")
        n_ask = min(self.n_candidates + len(seen), len(self.index))
        scores, ids = self.index.search(p_u, n_ask, **self.search_params)
        scores, ids = scores[0].astype(np.float64), ids[0]
        keep = (ids >= 0) & ~np.isin(ids, seen)
        return ids[keep][:self.n_candidates], scores[keep][:self.n_candidates], "index"

    def rank(self, user_id, candidates: np.ndarray) -> np.ndarray | None:
        """The ranker's scores of the inner ``candidates`` (``None`` without a ranker), float64 ``(n,)``."""
        if self.ranker is None or len(candidates) == 0:
            return None
        raw = self.retriever.data_.item_ids[candidates]
        if callable(getattr(self.ranker, "score_candidates", None)):
            out = self.ranker.score_candidates(user_id, raw)
        elif isinstance(self.ranker, Recommender):
            pairs = pd.DataFrame({"user_id": [user_id] * len(raw), "item_id": raw})
            out = self.ranker.test(pairs, users=self.users, items=self.items)["est"].to_numpy()
        else:
            out = self.ranker(user_id, raw)
        out = np.asarray(out, dtype=np.float64).ravel()
        if out.shape != (len(candidates),):
            raise ValueError(f"the ranker returned {out.size} scores for {len(candidates)} candidates: it must return "
                             "one score per candidate, in the order given")
        if not np.isfinite(out).all():
            raise ValueError("the ranker returned NaN or infinite scores")
        return out

    def recommend(self, user_id, k: int | None = None) -> pd.DataFrame:
        """The final list for one user: ``rank, item_id, title, retrieval_score, ranker_score, score``.

        ``score`` is what ordered the list before MMR (the ranker's score, else the retrieval score);
        ``attrs["source"]`` says where the candidates came from (``"index"`` or a fallback's reason).
        """
        k = self.k if k is None else check_positive_int(k, "k")
        candidates, retrieval, source = self.retrieve(user_id)
        if len(candidates) == 0:
            out = pd.DataFrame({c: pd.Series(dtype=float if "score" in c else object) for c in COLUMNS})
            out["rank"] = out["rank"].astype(np.int64)
            out.attrs["source"] = (source + "; " if source != "index" else "") + \
                f"no unseen candidates: user {user_id!r} has seen every item the retrieval stage returned"
            return out
        ranked = self.rank(user_id, candidates) if source == "index" else None
        score = retrieval if ranked is None else ranked
        order = np.lexsort((np.arange(len(score)), -score))  # best first, ties: retrieval order
        if self.mmr_lambda is not None:
            picked = mmr(score[order], self.item_vectors_[candidates[order]], k, self.mmr_lambda)
            order = order[picked]
        order = order[:k]
        chosen = candidates[order]
        out = pd.DataFrame({
            "rank": np.arange(1, len(order) + 1),
            "item_id": self.retriever.data_.item_ids[chosen],
            "title": self.titles_[chosen] if self.titles_ is not None else None,
            "retrieval_score": retrieval[order],
            "ranker_score": ranked[order] if ranked is not None else np.nan,
            "score": score[order]})
        out.attrs["source"] = source
        return out

    __call__ = recommend


def measure_request_latency(pipeline: TwoStagePipeline | Callable, user_ids, *, repeats: int = 3,
                            warmup: int = 5) -> RequestLatency:
    """Time one call per user: ``pipeline(user_id)`` for each of ``user_ids``, ``repeats`` passes.

    Each request's time is its best over the passes (wall-clock ``time.perf_counter`` and CPU
    ``time.process_time``); p50 and p95 are over the requests. ``warmup`` untimed calls first.
    A benchmark helper: never assert on its numbers in a test (they depend on the machine and its load).
    """
    users = list(user_ids)
    if not users:
        raise ValueError("measure_request_latency needs at least one user id")
    repeats = check_positive_int(repeats, "repeats")
    if isinstance(warmup, bool) or not isinstance(warmup, numbers.Integral) or warmup < 0:
        raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
    for u in users[:warmup]:
        pipeline(u)
    wall = np.full(len(users), np.inf)
    cpu = np.full(len(users), np.inf)
    for _ in range(repeats):
        for j, u in enumerate(users):
            t, c = time.perf_counter(), time.process_time()
            pipeline(u)
            wall[j] = min(wall[j], time.perf_counter() - t)
            cpu[j] = min(cpu[j], time.process_time() - c)
    wall, cpu = wall * 1e3, cpu * 1e3
    return RequestLatency(n_requests=len(users), repeats=repeats, p50_ms=float(np.percentile(wall, 50)),
                          p95_ms=float(np.percentile(wall, 95)), mean_ms=float(wall.mean()),
                          cpu_p50_ms=float(np.percentile(cpu, 50)), cpu_p95_ms=float(np.percentile(cpu, 95)))
