r"""Approximate nearest-neighbour (ANN) search for the maximum inner product: the retrieval stage.

A two-tower model scores an item :math:`i` for a user by the inner product of their vectors,
so retrieving a user's top :math:`k` items is **maximum inner-product search** (MIPS):

.. math::

    \operatorname{TopK}(q) = \operatorname*{arg\,max^{(k)}}_{i \in \{1..n\}} \; \langle q, v_i \rangle,
    \qquad q \in \mathbb{R}^{d},\; V = [v_1; \dots; v_n] \in \mathbb{R}^{n \times d}.

Exact search costs :math:`O(nd)` per query (one matrix product :math:`Q V^\top`, shape
:math:`n_q \times n`, then a top-:math:`k` selection per row). ANN indexes visit a small part of
the catalogue and return most of the exact top :math:`k`; :func:`recall_at_k` measures how much:

.. math::

    \mathrm{recall@}k = \frac{1}{n_q} \sum_{q} \frac{|\hat T_k(q) \cap T_k(q)|}{k},

with :math:`T_k(q)` the exact top :math:`k` and :math:`\hat T_k(q)` the approximate one.

Kinds (all behind :func:`build_index`, each returning scores and ids of shape :math:`n_q \times k`):

``"exact"``  NumPy: a float32 matrix product per batch of queries and an exact top-:math:`k`
    (ties broken by the smaller id). The reference.
``"flat"``   faiss ``IndexFlatIP``: the same exact search, in faiss's kernels.
``"hnsw"``   faiss ``IndexHNSWFlat`` (Malkov & Yashunin 2018): a layered proximity graph;
    ``M`` links per vector (``2M`` on the bottom layer), ``ef_construction`` candidates while
    inserting (faiss ``efConstruction``), ``ef_search`` candidates while searching
    (faiss ``efSearch``; raised to ``k`` when smaller, see below).
``"ivf"``    faiss ``IndexIVFFlat`` (Jégou, Douze & Schmid 2011; Johnson, Douze & Jégou 2019): a
    k-means of the items into ``nlist`` cells (spherical k-means, faiss's default for inner
    product), each query scans the items of its ``nprobe`` best cells exactly.

**Inner product in HNSW.** ``mips="native"`` (the default) builds the graph with faiss's
``METRIC_INNER_PRODUCT``. ``mips="augment"`` uses the reduction of Bachrach et al. (2014): with
:math:`\Phi = \max_i \|v_i\|`, items become :math:`\tilde v_i = [v_i, \sqrt{\Phi^2 - \|v_i\|^2}]`
and queries :math:`\tilde q = [q, 0]`, so that

.. math::

    \|\tilde q - \tilde v_i\|^2 = \|q\|^2 + \Phi^2 - 2 \langle q, v_i \rangle,

and the L2-nearest items are exactly the largest inner products: an ordinary (metric) HNSW
answers MIPS. The native graph is the default, measured by ``benchmarks/bench_ann.py``
(``benchmarks/results/ann.md``; same ``M`` and ``ef_construction``, k = 100): on 1,000,000
clustered items with varying norms (d = 64, M = 48) it gave the higher recall at every query time
below about 5 ms (e.g. 0.909 against 0.769 at 1.2 ms CPU per query), and on MovieLens's 1,682 movies
0.994 against 0.938 at ``ef_search`` 100. The augmented graph keeps climbing where the native one
flattens out: it passed it at ``ef_search`` 3200 on 1M items (0.939 against 0.927, but as slow as
exact search); ``tests/test_ann.py`` shows the same crossing on 20,000 items. The native index also
accepts later :meth:`FaissIndex.add` calls of any norm, which the augmented one cannot
(:math:`\Phi` is fixed when it is built). On that 1M catalogue neither HNSW variant reached
recall@100 0.95 within ``ef_search`` 3200, while IVF did at ``nprobe`` 128 of 4096 cells (0.958,
16.6x less CPU time per query than exact search): clustered catalogues favour IVF. Measure on your data.

**Input rule.** Vectors and queries are cast to C-contiguous float32 (faiss computes in float32
only); float64 input is rounded to the nearest float32, a relative change of at most
:math:`2^{-24}` per entry, so scores may differ from a float64 computation in the 7th significant
digit. A 1-D query is one query. NaN or infinite entries, a wrong dimension, ``k`` larger than
the catalogue and searching an empty index raise ``ValueError`` with what to do.

**Determinism.** faiss runs with ``threads`` OpenMP threads (default 1, set with
``faiss.omp_set_num_threads``, a process-wide setting). With one thread every kind is
deterministic: ids are assigned in insertion order, the HNSW level generator and the IVF k-means
are seeded from ``random_state``. With more threads the HNSW graph depends on the thread
schedule (faiss's documentation), so the results may change from run to run. A query's scores do
not depend on the batch it is searched in with faiss (measured: one query at a time and 100 at
once give the same bits); the NumPy exact index may differ in the last bit (BLAS computes one
query as a matrix-vector product, a batch as a matrix product). faiss chooses its
SIMD kernels (AVX2 or AVX-512) at run time; ``FAISS_SIMD_LEVEL=AVX2`` in the course's numeric profile
pins them (see ``course/reproducibility.py`` and ``benchmarks/results/ann.md``).

**Missing results.** An IVF search that visits fewer than ``k`` items (small cells, small
``nprobe``) pads its rows with id ``-1`` and score ``-inf``, as faiss does; :func:`recall_at_k`
counts them as misses.

References: Y. Malkov and D. Yashunin, *Efficient and robust approximate nearest neighbor search
using Hierarchical Navigable Small World graphs*, IEEE TPAMI 42(4), 2018; H. Jégou, M. Douze and
C. Schmid, *Product quantization for nearest neighbor search*, IEEE TPAMI 33(1), 2011;
J. Johnson, M. Douze and H. Jégou, *Billion-scale similarity search with GPUs*, IEEE TBD 7(3),
2019; Y. Bachrach et al., *Speeding up the Xbox recommender system using a Euclidean
transformation for inner-product spaces*, RecSys 2014; S. Morozov and A. Babenko,
*Non-metric similarity graphs for maximum inner product search*, NeurIPS 2018.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["KINDS", "ANNIndex", "ExactIndex", "FaissIndex", "build_index", "recall_at_k", "Latency",
           "measure_latency", "synthetic_catalogue", "augment_items", "augment_queries"]

#: the index kinds :func:`build_index` knows, with their parameters and defaults
KINDS: dict[str, dict[str, object]] = {
    "exact": {"batch_size": None},
    "flat": {},
    "hnsw": {"M": 32, "ef_construction": 200, "ef_search": 200, "mips": "native", "max_norm": None},
    "ivf": {"nlist": None, "nprobe": None},
}

_MISSING_SCORE = -np.inf


# ------------------------------------------------------------------------------------- input checks

def _as_vectors(x, name: str, dim: int | None = None, *, allow_1d: bool = False) -> np.ndarray:
    """``x`` as a C-contiguous float32 matrix (n, d), checked: numeric, finite, the right width."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    if arr.ndim == 1 and allow_1d:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        shape = "(n_queries, dim) or (dim,)" if allow_1d else "(n_vectors, dim)"
        raise ValueError(f"{name} must have shape {shape}, got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has {arr.shape[1]} columns but the index holds {dim}-dimensional vectors: "
                         f"pass vectors of dimension {dim} (the same embedding size the index was built with)")
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=np.float32)
    if out.size:
        bad = ~np.isfinite(out)
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            what = "NaN" if np.isnan(out[rows[0]]).any() else "infinite (or beyond float32's range)"
            raise ValueError(f"{name} has {rows.size} rows with NaN or infinite values (first: row {rows[0]}, "
                             f"{what}); drop or fix those vectors before indexing or searching")
    return out


