r"""The machinery every iterative model shares: the validation split and the epoch loop with early stopping.

Framework-free (NumPy only), so the matrix-factorisation models and the PyTorch training loop use
the same code; the Keras models use Keras's own ``EarlyStopping`` callback with the same settings.

* :func:`holdout` - a random share of the training rows held out for validation (one splitter
  for every model: ``validation_fraction``);
* :func:`split_validation` - which rows train and which ratings validate: ``fit``'s ``validation``,
  or that held-out share when early stopping is on (:func:`start_fit`: with the patience and the
  model's generator, the first lines of a neural model's ``_fit``);
* :func:`run_epochs` - call an epoch function up to ``n_epochs`` times, record ``history_``,
  validate after every epoch, stop after ``n_iter_no_change`` epochs without improvement and restore
  the best epoch's parameters (``early_stopping``), and raise :class:`DivergenceError` on a NaN loss.

Vocabulary (scikit-learn's): ``early_stopping`` (bool), ``validation_fraction``,
``n_iter_no_change``, ``n_epochs``; learned ``history_`` (indexed by ``epoch`` from 1; columns
``train_loss``, ``val_loss`` and, for rating models, ``train_rmse`` / ``val_rmse``), ``n_epochs_``,
``best_epoch_``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from ..interactions import HeldOut, Interactions
from ..validation import check_positive_int, check_random_state, check_rate

__all__ = ["DivergenceError", "check_early_stopping", "holdout", "run_epochs", "split_validation", "start_fit"]


class DivergenceError(FloatingPointError):
    """Training produced NaN or infinite values: the learning rate is too large for the data."""


def holdout(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, validation)``: a random share ``fraction`` of ``n`` rows held out, each sorted.

    ``round(fraction * n)`` rows go to validation (none for ``fraction=0``). The one validation
    splitter of the course's iterative models.
    """
    share = check_rate(fraction, "validation_fraction")
    perm = rng.permutation(n)
    n_val = int(round(share * n))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def split_validation(data: Interactions, validation: HeldOut | None, patience: int | None, fraction: float,
                     rng: np.random.Generator) -> tuple[np.ndarray, HeldOut | None]:
    """Training rows of ``data`` and the validation ratings: the one rule of every iterative model.

    ``fit``'s ``validation`` when given (all training rows are trained on); otherwise, with early
    stopping on (``patience`` not ``None``), a random share ``fraction`` of the training ratings held
    out by :func:`holdout` and left out of training; otherwise no validation.
    """
    idx = np.arange(data.n_ratings)
    if validation is None and patience is not None:
        idx, val_idx = holdout(data.n_ratings, fraction, rng)
        validation = HeldOut(data.u[val_idx].astype(np.int64), data.i[val_idx].astype(np.int64), data.r[val_idx])
    return idx, validation


def check_early_stopping(model) -> int | None:
    """Validate ``model.early_stopping`` / ``n_iter_no_change``: the patience in epochs, or ``None``."""
    if not isinstance(model.early_stopping, (bool, np.bool_)):
        raise TypeError(f"early_stopping must be True or False, got {model.early_stopping!r} "
                        "(the number of epochs to wait is n_iter_no_change)")
    if not model.early_stopping:
        return None
    return check_positive_int(model.n_iter_no_change, "n_iter_no_change")


def start_fit(model, data: Interactions, validation: HeldOut | None
              ) -> tuple[int | None, np.random.Generator, np.ndarray, tuple | None]:
    """``(patience, rng, training rows, validation triples)``: how a model that trains on a share of ``data``
    starts its ``_fit``.

    ``patience`` from :func:`check_early_stopping`, ``rng`` the model's generator (``random_state``),
    then :func:`split_validation` with the model's ``validation_fraction``: the rows to train on and
    ``(u, i, r)`` of the validation ratings whose user and item training knows (``None``: no validation).
    """
    patience = check_early_stopping(model)
    rng = check_random_state(model.random_state)
    idx, held = split_validation(data, validation, patience, model.validation_fraction, rng)
    return patience, rng, idx, None if held is None else held.known_triples()


def run_epochs(n_epochs: int, epoch: Callable[[int], Mapping[str, float]], *,
               validate: Callable[[], Mapping[str, float]] | None = None, monitor: str = "val_loss",
               patience: int | None = None, snapshot: Callable[[], object] | None = None,
               restore: Callable[[object], None] | None = None, progress: bool = False, desc: str = "training",
               tol: float = 1e-6, diverged: Callable[[int, float], str] | None = None) -> tuple[pd.DataFrame, int]:
    """Run up to ``n_epochs`` epochs; return ``(history, best_epoch)``.

    ``epoch(e)`` trains one epoch (``e`` from 0) and returns its training metrics, at least
    ``train_loss``; ``validate()`` returns validation metrics, among them ``monitor``. With
    ``patience``, training stops after ``patience`` epochs whose ``monitor`` did not improve on
    the best by more than ``tol``, and ``restore(snapshot())`` of the best epoch is applied.
    A non-finite ``train_loss`` raises :class:`DivergenceError` (``diverged(epoch, loss)`` may
    word the advice). ``best_epoch`` is the epoch with the best ``monitor`` (the last one
    without validation).
    """
    n_epochs = check_positive_int(n_epochs, "n_epochs")
    if patience is not None and validate is None:
        raise ValueError("early stopping needs validation data: set validation_fraction > 0 or pass "
                         "fit(train, validation=held_out_ratings)")
    epochs = range(n_epochs)
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc=desc, leave=False)
    rows, best, best_state, best_epoch, waited = [], np.inf, None, 0, 0
    for e in epochs:
        row = {"epoch": e + 1, **{k: float(v) for k, v in epoch(e).items()}}
        loss = row["train_loss"]
        if not np.isfinite(loss):
            advice = diverged(e + 1, loss) if diverged else "lower the learning rate or raise the regularisation"
            raise DivergenceError(f"{desc} diverged at epoch {e + 1}: the training loss is {loss}. {advice}")
        if validate is not None:
            row.update({k: float(v) for k, v in validate().items()})
            value = row[monitor]
            if value < best - tol:
                best, best_epoch, waited = value, e + 1, 0
                if patience is not None and snapshot is not None:
                    best_state = snapshot()
            else:
                waited += 1
        else:
            best_epoch = e + 1
        rows.append(row)
        if progress:
            epochs.set_postfix({k: round(v, 4) for k, v in row.items() if k != "epoch"})
        if patience is not None and waited >= patience:
            break
    if patience is not None and best_state is not None and restore is not None:
        restore(best_state)
    return pd.DataFrame(rows).set_index("epoch"), best_epoch
