r"""Co-clustering (George and Merugu 2005): users and items in clusters; **Surprise's ``CoClustering``**.

Users are put in :math:`m` clusters and items in :math:`n` clusters at the same time; a rating is
predicted from the average rating of the pair of clusters (the *co-cluster*), corrected by how far
the user and the item sit from their own clusters' averages:

.. math::
    \hat r_{ui} = \bar C_{c(u)\,d(i)} + (\mu_u - \bar C^{U}_{c(u)}) + (\mu_i - \bar C^{I}_{d(i)})

with :math:`c(u)` the user's cluster, :math:`d(i)` the item's, :math:`\bar C_{cd}` the mean rating
of co-cluster :math:`(c, d)`, :math:`\bar C^U_c` and :math:`\bar C^I_d` the mean ratings of the user
and item clusters, and :math:`\mu_u, \mu_i` the user's and item's mean ratings (an empty cluster's
average is the global mean :math:`\mu`).

Training alternates, like k-means: each epoch computes the averages, then moves every user to the
cluster that minimises the squared error of all their ratings (items' clusters fixed), then every
item likewise (users' clusters fixed, as just updated); the averages are computed once more at the
end. The clusters start at random: ``RandomState(random_state).randint`` for the users, then for the
items, as Surprise draws them, so the same seed gives Surprise's clusters.

Every step is vectorised: the squared errors of all users for one candidate cluster are one
``np.bincount`` over the ratings in user-major training order, which adds them one by one in
Surprise's order, so the errors, the ``argmin`` (ties: the lowest cluster), the clusters and the
predictions are Surprise's to the last bit.

Surprise's ``fit`` reads ratings into C ``int`` variables (half stars are truncated in the cluster
sums and errors); this class keeps the ratings as they are. On integer ratings (MovieLens 100K, 1M)
the two are identical (``tests/test_surprise_twins.py``).

References
----------
T. George and S. Merugu, "A Scalable Collaborative Filtering Framework based on Co-clustering",
ICDM 2005. Surprise's implementation follows MyMediaLite's ``CoClustering``.
"""

from __future__ import annotations

import numpy as np

from ..interactions import HeldOut, Interactions
from ..validation import check_positive_int, check_random_state
from .factorization import FactorModel

__all__ = ["CoClustering"]