def _check_int(value, name: str, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def _seed(random_state) -> int:
    """A 31-bit seed for faiss from an int or a NumPy Generator."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    return _check_int(random_state, "random_state", 0, 2**31 - 1)


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is pinned
        raise ImportError("kinds 'flat', 'hnsw' and 'ivf' need faiss: pip install faiss-cpu "
                          "(the version pinned in requirements.txt)") from exc
    return faiss


# ------------------------------------------------------------------------------------------ indexes

class ANNIndex:
    """What every index offers: ``search(queries, k) -> (scores, ids)``, ``add(vectors)``, ``len()``.

    Attributes: ``kind`` (str), ``dim`` (int), ``params`` (the parameters it was built with).
    """

    kind: str
    dim: int
    params: dict

    def __len__(self) -> int:
        raise NotImplementedError

    def add(self, vectors) -> None:
        raise NotImplementedError

    def search(self, queries, k: int, **params) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def memory_bytes(self) -> int:
        raise NotImplementedError

    def _check_search(self, queries, k) -> tuple[np.ndarray, int]:
        n = len(self)
        if n == 0:
            raise ValueError("the index is empty (0 vectors): add item vectors with index.add(vectors) "
                             "before searching")
        k = _check_int(k, "k")
        if k > n:
            raise ValueError(f"k={k} is larger than the {n} vectors in the index: ask for at most k={n} "
                             "(every item), or add more items")
        return _as_vectors(queries, "queries", self.dim, allow_1d=True), k

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        sep = ", " if params else ""
        return f"{type(self).__name__}(kind={self.kind!r}, n={len(self)}, dim={self.dim}{sep}{params})"


def _topk_rows(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of every row of ``S``, scores descending, ties broken by the smaller column."""
    nq, n = S.shape
    if k == n:
        cand = np.broadcast_to(np.arange(n), S.shape).copy()
    else:
        cand = np.argpartition(-S, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(S, cand, axis=1).min(axis=1)
        # argpartition keeps an arbitrary subset of the values tied with the k-th: redo those rows
        tied = np.flatnonzero((S >= kth[:, None]).sum(axis=1) > k)
        for r in tied:
            c = np.flatnonzero(S[r] >= kth[r])
            cand[r] = c[np.lexsort((c, -S[r, c]))[:k]]
    scores = np.take_along_axis(S, cand, axis=1)
    order = np.lexsort((cand, -scores), axis=1)
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(cand, order, axis=1).astype(np.int64)


class ExactIndex(ANNIndex):
    r"""Exact MIPS in NumPy: :math:`S = Q V^\top` (float32, shape :math:`n_q \times n`) in batches
    of queries, then the top :math:`k` of each row (ties: the smaller id first).

    ``batch_size`` queries are scored at once (default: as many as keep :math:`S` under 2^25
    entries, 128 MB). Vectors are stored as given (float32), in insertion order (id = row).
    """

    kind = "exact"

    def __init__(self, dim: int, *, batch_size: int | None = None):
        self.dim = _check_int(dim, "dim")
        if batch_size is not None:
            batch_size = _check_int(batch_size, "batch_size")
        self.params = {"batch_size": batch_size}
        self._vectors = np.empty((0, self.dim), dtype=np.float32)

    def __len__(self) -> int:
        return self._vectors.shape[0]

    @property
    def vectors(self) -> np.ndarray:
        """The stored item vectors, shape (n, dim), float32 (read-only view)."""
        v = self._vectors.view()
        v.flags.writeable = False
        return v

    def add(self, vectors) -> None:
        """Append vectors (shape (m, dim)); they get ids ``len(self) .. len(self) + m - 1``."""
        x = _as_vectors(vectors, "vectors", self.dim)
        self._vectors = np.ascontiguousarray(np.vstack([self._vectors, x])) if len(self) else x.copy()

    def search(self, queries, k: int, **params) -> tuple[np.ndarray, np.ndarray]:
        """Scores (float32) and ids (int64), both (n_queries, k), best first."""
        if params:
            raise TypeError(f"the exact index takes no search parameters, got {sorted(params)}")
        Q, k = self._check_search(queries, k)
        n = len(self)
        batch = self.params["batch_size"] or max(1, min(len(Q), 2**25 // n))
        scores = np.empty((len(Q), k), dtype=np.float32)
        ids = np.empty((len(Q), k), dtype=np.int64)
        for start in range(0, len(Q), batch):
            S = Q[start:start + batch] @ self._vectors.T
            scores[start:start + batch], ids[start:start + batch] = _topk_rows(S, k)
        return scores, ids

    def memory_bytes(self) -> int:
        """Bytes of the stored vectors (4 n d)."""
        return int(self._vectors.nbytes)


def augment_items(vectors: np.ndarray, max_norm: float) -> np.ndarray:
    r"""Bachrach et al.'s item map :math:`[v, \sqrt{\Phi^2 - \|v\|^2}]`, shape (n, d + 1), float32.

    Raises ``ValueError`` if a vector is longer than ``max_norm`` (:math:`\Phi`).
    """
    v = np.asarray(vectors, dtype=np.float32)
    sq = np.einsum("ij,ij->i", v.astype(np.float64), v.astype(np.float64))
    over = np.flatnonzero(sq > float(max_norm) ** 2 * (1 + 1e-6))
    if over.size:
        raise ValueError(f"{over.size} vectors are longer than the index's max_norm={max_norm:.6g} (first: row "
                         f"{over[0]}, norm {math.sqrt(sq[over[0]]):.6g}): an augmented HNSW index fixes the "
                         "largest norm when it is built; rebuild it with all the vectors, or build it with a "
                         "larger max_norm")
    extra = np.sqrt(np.maximum(float(max_norm) ** 2 - sq, 0.0))
    return np.ascontiguousarray(np.hstack([v, extra[:, None].astype(np.float32)]))


def augment_queries(queries: np.ndarray) -> np.ndarray:
    r"""The query map :math:`[q, 0]`, shape (n_q, d + 1), float32."""
    q = np.asarray(queries, dtype=np.float32)
    return np.ascontiguousarray(np.hstack([q, np.zeros((len(q), 1), dtype=np.float32)]))


class FaissIndex(ANNIndex):
    """A faiss index (``flat``, ``hnsw`` or ``ivf``) with inner-product semantics; see the module docstring.

    Build it with :func:`build_index`. ``search(queries, k, ef_search=..., nprobe=...)`` overrides the
    search parameter of this call only (faiss ``SearchParametersHNSW`` / ``SearchParametersIVF``).
    ``index.faiss_index`` is the underlying faiss object.
    """

    def __init__(self, kind: str, dim: int, params: dict, *, random_state=0, threads: int = 1):
        faiss = _faiss()
        self.kind, self.dim, self.params = kind, _check_int(dim, "dim"), dict(params)
        self.threads = _check_int(threads, "threads")
        self.random_state = _seed(random_state)
        faiss.omp_set_num_threads(self.threads)
        if kind == "flat":
            self.faiss_index = faiss.IndexFlatIP(self.dim)
        elif kind == "hnsw":
            if self.params["mips"] == "native":
                self.faiss_index = faiss.IndexHNSWFlat(self.dim, self.params["M"], faiss.METRIC_INNER_PRODUCT)
            else:
                self.faiss_index = faiss.IndexHNSWFlat(self.dim + 1, self.params["M"], faiss.METRIC_L2)
            self.faiss_index.hnsw.efConstruction = self.params["ef_construction"]
            self.faiss_index.hnsw.efSearch = self.params["ef_search"]
            self.faiss_index.hnsw.rng = faiss.RandomGenerator(self.random_state)  # the level of each vector
        elif kind == "ivf":
            self._quantizer = faiss.IndexFlatIP(self.dim)  # kept alive: faiss does not own it
            self.faiss_index = faiss.IndexIVFFlat(self._quantizer, self.dim, self.params["nlist"],
                                                  faiss.METRIC_INNER_PRODUCT)
            self.faiss_index.cp.seed = self.random_state  # k-means initialisation and subsampling
            self.faiss_index.nprobe = self.params["nprobe"]
        else:  # pragma: no cover - build_index checks
            raise ValueError(kind)

    def __len__(self) -> int:
        return int(self.faiss_index.ntotal)

    def train(self, vectors: np.ndarray) -> None:
        """IVF only: the k-means of ``vectors`` (float32, checked) into ``nlist`` cells."""
        nlist = self.params["nlist"]
        if len(vectors) < nlist:
            raise ValueError(f"an IVF index with nlist={nlist} needs at least {nlist} training vectors "
                             f"(one per cell), got {len(vectors)}: lower nlist (about 4 sqrt(n) is usual)")
        cp = self.faiss_index.cp
        if len(vectors) < cp.min_points_per_centroid * nlist:
            warnings.warn(f"IVF k-means of {len(vectors)} vectors into nlist={nlist} cells: faiss recommends at "
                          f"least {cp.min_points_per_centroid} vectors per cell; a smaller nlist gives better cells",
                          UserWarning, stacklevel=3)
            cp.min_points_per_centroid = 1  # we warned: silence faiss's own message on stderr
        _faiss().omp_set_num_threads(self.threads)
        self.faiss_index.train(vectors)

    def add(self, vectors) -> None:
        """Append vectors (shape (m, dim)); they get ids ``len(self) .. len(self) + m - 1``."""
        x = _as_vectors(vectors, "vectors", self.dim)
        if len(x) == 0:
            return
        if self.kind == "hnsw" and self.params["mips"] == "augment":
            if self.params["max_norm"] is None:  # fixed by the first vectors added
                self.params["max_norm"] = float(np.sqrt(np.einsum("ij,ij->i", x.astype(np.float64),
                                                                  x.astype(np.float64)).max()))
            x = augment_items(x, self.params["max_norm"])
        _faiss().omp_set_num_threads(self.threads)
        self.faiss_index.add(x)

    def search(self, queries, k: int, *, ef_search: int | None = None,
               nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores (float32, inner products) and ids (int64), both (n_queries, k), best first.

        HNSW searches with ``max(ef_search, k)`` candidates: faiss 1.15 uses ``efSearch`` as given
        and, below ``k``, returns worse results (and ids ``-1`` for ``ef_search=1``).
        """
        faiss = _faiss()
        Q, k = self._check_search(queries, k)
        extra = {"ef_search": ef_search} if ef_search is not None else {}
        if nprobe is not None:
            extra["nprobe"] = nprobe
        allowed = {"hnsw": {"ef_search"}, "ivf": {"nprobe"}}.get(self.kind, set())
        if set(extra) - allowed:
            raise TypeError(f"a {self.kind!r} index takes search parameters {sorted(allowed) or 'none'}, "
                            f"got {sorted(extra)}")
        params = None
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(_check_int(extra.get("ef_search", self.params["ef_search"]), "ef_search"), k)
        elif self.kind == "ivf":
            params = faiss.SearchParametersIVF()
            params.nprobe = _check_int(extra.get("nprobe", self.params["nprobe"]), "nprobe", 1, self.params["nlist"])
        faiss.omp_set_num_threads(self.threads)
        augmented = self.kind == "hnsw" and self.params["mips"] == "augment"
        D, I = self.faiss_index.search(augment_queries(Q) if augmented else Q, k, params=params)
        I = I.astype(np.int64, copy=False)
        if augmented:  # L2 distances -> inner products, recomputed from the stored vectors
            found = I >= 0
            V = self.faiss_index.reconstruct_batch(np.where(found, I, 0).ravel())[:, :self.dim]
            D = np.einsum("qkd,qd->qk", V.reshape(len(Q), k, self.dim), Q)
            D[~found] = _MISSING_SCORE
            order = np.lexsort((np.where(found, I, np.iinfo(np.int64).max), -D), axis=1)
            D, I = np.take_along_axis(D, order, axis=1), np.take_along_axis(I, order, axis=1)
        else:
            D = np.where(I >= 0, D, _MISSING_SCORE).astype(np.float32)
        return D.astype(np.float32, copy=False), I

    def memory_bytes(self) -> int:
        """Bytes of the index as faiss serialises it (vectors, graph links or lists, centroids)."""
        return int(_faiss().serialize_index(self.faiss_index).nbytes)


def build_index(vectors, kind: str = "exact", *, random_state=0, threads: int = 1, **params) -> ANNIndex:
    r"""An index of ``vectors`` (shape (n, dim)) for maximum inner-product search.

    ``kind`` is ``"exact"`` (NumPy), ``"flat"`` (faiss exact), ``"hnsw"`` or ``"ivf"``; ``params``
    are the kind's parameters (defaults in :data:`KINDS`):

    * exact: ``batch_size`` (queries scored at once; default: automatic);
    * hnsw: ``M`` (links per vector, 4-64), ``ef_construction`` (>= 1), ``ef_search`` (>= 1),
      ``mips`` (``"native"`` inner-product graph or ``"augment"``: Bachrach et al.'s L2 reduction),
      ``max_norm`` (augment only: :math:`\Phi`, default the largest norm of ``vectors``);
    * ivf: ``nlist`` (cells; needs at least ``nlist`` vectors to train on; default
      :math:`\lfloor 4\sqrt n \rfloor`, at most :math:`n/39`, faiss's recommended 39 vectors per
      cell), ``nprobe`` (cells searched, 1..nlist; default :math:`\lceil 2\sqrt{nlist}\rceil`: the
      benchmark's 1M catalogue had recall@100 0.958 with nlist 4096 and nprobe 128 = 2 sqrt(4096)).

    ``random_state`` (int or Generator) seeds HNSW's level generator and IVF's k-means; ``threads``
    is faiss's OpenMP thread count (1: deterministic). An index of zero vectors is allowed for
    exact, flat and hnsw (fill it with ``add``); IVF needs vectors to train on.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    unknown = set(params) - set(KINDS[kind])
    if unknown:
        raise TypeError(f"unknown parameters for kind={kind!r}: {sorted(unknown)}; it takes {sorted(KINDS[kind])}")
    p = {**KINDS[kind], **params}
    x = _as_vectors(vectors, "vectors")
    if x.shape[1] == 0:
        raise ValueError("vectors must have at least one column (the embedding dimension)")
    if kind == "exact":
        index: ANNIndex = ExactIndex(x.shape[1], batch_size=p["batch_size"])
        index.add(x)
        return index
    if kind == "hnsw":
        p["M"] = _check_int(p["M"], "M", 2)
        p["ef_construction"] = _check_int(p["ef_construction"], "ef_construction")
        p["ef_search"] = _check_int(p["ef_search"], "ef_search")
        if p["mips"] not in ("native", "augment"):
            raise ValueError(f"mips must be 'native' or 'augment', got {p['mips']!r}")
        if p["max_norm"] is not None:
            if p["mips"] != "augment":
                raise ValueError("max_norm is a parameter of mips='augment' only")
            if not (isinstance(p["max_norm"], numbers.Real) and p["max_norm"] > 0 and math.isfinite(p["max_norm"])):
                raise ValueError(f"max_norm must be a positive number, got {p['max_norm']!r}")
            p["max_norm"] = float(p["max_norm"])
    if kind == "ivf":
        if len(x) == 0:
            raise ValueError("an IVF index learns its cells from the vectors: build it from at least nlist "
                             "vectors, not from an empty array")
        if p["nlist"] is None:
            p["nlist"] = max(1, min(int(4 * math.sqrt(len(x))), len(x) // 39))
        p["nlist"] = _check_int(p["nlist"], "nlist")
        if p["nprobe"] is None:
            p["nprobe"] = min(p["nlist"], math.ceil(2 * math.sqrt(p["nlist"])))
        p["nprobe"] = _check_int(p["nprobe"], "nprobe", 1, p["nlist"])
    index = FaissIndex(kind, x.shape[1], p, random_state=random_state, threads=threads)
    if kind == "ivf":
        index.train(x)
    index.add(x)
    return index


# ----------------------------------------------------------------------------------------- measuring

def recall_at_k(approx_ids, exact_ids, k: int | None = None) -> float:
    r"""The share of the exact top-:math:`k` that the approximate top-:math:`k` found, averaged over queries.

    ``approx_ids`` and ``exact_ids`` have shape (n_queries, >= k) (the first ``k`` columns are used;
    ``k`` defaults to ``exact_ids.shape[1]``). Ids ``-1`` (faiss's "not found") count as misses.
    """
    a, e = np.asarray(approx_ids), np.asarray(exact_ids)
    if a.ndim == 1:
        a, e = a.reshape(1, -1), e.reshape(1, -1)
    if a.ndim != 2 or e.ndim != 2 or a.shape[0] != e.shape[0]:
        raise ValueError(f"approx_ids and exact_ids must be (n_queries, k) with the same number of rows, got "
                         f"shapes {a.shape} and {e.shape}")
    k = e.shape[1] if k is None else _check_int(k, "k")
    if a.shape[1] < k or e.shape[1] < k:
        raise ValueError(f"recall@{k} needs at least {k} columns in both id arrays, got {a.shape} and {e.shape}")
    a, e = a[:, :k], e[:, :k]
    if (e < 0).any():
        raise ValueError("exact_ids contains -1 (missing results): compute the exact top-k with k <= the "
                         "number of items")
    hits = 0
    for start in range(0, len(a), 1024):  # (rows, k, k) comparisons in blocks
        block = a[start:start + 1024, :, None] == e[start:start + 1024, None, :]
        hits += int(block.any(axis=2).sum())
    return hits / (a.shape[0] * k)


@dataclass(frozen=True)
class Latency:
    """Query latency of :func:`measure_latency`, in milliseconds per query.

    Statistics over the timed calls (one query each, or one batch each divided by its size), each
    call's best over ``repeats`` passes: wall-clock ``mean_ms``, ``median_ms``, ``p95_ms``, and the
    process's CPU time (all threads) ``cpu_mean_ms``, ``cpu_median_ms``, which a busy machine
    disturbs much less than wall-clock time.
    """

    mode: str
    n_queries: int
    batch_size: int
    repeats: int
    mean_ms: float
    median_ms: float
    p95_ms: float
    cpu_mean_ms: float
    cpu_median_ms: float

    def as_dict(self) -> dict:
        return asdict(self)


def measure_latency(index: ANNIndex, queries, k: int, *, batch_size: int = 1, repeats: int = 3,
                    warmup: int = 1, **search_params) -> Latency:
    """Time ``index.search`` on ``queries``: one query per call (``batch_size=1``) or batches.

    Every call is timed with ``time.perf_counter`` (wall) and ``time.process_time`` (CPU); the
    ``repeats`` passes over the queries follow ``warmup`` untimed calls. Measure with one thread on
    an otherwise idle machine, and never in a test: timings are benchmark results, not assertions.
    """
    Q = _as_vectors(queries, "queries", index.dim, allow_1d=True)
    batch_size = _check_int(batch_size, "batch_size")
    repeats = _check_int(repeats, "repeats")
    warmup = _check_int(warmup, "warmup", 0)
    starts = list(range(0, len(Q), batch_size))
    for s in starts[:warmup]:
        index.search(Q[s:s + batch_size], k, **search_params)
    walls = np.empty((repeats, len(starts)))
    cpus = np.empty((repeats, len(starts)))
    for r in range(repeats):
        for j, s in enumerate(starts):
            t, c = time.perf_counter(), time.process_time()
            index.search(Q[s:s + batch_size], k, **search_params)
            walls[r, j], cpus[r, j] = time.perf_counter() - t, time.process_time() - c
    sizes = np.array([min(batch_size, len(Q) - s) for s in starts])
    wall = walls.min(axis=0) / sizes * 1e3
    cpu = cpus.min(axis=0) / sizes * 1e3
    return Latency(mode="single" if batch_size == 1 else "batch", n_queries=len(Q), batch_size=batch_size,
                   repeats=repeats, mean_ms=float(wall.mean()), median_ms=float(np.median(wall)),
                   p95_ms=float(np.percentile(wall, 95)), cpu_mean_ms=float(cpu.mean()),
                   cpu_median_ms=float(np.median(cpu)))


# ----------------------------------------------------------------------------------- synthetic data

def synthetic_catalogue(n_items: int, n_queries: int = 1000, dim: int = 64, *, n_clusters: int | None = None,
                        item_noise: float = 0.7, query_noise: float = 1.0, norm_sigma: float = 0.25,
                        spectrum_decay: float = 1.0, cluster_skew: float = 0.8,
                        random_state=0) -> tuple[np.ndarray, np.ndarray]:
    r"""Item and query vectors with the structure of trained two-tower embeddings (float32).

    ``n_clusters`` (default :math:`\lceil\sqrt{n}\rceil`) topic directions :math:`c_j` on the unit
    sphere, with Zipf-like popularity :math:`p_j \propto j^{-s}` (``cluster_skew`` :math:`s`). An item
    of topic :math:`j` is

    .. math::

        v = r\, \frac{c_j + \sigma_v\, R\, (\lambda^{1/2} \odot \varepsilon)}
                     {\|c_j + \sigma_v\, R\, (\lambda^{1/2} \odot \varepsilon)\|},
        \qquad \varepsilon \sim \mathcal N(0, I_d),\; \log r \sim \mathcal N(0, \sigma_r^2),

    with :math:`\lambda_i \propto i^{-\text{spectrum\_decay}}` (summing to 1: a noise of length
    about :math:`\sigma_v`, concentrated in a few directions, as in learnt embeddings), :math:`R` a
    random rotation, and the norm :math:`r` log-normal (``norm_sigma``: varying norms make inner
    product differ from cosine). Queries are unit vectors :math:`c_j + \sigma_q R(\lambda^{1/2}
    \odot \varepsilon)`, normalised, with topics drawn with the same popularity. Shapes:
    (n_items, dim) and (n_queries, dim). Generated in blocks of 100,000 rows (memory ~ the output).
    """
    n_items, dim = _check_int(n_items, "n_items"), _check_int(dim, "dim")
    n_queries = _check_int(n_queries, "n_queries", 0)
    rng = np.random.default_rng(random_state)
    n_clusters = _check_int(n_clusters if n_clusters is not None else math.ceil(math.sqrt(n_items)), "n_clusters")
    centres = rng.standard_normal((n_clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    popularity = np.arange(1, n_clusters + 1, dtype=float) ** -cluster_skew
    popularity /= popularity.sum()
    spectrum = np.arange(1, dim + 1, dtype=float) ** -spectrum_decay
    scale = np.sqrt(spectrum / spectrum.sum())
    rotation = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    centres, scale, rotation = (a.astype(np.float32) for a in (centres, scale, rotation))

    def draw(n: int, noise: float) -> np.ndarray:
        topic = rng.choice(n_clusters, size=n, p=popularity)
        x = centres[topic] + np.float32(noise) * ((rng.standard_normal((n, dim), dtype=np.float32) * scale) @ rotation)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    items = np.empty((n_items, dim), dtype=np.float32)
    for start in range(0, n_items, 100_000):
        m = min(100_000, n_items - start)
        items[start:start + m] = draw(m, item_noise) * rng.lognormal(0.0, norm_sigma, m).astype(np.float32)[:, None]
    queries = draw(n_queries, query_noise).astype(np.float32) if n_queries else np.empty((0, dim), np.float32)
    return items, queries
