"""SASRec and BERT4Rec (course_lib.models.torch_models.attention) against independent references.

* the attention layer of a model, and SASRec's whole forward pass, equal the NumPy layers of
  course_lib.nn_numpy with the weights copied out of the model (1e-5 in float32), and a wrong mask
  fails that comparison;
* SASRec's causal mask really prevents looking ahead (a later item never changes an earlier
  position), while BERT4Rec's bidirectional positions do see it;
* the same seed gives the same scores, save/load gives the same scores, both models learn a cycle;
* BERT4Rec's cloze masking, and clear errors for bad input.

The contract checks (clone, fit/predict, unknown ids, save in a fresh process) are in test_contract.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import course_lib.nn_numpy as nn_np
from course_lib.nn_numpy import frameworks
from course_lib.evaluate import evaluate_next_item
from course_lib.split import leave_last_out

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_deterministic")

from course_lib.models import load_model, save_model  # noqa: E402
from course_lib.models.torch_models.attention import (  # noqa: E402
    BERT4Rec, BERT4RecNet, SASRec, SASRecNet, attention_mask, cloze_mask)

ATOL = 1e-5  # float32 against float64 NumPy


def _inputs(n_items: int, T: int = 6) -> torch.Tensor:
    """Three left-padded rows of shifted ids: full, half padded, a single item."""
    return torch.tensor([[3, 1, 4, 2, 5, 7], [0, 0, 0, 6, 2, 8], [0, 0, 0, 0, 0, 9]])[:, -T:] % (n_items + 1)


def _net(cls, **kw):
    torch.manual_seed(0)
    net = cls(n_items=9, max_len=6, n_factors=8, n_blocks=2, dropout=0.0, **kw)
    with torch.no_grad():  # move the norms off (1, 0) so that copying them is checked too
        for m in net.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
            if isinstance(m, torch.nn.MultiheadAttention):
                m.in_proj_bias.uniform_(-0.1, 0.1)
    return net.eval()


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


# -- masks -------------------------------------------------------------------------------------------

def test_attention_mask_by_hand():
    x = torch.tensor([[0, 2, 3]])
    causal = attention_mask(x, causal=True)[0].int().tolist()
    assert causal == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]  # padding sees itself only; real positions never see it
    assert attention_mask(x, causal=False)[0].int().tolist() == [[1, 1, 1], [0, 1, 1], [0, 1, 1]]
    assert np.array_equal(attention_mask(torch.tensor([[1, 2, 3]]), True)[0].numpy(), nn_np.causal_mask(3))
    net = _net(SASRecNet, n_heads=2)
    assert net.torch_mask(x).shape == (2, 3, 3)  # (batch * heads, T, T), PyTorch's convention: True = forbidden
    assert net.torch_mask(x)[0].int().tolist() == [[0, 1, 1], [1, 0, 1], [1, 0, 0]]


def test_cloze_mask_hides_a_share_of_the_real_items_only():
    rng = np.random.default_rng(0)
    x = np.array([[0, 0, 0, 0, 0, 0, 0, 0, 0, 4], [0, 0, 1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
    for _ in range(20):
        xm, y = cloze_mask(x, 0.25, 99, rng)
        hidden = xm == 99
        assert hidden.sum(axis=1).tolist() == [1, 2, 2]   # max(1, round(0.25 n)), n = 1, 8, 10
        assert not (hidden & (x == 0)).any()                # padding is never hidden
        assert np.array_equal(y[hidden], x[hidden] - 1) and (y[~hidden] == -1).all()
        assert np.array_equal(xm[~hidden], x[~hidden])
    counts = sum((cloze_mask(x, 0.25, 99, rng)[0] == 99).astype(int) for _ in range(400))[2]
    assert counts.min() > 40 and counts.max() < 120          # uniform over positions: 80 expected each


# -- against the NumPy reference ------------------------------------------------------------------------

@pytest.mark.parametrize("n_heads", [1, 2])
def test_sasrec_attention_layer_equals_numpy_with_copied_weights(n_heads):
    net = _net(SASRecNet, n_heads=n_heads)
    x = _inputs(9)
    block = net.blocks[0]
    with torch.no_grad():
        h = net.embed(x)
        z = block.norm1(h)
        out, _ = block.self_attn(z, z, z, attn_mask=net.torch_mask(x), need_weights=False)
    mha = frameworks.from_torch(block.self_attn)
    ref, A = mha(_np(z), mask=attention_mask(x, causal=True).numpy())
    np.testing.assert_allclose(_np(out), ref, rtol=0, atol=ATOL)
    np.testing.assert_allclose(_np(net.attention_weights(x)[0]), A, rtol=0, atol=ATOL)
    wrong, _ = mha(_np(z))  # no mask: the comparison must fail
    assert np.abs(_np(out) - wrong).max() > 100 * ATOL


def test_sasrec_forward_equals_a_numpy_composition():
    net = _net(SASRecNet, n_heads=2)
    x = _inputs(9)
    d = net.item_emb.embedding_dim
    E, P = _np(net.item_emb.weight), _np(net.pos_emb.weight)
    valid = (x > 0).numpy()[..., None]
    mask = nn_np.causal_mask(6) & (nn_np.padding_mask(x.numpy() > 0) | np.eye(6, dtype=bool))
    h = (E[x.numpy()] * np.sqrt(d) + P) * valid
    for block in net.blocks:
        ref_block = frameworks.from_torch(block)
        assert ref_block.layout == "pre_ln" and ref_block.norm1.eps == 1e-8
        h, _ = ref_block(h, mask=mask)
        h = h * valid
    f = frameworks.from_torch(net.last_norm)(h)
    logits = f @ E[1:].T
    with torch.no_grad():
        np.testing.assert_allclose(_np(net(x)), logits, rtol=0, atol=ATOL)
        np.testing.assert_allclose(_np(net.last(x)), logits[:, -1], rtol=0, atol=ATOL)


def test_bert4rec_attention_layer_equals_numpy_with_copied_weights():
    net = _net(BERT4RecNet, n_heads=2)
    x = _inputs(9)
    x[:, -1] = net.mask_id
    block = net.blocks[1]
    with torch.no_grad():
        h = net.blocks[0](net.embed(x), src_mask=net.torch_mask(x))
        out, _ = block.self_attn(h, h, h, attn_mask=net.torch_mask(x), need_weights=False)
    mha = frameworks.from_torch(block.self_attn)
    ref, A = mha(_np(h), mask=attention_mask(x, causal=False).numpy())
    np.testing.assert_allclose(_np(out), ref, rtol=0, atol=ATOL)
    np.testing.assert_allclose(_np(net.attention_weights(x)[1]), A, rtol=0, atol=ATOL)
    causal, _ = mha(_np(h), mask=attention_mask(x, causal=True).numpy())  # the causal mask is the wrong one here
    assert np.abs(_np(out) - causal).max() > 100 * ATOL


# -- causality -------------------------------------------------------------------------------------------

def test_sasrec_never_looks_ahead_and_bert4rec_does():
    x = _inputs(9)
    later = x.clone()
    later[:, 4] = torch.tensor([1, 1, 1])  # change position 4 (padding in row 2 becomes an item)
    sasrec, bert = _net(SASRecNet, n_heads=2), _net(BERT4RecNet, n_heads=2)
    with torch.no_grad():
        a, b = sasrec.hidden(x), sasrec.hidden(later)
        assert torch.equal(a[:, :4], b[:, :4])            # positions 0-3 are bit-identical
        assert (a[:, 4:] - b[:, 4:]).abs().amax() > 1e-3  # positions 4-5 do change
        assert torch.equal(sasrec.attention_weights(x)[0][:, :, :4, 4:], torch.zeros(3, 2, 4, 2))
        c, d = bert.hidden(x), bert.hidden(later)
        assert (c[:2, :4] - d[:2, :4]).abs().amax() > 2e-5  # bidirectional: the earlier positions see it


def test_causality_holds_in_training_mode_too():
    torch.manual_seed(0)
    net = SASRecNet(n_items=9, max_len=6, n_factors=8, dropout=0.0).train()
    x = _inputs(9)
    later = x.clone()
    later[0, 5] = 2
    assert torch.equal(net.hidden(x)[:, :5], net.hidden(later)[:, :5])


# -- fitted models ----------------------------------------------------------------------------------------

SMALL = dict(max_len=8, n_factors=16, n_epochs=2, batch_size=16)


@pytest.mark.parametrize("cls", [SASRec, BERT4Rec])
def test_same_seed_same_scores_other_seed_other_scores(cycle, cls):
    train, _ = leave_last_out(cycle, 1)
    a, b, c = (cls(**SMALL, random_state=s).fit(train) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.score_items([0, 5, 39]), b.score_items([0, 5, 39]))
    pd.testing.assert_frame_equal(a.history_, b.history_)
    assert np.abs(a.score_items([0]) - c.score_items([0])).max() > 1e-3


@pytest.mark.parametrize("cls", [SASRec, BERT4Rec])
def test_save_and_load_give_the_same_scores(cycle, cls, tmp_path):
    train, _ = leave_last_out(cycle, 1)
    model = cls(**SMALL).fit(train)
    save_model(model, tmp_path / "m.model")
    again = load_model(tmp_path / "m.model")
    assert type(again.net_) is type(model.net_)
    np.testing.assert_array_equal(again.score_items([0, 7]), model.score_items([0, 7]))
    np.testing.assert_array_equal(again.inputs_, model.inputs_)


def test_sasrec_learns_the_cycle(cycle):
    train, test = leave_last_out(cycle, 1)
    m = SASRec(max_len=6, n_factors=16, n_epochs=40, batch_size=32, lr=1e-2, dropout=0.0, early_stopping=False,
               random_state=0).fit(train)
    assert evaluate_next_item(m, test, k=1)["hr@1"] >= 0.9
    assert m.item_factors_.shape == (15, 16)
    weights = m.net_.attention_weights(torch.as_tensor(m.inputs_[:4]))
    assert len(weights) == 2 and weights[0].shape == (4, 1, 6, 6)
    np.testing.assert_allclose(weights[1].sum(-1).numpy(), 1.0, atol=1e-6)


def test_bert4rec_learns_the_cycle(cycle):
    train, test = leave_last_out(cycle, 1)
    m = BERT4Rec(max_len=8, n_factors=16, n_epochs=60, batch_size=16, lr=1e-2, dropout=0.0, mask_prob=0.5,
                 early_stopping=False, random_state=0).fit(train)
    assert evaluate_next_item(m, test, k=1)["hr@1"] >= 0.9
    assert m.item_factors_.shape == (15, 16)
    assert (m.inputs_[:, -1] == 16).all()  # every query ends with [mask] = n_items + 1


def test_early_stopping_keeps_the_best_epoch(cycle):
    train, _ = leave_last_out(cycle, 1)
    m = SASRec(**{**SMALL, "n_epochs": 4}, n_iter_no_change=1).fit(train)
    assert "val_loss" in m.history_ and m.best_epoch_ == int(m.history_["val_loss"].idxmin())


# -- errors --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, message", [
    (lambda: SASRec(n_factors=10, n_heads=3), ValueError, "divisible by n_heads"),
    (lambda: SASRec(dropout=1.0), ValueError, "dropout"),
    (lambda: SASRec(max_len=0), ValueError, "max_len"),
    (lambda: BERT4Rec(mask_prob=0.0), ValueError, "mask_prob"),
    (lambda: BERT4Rec(mask_prob=1.5), ValueError, "share of each sequence"),
    (lambda: BERT4Rec(max_len=1), ValueError, "max_len"),
    (lambda: BERT4Rec(mask_seen="yes"), TypeError, "mask_seen"),
])
def test_bad_hyperparameters_are_refused_with_a_message(cycle, make, error, message):
    train, _ = leave_last_out(cycle, 1)
    with pytest.raises(error, match=message):
        make().fit(train)


def test_bad_input_is_refused_with_a_message(cycle):
    train, _ = leave_last_out(cycle, 1)
    with pytest.raises(ValueError, match="timestamp"):
        SASRec(**SMALL).fit(train.drop(columns="timestamp"))
    net = _net(SASRecNet)
    with pytest.raises(ValueError, match="max_len = 6"):
        net(torch.ones(2, 7, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\(batch, T\)"):
        attention_mask(torch.ones(7, dtype=torch.int64), causal=True)
    with pytest.raises(ValueError, match="mask_prob"):
        cloze_mask(np.ones((2, 3), dtype=np.int64), 0.0, 9, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(batch, T\)"):
        cloze_mask(np.ones(3, dtype=np.int64), 0.5, 9, np.random.default_rng(0))