class CoClustering(FactorModel):
    r"""Co-clustering of users and items; with the defaults, Surprise's ``CoClustering`` bit for bit.

    .. math::
        \hat r_{ui} = \bar C_{c(u)\,d(i)} + \mu_u - \bar C^{U}_{c(u)} + \mu_i - \bar C^{I}_{d(i)}

    (symbols and training in the module docstring). As in Surprise, an unknown user or item is
    predicted :math:`\mu`, the global mean, without being flagged.

    Parameters
    ----------
    n_cltr_u, n_cltr_i : the numbers of user and item clusters :math:`m, n` (3, 3; Surprise's names).
    n_epochs : alternations (20).
    early_stopping, validation_fraction, n_iter_no_change : as in :class:`~course_lib.models.BiasedMF`
        (validation RMSE after every epoch; the best epoch's clusters are kept).
    progress : show a tqdm progress bar over epochs.
    random_state : an int (0), ``None`` or a ``RandomState`` (the same int gives Surprise's
        ``CoClustering(random_state=...)`` clusters).

    Attributes
    ----------
    user_clusters_ ``(n_users,)`` and item_clusters_ ``(n_items,)``: :math:`c(u), d(i)`;
    user_mean_ ``(n_users,)``, item_mean_ ``(n_items,)``: :math:`\mu_u, \mu_i`;
    avg_cltr_u_ ``(m,)``, avg_cltr_i_ ``(n,)``, avg_cocltr_ ``(m, n)``: :math:`\bar C^U, \bar C^I, \bar C`;
    history_ (``train_loss`` = ``train_rmse`` squared times the number of ratings, ``val_rmse``),
    n_epochs_, best_epoch_.

    References
    ----------
    T. George and S. Merugu, "A Scalable Collaborative Filtering Framework based on Co-clustering", ICDM 2005.
    """

    _state_names = ("user_clusters_", "item_clusters_", "avg_cltr_u_", "avg_cltr_i_", "avg_cocltr_")

    def __init__(self, n_cltr_u: int = 3, n_cltr_i: int = 3, n_epochs: int = 20, *, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 5, progress: bool = False,
                 random_state=0):
        self.n_cltr_u = n_cltr_u
        self.n_cltr_i = n_cltr_i
        self.n_epochs = n_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _lr_text(self) -> str:
        return "n/a: co-clustering has no learning rate; check the data for extreme values"

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        m = check_positive_int(self.n_cltr_u, "n_cltr_u")
        n = check_positive_int(self.n_cltr_i, "n_cltr_i")
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        from .training import check_early_stopping

        patience = check_early_stopping(self)
        rng = check_random_state(self.random_state, legacy=True)
        self.user_clusters_ = rng.randint(m, size=data.n_users).astype(np.intp)
        self.item_clusters_ = rng.randint(n, size=data.n_items).astype(np.intp)
        idx, validation = self._split_for_validation(data, validation, patience, rng)
        by_user = idx[np.argsort(data.u[idx], kind="stable")]  # Surprise's ur: user-major, training order
        by_item = idx[np.argsort(data.i[idx], kind="stable")]  # Surprise's ir: item-major, training order
        u_u, i_u, r_u = data.u[by_user], data.i[by_user], data.r[by_user]
        u_i, i_i, r_i = data.u[by_item], data.i[by_item], data.r[by_item]
        n_u = np.bincount(u_u, minlength=data.n_users)
        n_i = np.bincount(i_i, minlength=data.n_items)
        mu = data.global_mean
        starts_u = np.concatenate([[0], np.cumsum(n_u)])
        starts_i = np.concatenate([[0], np.cumsum(n_i)])
        with np.errstate(invalid="ignore"):  # a user or item left without training ratings: NaN, never used
            self.user_mean_ = np.array([np.mean(r_u[starts_u[u]:starts_u[u + 1]]) if n_u[u] else mu
                                        for u in range(data.n_users)])
            self.item_mean_ = np.array([np.mean(r_i[starts_i[i]:starts_i[i + 1]]) if n_i[i] else mu
                                        for i in range(data.n_items)])
        self._averages(u_u, i_u, r_u, m, n, mu)

        def errors(users, items, r, k, size, group, candidate_is_user):
            """Squared error of every group (user or item) for every candidate cluster, summed in order."""
            out = np.empty((size, k))
            cu, ci = self.user_clusters_[users], self.item_clusters_[items]
            for c in range(k):
                if candidate_is_user:
                    est = (self.avg_cocltr_[c, ci] + self.user_mean_[users] - self.avg_cltr_u_[c]
                           + self.item_mean_[items] - self.avg_cltr_i_[ci])
                else:
                    est = (self.avg_cocltr_[cu, c] + self.user_mean_[users] - self.avg_cltr_u_[cu]
                           + self.item_mean_[items] - self.avg_cltr_i_[c])
                out[:, c] = np.bincount(group, weights=(r - est) ** 2, minlength=size)
            return out

        def epoch(_):
            self._averages(u_u, i_u, r_u, m, n, mu)
            self.user_clusters_ = np.argmin(errors(u_u, i_u, r_u, m, data.n_users, u_u, True), axis=1).astype(np.intp)
            self.item_clusters_ = np.argmin(errors(u_i, i_i, r_i, n, data.n_items, i_i, False), axis=1).astype(np.intp)
            self._averages(u_u, i_u, r_u, m, n, mu)
            err = r_u - self._raw_estimate(u_u, i_u)
            sse = float(err @ err)
            return sse, np.sqrt(sse / len(err))

        self._run_epochs(n_epochs, patience, epoch, validation, "CoClustering")

    def _averages(self, u, i, r, m: int, n: int, mu: float) -> None:
        """Cluster and co-cluster means of the training ratings (the global mean for an empty one)."""
        cu, ci = self.user_clusters_[u], self.item_clusters_[i]

        def mean(codes, size):
            counts = np.bincount(codes, minlength=size)
            sums = np.bincount(codes, weights=r, minlength=size)
            return np.where(counts > 0, sums / np.maximum(counts, 1), mu)

        self.avg_cltr_u_ = mean(cu, m)
        self.avg_cltr_i_ = mean(ci, n)
        self.avg_cocltr_ = mean(cu * n + ci, m * n).reshape(m, n)

    def _raw_estimate(self, u, i):
        cu, ci = self.user_clusters_[u], self.item_clusters_[i]
        return (self.avg_cocltr_[cu, ci] + self.user_mean_[u] - self.avg_cltr_u_[cu]
                + self.item_mean_[i] - self.avg_cltr_i_[ci])

    def _estimate(self, u, i):
        u, i = np.asarray(u), np.asarray(i)
        known = (u >= 0) & (i >= 0)
        est = np.full(len(u), self.global_mean_)
        est[known] = self._raw_estimate(u[known], i[known])
        return est, np.zeros(len(u), dtype=bool)

    def _fallback_scores(self, user_ids):
        return super(FactorModel, self)._fallback_scores(user_ids)

    def _scores(self, users):
        users = np.asarray(users)
        cu, ci = self.user_clusters_[users], self.item_clusters_
        return (self.avg_cocltr_[cu[:, None], ci[None, :]] + self.user_mean_[users][:, None]
                - self.avg_cltr_u_[cu][:, None] + self.item_mean_[None, :] - self.avg_cltr_i_[ci][None, :])
