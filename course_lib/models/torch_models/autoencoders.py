r"""Autoencoders for collaborative filtering (lesson 11): AutoRec for ratings, Mult-DAE and Mult-VAE for top-N.

An autoencoder reads a whole row (or column) of the interaction matrix, squeezes it through a narrow
hidden layer and reconstructs it; the reconstruction of the entries that were *not* in the input is
the prediction.

``AutoRec`` (Sedhain et al. 2015), item-based (I-AutoRec): the input is one item's column of ratings
:math:`r^{(i)} \in \mathbb{R}^{|U|}` (0 where a user did not rate it),

.. math::  h(r^{(i)}) = W\,\sigma(V r^{(i)} + \mu) + b, \qquad
           \min_\theta \sum_i \big\lVert (r^{(i)} - h(r^{(i)})) \odot m^{(i)} \big\rVert^2
           + \tfrac{\lambda}{2}\big(\lVert W\rVert_F^2 + \lVert V\rVert_F^2\big)

with :math:`V \in \mathbb{R}^{k \times |U|}`, :math:`W \in \mathbb{R}^{|U| \times k}`, :math:`\sigma` the
sigmoid and :math:`m^{(i)} \in \{0,1\}^{|U|}` the mask of observed ratings: unobserved entries add
nothing to the loss. The predicted rating is :math:`\hat r_{ui} = h(r^{(i)})_u`.

``MultVAE`` (Liang et al. 2018): the input is one user's binary row :math:`x_u \in \{0,1\}^{|I|}`;
an encoder gives a Gaussian :math:`q(z_u \mid x_u) = \mathcal N(\mu_u, \operatorname{diag}\sigma_u^2)`,
:math:`z_u \in \mathbb{R}^d`, and the decoder a multinomial over items,
:math:`\pi(z_u) = \operatorname{softmax}(f_\theta(z_u))`. Training maximises the annealed evidence
lower bound (ELBO), i.e. minimises per user

.. math::  \mathcal L_\beta(x_u) = -\sum_i x_{ui} \log \pi_i(z_u)
           + \beta\,\mathrm{KL}\big(q(z_u \mid x_u)\,\Vert\,\mathcal N(0, I)\big), \qquad
           \mathrm{KL} = \tfrac12 \sum_{j=1}^{d} \big(\mu_{uj}^2 + \sigma_{uj}^2 - \log \sigma_{uj}^2 - 1\big)

with :math:`z_u = \mu_u + \sigma_u \odot \epsilon`, :math:`\epsilon \sim \mathcal N(0, I)` (the
reparameterisation trick), and :math:`\beta` annealed from 0 by :math:`\beta_t = \min(\beta_{max},
t / T)` after update :math:`t`. ``MultDAE`` is the same network without the Gaussian: a denoising
autoencoder (dropout on the input) trained on the multinomial log-likelihood alone.

:func:`multinomial_nll` and :func:`gaussian_kl` are the two halves of the loss, used by the models and
checked against NumPy in ``tests/test_autoencoders.py``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F

from ...interactions import HeldOut, Interactions
from ...validation import check_finite_number, check_positive_int, check_rate
from ..base import Recommender
from ..training import start_fit
from .training import score_all_batched, train_model

__all__ = ["AutoRec", "AutoRecNet", "MultDAE", "MultVAE", "MultVAENet", "gaussian_kl", "kl_weight",
           "masked_mse", "multinomial_nll"]


# -- the losses ---------------------------------------------------------------------------------------
def masked_mse(r_hat: torch.Tensor, r: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""AutoRec's reconstruction error on observed entries only: :math:`\sum (r - \hat r)^2 m / \sum m`.

    ``r_hat``, ``r``, ``mask`` share one shape (``(batch, n_users)`` for I-AutoRec); ``mask`` is 1 where a
    rating was observed and 0 elsewhere, so an unobserved entry changes neither the loss nor its gradient,
    whatever ``r_hat`` says there. Returns the mean squared error per observed rating (a scalar; 0 if the
    batch has none).
    """
    return ((r - r_hat) ** 2 * mask).sum() / mask.sum().clamp(min=1.0)


def multinomial_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The multinomial negative log-likelihood of Mult-VAE, averaged over the users of the batch.

    .. math::  -\frac{1}{B} \sum_u \sum_i x_{ui} \log \pi_{ui}, \qquad
               \log \pi_{u\cdot} = \mathrm{log\,softmax}(\text{logits}_u)

    ``logits`` and ``x`` have shape ``(B, n_items)``; ``x`` is the user's (binary) row. Liang et al.
    2018, eq. (2); the per-user sum (not mean) over items is what the reference code uses.
    """
    return -(F.log_softmax(logits, dim=1) * x).sum(dim=1).mean()


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathrm{KL}(\mathcal N(\mu, \operatorname{diag} e^{\text{logvar}}) \Vert \mathcal N(0, I))`,
    summed over the ``d`` latent dimensions and averaged over the ``B`` users; ``mu``, ``logvar`` ``(B, d)``.

    .. math::  \tfrac12 \sum_j \big(\mu_j^2 + e^{\text{logvar}_j} - \text{logvar}_j - 1\big)
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1).mean()


def kl_weight(step: int, beta: float, anneal_steps: int) -> float:
    r"""The annealed KL weight after ``step`` updates: :math:`\beta_t = \min(\beta_{max}, t / T)`.

    ``anneal_steps`` :math:`T` is the number of updates over which the weight would grow from 0 to 1;
    it stops at ``beta`` (Liang et al. 2018, section 2.2.2: "anneal_cap" and "total_anneal_steps" in
    their code). ``anneal_steps=0`` means no annealing: :math:`\beta` from the first update.
    """
    if anneal_steps <= 0:
        return float(beta)
    return float(min(beta, step / anneal_steps))


# -- the networks -------------------------------------------------------------------------------------
class AutoRecNet(nn.Module):
    r"""I-AutoRec's network: :math:`h(r) = W\,\sigma(V r + \mu) + b`; ``forward`` maps ``(B, n_in)`` to ``(B, n_in)``.

    ``encoder`` holds :math:`V` (``(k, n_in)``) and :math:`\mu`; ``decoder`` holds :math:`W` (``(n_in, k)``)
    and :math:`b`. ``inputs`` (a plain attribute, not a parameter) is the training matrix transposed,
    ``(n_items, n_users)`` CSR, read by :meth:`reconstruct`.
    """

    def __init__(self, n_in: int, n_factors: int = 500, inputs: sp.csr_matrix | None = None):
        super().__init__()
        self.encoder = nn.Linear(n_in, n_factors)
        self.decoder = nn.Linear(n_factors, n_in)
        self.inputs = inputs

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.sigmoid(self.encoder(r)))

    def penalty(self) -> torch.Tensor:
        r""":math:`\tfrac12(\lVert W\rVert_F^2 + \lVert V\rVert_F^2)` (biases are not penalised)."""
        return 0.5 * (self.encoder.weight.pow(2).sum() + self.decoder.weight.pow(2).sum())

    @torch.no_grad()
    def reconstruct(self, items: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """:math:`h(r^{(i)})` for the inner ``items`` from ``inputs``: float64 ``(len(items), n_users)``."""
        self.eval()
        out = np.empty((len(items), self.decoder.out_features))
        for s in range(0, len(items), batch_size):
            rows = torch.as_tensor(self.inputs[items[s:s + batch_size]].toarray(), dtype=torch.float32)
            out[s:s + batch_size] = self(rows).double().numpy()
        return out


class MultVAENet(nn.Module):
    r"""Mult-VAE's (or, with ``variational=False``, Mult-DAE's) encoder and decoder.

    Encoder: :math:`\tilde x = \mathrm{dropout}(x / \lVert x\rVert_2)`, then ``Linear`` + tanh layers of
    widths ``layers`` and a linear layer to :math:`[\mu; \log\sigma^2]` (``2d`` numbers; Mult-DAE: ``d``,
    with tanh). Decoder: the mirror image, ``Linear`` + tanh layers back to a linear layer of ``n_items``
    logits. ``forward(x)`` returns ``(logits, mu, logvar)``, shapes ``(B, n_items)``, ``(B, d)``, ``(B, d)``
    (``mu``/``logvar`` are ``None`` for Mult-DAE); in training mode :math:`z = \mu + \sigma \odot \epsilon`,
    in eval mode :math:`z = \mu`. ``inputs`` (a plain attribute) is the users' binary training matrix (CSR),
    read by :meth:`score_all`. Initialisation as the reference code: Xavier-normal weights, biases
    :math:`\mathcal N(0, 0.001^2)`.
    """

    def __init__(self, n_items: int, n_factors: int = 200, layers: tuple[int, ...] = (600,), dropout: float = 0.5,
                 variational: bool = True, inputs: sp.csr_matrix | None = None):
        super().__init__()
        self.variational, self.n_factors, self.inputs = variational, n_factors, inputs
        widths = [n_items, *layers]
        enc = [nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])]
        self.encoder = nn.ModuleList(enc + [nn.Linear(widths[-1], 2 * n_factors if variational else n_factors)])
        back = [n_factors, *layers[::-1], n_items]
        self.decoder = nn.ModuleList([nn.Linear(a, b) for a, b in zip(back[:-1], back[1:])])
        self.dropout = nn.Dropout(dropout)
        for layer in [*self.encoder, *self.decoder]:
            nn.init.xavier_normal_(layer.weight)
            nn.init.normal_(layer.bias, 0.0, 0.001)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.dropout(F.normalize(x, dim=1))
        for k, layer in enumerate(self.encoder):
            h = layer(h)
            if k < len(self.encoder) - 1 or not self.variational:
                h = torch.tanh(h)
        if not self.variational:
            return h, None
        return h[:, :self.n_factors], h[:, self.n_factors:]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        for k, layer in enumerate(self.decoder):
            z = layer(z)
            if k < len(self.decoder) - 1:
                z = torch.tanh(z)
        return z

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        z = mu
        if self.variational and self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar

    def penalty(self) -> torch.Tensor:
        r""":math:`\sum_\ell \lVert W_\ell\rVert_F^2` over the weight matrices (not the biases)."""
        return sum(layer.weight.pow(2).sum() for layer in [*self.encoder, *self.decoder])

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """The logits of every item for inner ``users``, from their training rows: ``(len(users), n_items)``."""
        x = torch.as_tensor(self.inputs[users.numpy()].toarray(), dtype=torch.float32)
        return self(x)[0]


# -- shared checks ------------------------------------------------------------------------------------
def _check_layers(layers) -> tuple[int, ...]:
    if isinstance(layers, numbers.Integral) or any(
            isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1 for w in layers):
        raise ValueError(f"layers must be a sequence of positive integers such as (600,), got {layers!r}")
    return tuple(int(w) for w in layers)


def _check_dropout(dropout) -> float:
    return check_rate(dropout, "dropout")


def _no_validation(what: str):
    raise ValueError(f"early stopping needs validation {what}: the validation share holds none "
                     "(raise validation_fraction, pass fit(..., validation=...), or set early_stopping=False)")


def _dense(m: sp.csr_matrix, rows: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(m[rows].toarray(), dtype=torch.float32)


# -- AutoRec ------------------------------------------------------------------------------------------
class AutoRec(Recommender):
    r"""I-AutoRec (Sedhain et al. 2015): an item-based autoencoder that predicts ratings.

    .. math::  \hat r_{ui} = \big(W\,\sigma(V r^{(i)} + \mu) + b\big)_u, \qquad
               \min_\theta\ \frac{1}{N}\Big[\sum_{(u,i)\ \text{observed}} (r_{ui} - \hat r_{ui})^2
               + \frac{\lambda}{2}\big(\lVert W\rVert_F^2 + \lVert V\rVert_F^2\big)\Big]

    :math:`r^{(i)} \in \mathbb{R}^{|U|}` is item :math:`i`'s column of training ratings (0 where
    unobserved), :math:`V` is ``(n_factors, n_users)``, :math:`W` is ``(n_users, n_factors)`` and :math:`N` the
    number of training ratings. The loss counts observed ratings only (:func:`masked_mse`); dividing the
    paper's objective by :math:`N` leaves its minimiser unchanged and keeps :math:`\lambda` on the paper's
    scale. Mini-batches hold ``batch_size`` items, trained with Adam.

    Parameters
    ----------
    n_factors : :math:`k`, the width of the hidden layer, the item's code (500 in the paper).
    reg : :math:`\lambda` (the paper tunes it in {0.001, 0.01, 0.1, 1, 100, 1000}; 100 was the best of
        {1, 10, 100} on a validation share of MovieLens 100K, ``benchmarks/bench_autoencoders.py``).
    n_epochs : the most epochs.  batch_size : items per step.  lr : Adam's step size.
    early_stopping, validation_fraction, n_iter_no_change : stop when the validation MSE has not
        improved for ``n_iter_no_change`` epochs and keep the best epoch; the validation ratings (a
        share ``validation_fraction`` of the training ratings, or ``fit(train, validation=val)``) are
        removed from the input while training.
    progress : show a tqdm bar.  random_state : seed of the weights, the shuffling and the validation split.

    Attributes
    ----------
    net_ : the :class:`AutoRecNet`.  history_ : ``train_loss`` / ``val_loss`` (MSE per rating) per epoch.
    n_epochs_, best_epoch_.

    Predictions read the whole training matrix (validation ratings included) as input. A user or item
    without training ratings has no row or column: its estimate is the global mean (``was_impossible``).

    References
    ----------
    S. Sedhain, A. K. Menon, S. Sanner and L. Xie, "AutoRec: Autoencoders Meet Collaborative Filtering",
    WWW 2015 (I-AutoRec RMSE 0.831 on MovieLens 1M, 90/10 split, k = 500).
    """

    def __init__(self, n_factors: int = 500, reg: float = 100.0, n_epochs: int = 100, batch_size: int = 64,
                 lr: float = 1e-3, early_stopping: bool = True, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 5, progress: bool = False, random_state: int | None = 0):
        self.n_factors = n_factors
        self.reg = reg
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def build_network(self) -> AutoRecNet:
        """The (untrained) network for ``data_``, reading its ratings (also used by ``load_model``)."""
        return AutoRecNet(self.data_.n_users, check_positive_int(self.n_factors, "n_factors"),
                          inputs=self.data_.matrix.T.tocsr())

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        reg = check_finite_number(self.reg, "reg", minimum=0)
        batch_size = check_positive_int(self.batch_size, "batch_size")
        lr = check_finite_number(self.lr, "lr", minimum=0, strict=True)
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        check_positive_int(self.n_factors, "n_factors")
        patience, rng, idx, val = start_fit(self, data, validation)
        # the training input: item columns (n_items, n_users) of the ratings kept for training
        r_t = sp.csr_matrix((data.r[idx], (data.i[idx], data.u[idx])), shape=(data.n_items, data.n_users))
        m_t = r_t.copy()
        m_t.data = np.ones_like(m_t.data)
        n_ratings = max(len(idx), 1)

        def epoch_batches():
            order = rng.permutation(data.n_items)
            for s in range(0, len(order), batch_size):
                rows = order[s:s + batch_size]
                yield {"r": _dense(r_t, rows), "m": _dense(m_t, rows)}

        def loss(net, batch):
            mse = masked_mse(net(batch["r"]), batch["r"], batch["m"])
            return mse, reg * net.penalty() / n_ratings, int(batch["m"].sum())

        val_loss = None
        if val is not None and len(val[0]):
            vu, vi, vr = (torch.as_tensor(np.asarray(a)) for a in val)
            items, col = np.unique(val[1], return_inverse=True)

            def val_loss(net):
                r_hat = net(_dense(r_t, items))[torch.as_tensor(col), vu]
                return F.mse_loss(r_hat, vr.float())
        elif patience is not None:
            _no_validation("ratings")
        train_model(self, rng, epoch_batches=epoch_batches, loss=loss, val_loss=val_loss, n_epochs=n_epochs, lr=lr,
                    patience=patience, progress=self.progress, desc="AutoRec")

    def _estimate(self, u, i):
        u, i = np.asarray(u, dtype=np.int64), np.asarray(i, dtype=np.int64)
        impossible = (u < 0) | (i < 0)
        est = np.zeros(len(u))
        ok = ~impossible
        if ok.any():
            items, col = np.unique(i[ok], return_inverse=True)
            est[ok] = self.net_.reconstruct(items)[col, u[ok]]
        return est, impossible

    def _scores(self, users):
        return self.net_.reconstruct(np.arange(self.data_.n_items))[:, np.asarray(users, dtype=np.int64)].T


# -- Mult-VAE and Mult-DAE ----------------------------------------------------------------------------
class _MultAutoencoder(Recommender):
    """Shared fitting and scoring of Mult-VAE and Mult-DAE (not used directly)."""

    _predicts_ratings = False
    _variational = True

    def build_network(self) -> MultVAENet:
        """The (untrained) network for ``data_``, reading its binary matrix (also used by ``load_model``)."""
        x = self.data_.matrix.copy()
        x.data = np.ones_like(x.data)
        return MultVAENet(self.data_.n_items, check_positive_int(self.n_factors, "n_factors"),
                          _check_layers(self.layers), _check_dropout(self.dropout), self._variational, inputs=x)

    def _check(self) -> dict:
        return {"n_epochs": check_positive_int(self.n_epochs, "n_epochs"),
                "batch_size": check_positive_int(self.batch_size, "batch_size"),
                "lr": check_finite_number(self.lr, "lr", minimum=0, strict=True),
                "reg": check_finite_number(self.reg, "reg", minimum=0)}

    def _kl_weight(self, step: int) -> float:  # Mult-DAE: no KL term
        return 0.0

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        p = self._check()
        patience, rng, idx, val = start_fit(self, data, validation)
        x = sp.csr_matrix((np.ones(len(idx)), (data.u[idx], data.i[idx])), shape=(data.n_users, data.n_items))
        x.sum_duplicates()
        x.data[:] = 1.0
        active = np.flatnonzero(np.diff(x.indptr) > 0)  # users with at least one training item
        step = [0]

        def epoch_batches():
            order = active[rng.permutation(len(active))]
            for s in range(0, len(order), p["batch_size"]):
                yield {"x": _dense(x, order[s:s + p["batch_size"]])}

        def loss(net, batch):
            logits, mu, logvar = net(batch["x"])
            nll = multinomial_nll(logits, batch["x"])
            beta = self._kl_weight(step[0])
            step[0] += 1
            extra = p["reg"] * net.penalty() / len(active)
            if mu is not None and logvar is not None and beta > 0:
                extra = extra + beta * gaussian_kl(mu, logvar)
            return nll, extra, len(batch["x"])

        val_loss = None
        if val is not None and len(val[0]):
            users, row = np.unique(val[0], return_inverse=True)
            xin, target = _dense(x, users), torch.zeros(len(users), data.n_items)
            target[torch.as_tensor(row), torch.as_tensor(np.asarray(val[1], dtype=np.int64))] = 1.0

            def val_loss(net):  # held-out items' log-likelihood among the items not in the input
                logits = net(xin)[0].masked_fill(xin > 0, float("-inf"))
                log_pi = F.log_softmax(logits, dim=1).masked_fill(xin > 0, 0.0)
                return -(log_pi * target).sum() / target.sum()
        elif patience is not None:
            _no_validation("interactions")
        train_model(self, rng, epoch_batches=epoch_batches, loss=loss, val_loss=val_loss, n_epochs=p["n_epochs"],
                    lr=p["lr"], patience=patience, progress=self.progress, desc=type(self).__name__)

    def _scores(self, users):
        return score_all_batched(self.net_, users, self.data_.n_items)

    def _estimate(self, u, i):
        u, i = np.asarray(u, dtype=np.int64), np.asarray(i, dtype=np.int64)
        impossible = (u < 0) | (i < 0)
        est = np.zeros(len(u))
        ok = ~impossible
        if ok.any():
            users, row = np.unique(u[ok], return_inverse=True)
            est[ok] = self._scores(users)[row, i[ok]]
        return est, impossible


class MultVAE(_MultAutoencoder):
    r"""Mult-VAE (Liang et al. 2018): a variational autoencoder with a multinomial likelihood, for top-N.

    .. math::  \mu_u, \log\sigma_u^2 = g_\phi\big(\mathrm{dropout}(x_u / \lVert x_u\rVert)\big), \quad
               z_u = \mu_u + \sigma_u \odot \epsilon, \quad \pi(z_u) = \operatorname{softmax}(f_\theta(z_u))

    .. math::  \mathcal L = \frac{1}{B}\sum_u \Big[-\sum_i x_{ui} \log \pi_i(z_u)
               + \beta_t\, \tfrac12 \sum_j \big(\mu_{uj}^2 + \sigma_{uj}^2 - \log\sigma_{uj}^2 - 1\big)\Big]
               + \frac{\text{reg}}{|U|} \sum_\ell \lVert W_\ell \rVert_F^2

    with the KL weight annealed, :math:`\beta_t = \min(\beta, t / T)` after :math:`t` updates
    (:func:`kl_weight`). Shapes: :math:`x_u \in \{0,1\}^{|I|}`, :math:`\mu_u, \sigma_u, z_u \in
    \mathbb{R}^d`. Scores are the logits :math:`f_\theta(\mu_u)` (no sampling, no dropout), computed
    from the user's training items.

    Parameters
    ----------
    n_factors : :math:`d`, the latent dimension (200 in the paper).
    layers : hidden widths of the encoder (the decoder mirrors them): ``(600,)`` is the paper's
        :math:`[|I| \to 600 \to 200 \to 600 \to |I|]`.
    dropout : dropout rate on the normalised input (0.5 in the paper).
    beta : :math:`\beta`, the cap of the KL weight (0.2 in the paper).
    anneal_steps : :math:`T`, updates over which the weight would reach 1 (0: :math:`\beta` from the start;
        the reference code's ``total_anneal_steps``, 200,000 for MovieLens 20M).
    reg : L2 penalty on the weight matrices, scaled by :math:`1/|U|` (the reference code's ``lam``,
        0.01 in TensorFlow's version: 0 here by default).
    n_epochs, batch_size (users per step), lr (Adam). The defaults ``n_epochs=40, anneal_steps=200`` were the
        best of {20, 40} x {200, 2000} by validation NDCG@10 on MovieLens 100K (``benchmarks/bench_autoencoders.py``):
        longer training overfits 943 users.
    early_stopping, validation_fraction, n_iter_no_change : early stopping on the validation loss, the
        negative log-likelihood of held-out items among the items not in the input (a share
        ``validation_fraction`` of the training interactions, or ``fit(train, validation=val)``).
    progress : a tqdm bar.  random_state : seed of the weights, the shuffling, dropout, :math:`\epsilon`
        and the validation split.

    Attributes
    ----------
    net_ : the :class:`MultVAENet`.  history_ : ``train_loss`` (the multinomial NLL per user) and
    ``val_loss`` per epoch.  n_epochs_, best_epoch_.

    References
    ----------
    D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara, "Variational Autoencoders for Collaborative
    Filtering", WWW 2018; reference code github.com/dawenl/vae_cf.
    """

    def __init__(self, n_factors: int = 200, layers: tuple[int, ...] = (600,), dropout: float = 0.5,
                 beta: float = 0.2, anneal_steps: int = 200, reg: float = 0.0, n_epochs: int = 40,
                 batch_size: int = 100, lr: float = 1e-3, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10, progress: bool = False,
                 random_state: int | None = 0):
        self.n_factors = n_factors
        self.layers = layers
        self.dropout = dropout
        self.beta = beta
        self.anneal_steps = anneal_steps
        self.reg = reg
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _check(self) -> dict:
        check_finite_number(self.beta, "beta", minimum=0)
        if isinstance(self.anneal_steps, bool) or not isinstance(self.anneal_steps, numbers.Integral) \
                or self.anneal_steps < 0:
            raise ValueError(f"anneal_steps must be a non-negative int (0 = no annealing), got {self.anneal_steps!r}")
        return super()._check()

    def _kl_weight(self, step: int) -> float:
        return kl_weight(step, self.beta, int(self.anneal_steps))


class MultDAE(_MultAutoencoder):
    r"""Mult-DAE (Liang et al. 2018): Mult-VAE without the Gaussian, a denoising autoencoder.

    .. math::  \pi(x_u) = \operatorname{softmax}\Big(f_\theta\big(\tanh g_\phi(\mathrm{dropout}(x_u / \lVert x_u\rVert))\big)\Big),
               \qquad \mathcal L = -\frac1B \sum_u \sum_i x_{ui}\log \pi_i(x_u) + \frac{\text{reg}}{|U|}
               \sum_\ell \lVert W_\ell\rVert_F^2

    Same parameters as :class:`MultVAE` without ``beta`` and ``anneal_steps`` (the paper's Mult-DAE uses
    ``reg`` 0.01 in the TensorFlow code's scale, dropout 0.5, a 200-unit code). ``n_epochs=20`` was the best of
    {10, 20, 40} by validation NDCG@10 on MovieLens 100K (``benchmarks/bench_autoencoders.py``).

    References
    ----------
    D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara, "Variational Autoencoders for Collaborative
    Filtering", WWW 2018.
    """

    _variational = False

    def __init__(self, n_factors: int = 200, layers: tuple[int, ...] = (600,), dropout: float = 0.5,
                 reg: float = 0.0, n_epochs: int = 20, batch_size: int = 100, lr: float = 1e-3,
                 early_stopping: bool = False, validation_fraction: float = 0.1, n_iter_no_change: int = 10,
                 progress: bool = False, random_state: int | None = 0):
        self.n_factors = n_factors
        self.layers = layers
        self.dropout = dropout
        self.reg = reg
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state
