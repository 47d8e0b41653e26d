"""Sequences (lesson 09): histories, padding, training examples, next-item evaluation,
GRU4Rec / LSTMRec / Caser on a sequential toy problem, and LightGCN against NumPy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_lib.evaluate import evaluate_full_ranking, evaluate_next_item
from course_lib.interactions import Interactions
from course_lib.models import LastItemKNN, NotFittedError, Popularity
from course_lib.sequences import next_item_chunks, next_item_windows, pad_left, shuffle_histories, user_histories
from course_lib.split import leave_last_out, stratified_split

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_deterministic")

from course_lib.models.torch_models.graph import LightGCN, LightGCNNet, normalized_adjacency  # noqa: E402
from course_lib.models.torch_models.sequence import (  # noqa: E402
    Caser, CaserNet, GRU4Rec, LSTMRec, RNNNet, seen_mask)


# -- histories and examples -----------------------------------------------------------------
def test_user_histories_time_order_and_ties():
    r = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [10, 11, 12, 10, 12],
                      "rating": [1, 2, 3, 4, 5], "timestamp": [5, 3, 3, 1, 0]})
    data = Interactions.from_ratings(r)
    h = user_histories(data)
    decode = [data.item_ids[x].tolist() for x in h]
    assert decode[data.user_index(1)] == [11, 12, 10]  # tie at t=3: row order kept
    assert decode[data.user_index(2)] == [12, 10]


def test_pad_left():
    np.testing.assert_array_equal(pad_left([[0, 1, 2, 3], [4], []], 3), [[2, 3, 4], [0, 0, 5], [0, 0, 0]])


def test_next_item_chunks_cover_every_transition_once():
    x, y, u = next_item_chunks([np.arange(7), np.array([3]), np.array([5, 6])], 3)
    np.testing.assert_array_equal(x, [[4, 5, 6], [1, 2, 3], [0, 0, 6]])
    np.testing.assert_array_equal(y, [[4, 5, 6], [1, 2, 3], [-1, -1, 6]])
    np.testing.assert_array_equal(u, [0, 0, 2])
    transitions = sorted((a - 1, b) for xs, ys in zip(x, y) for a, b in zip(xs, ys) if b >= 0)
    assert transitions == sorted([(k, k + 1) for k in range(6)] + [(5, 6)])


def test_next_item_windows():
    x, y, u = next_item_windows([np.array([7, 8, 9]), np.array([1])], 2)
    np.testing.assert_array_equal(x, [[0, 8], [8, 9]])
    np.testing.assert_array_equal(y, [8, 9])
    np.testing.assert_array_equal(u, [0, 0])


def test_shuffle_histories_keeps_items_and_times(cycle):
    s = shuffle_histories(cycle, random_state=1)
    assert (s[["user_id", "item_id"]] == cycle[["user_id", "item_id"]]).all().all()
    for u, g in cycle.groupby("user_id"):
        assert sorted(g["timestamp"]) == sorted(s.loc[g.index, "timestamp"])
    assert (s["timestamp"] != cycle["timestamp"]).mean() > 0.5


# -- evaluation and the last-item baseline ---------------------------------------------------
def test_last_item_knn_and_evaluate_next_item_by_hand():
    r = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [10, 11, 10, 12, 11, 12],
                      "rating": 1.0, "timestamp": [0, 1, 0, 1, 0, 1]})
    m = LastItemKNN().fit(r)
    # user 1's last item is 11; cos(11, 10) = 1/2, cos(11, 12) = 1/2, cos(11, 11) = 0 (diagonal)
    np.testing.assert_allclose(m.score_items([1])[0], [0.5, 0.0, 0.5])
    test = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [12, 11, 10], "rating": 1.0, "timestamp": 2})
    out = evaluate_next_item(m, test, k=1)  # every user has exactly one unseen item left: a hit at rank 0
    assert out == {"hr@1": 1.0, "ndcg@1": 1.0}


def test_evaluate_next_item_rank_discount():
    r = pd.DataFrame({"user_id": [1, 2, 2, 3, 3, 3], "item_id": [10, 10, 11, 10, 11, 12],
                      "rating": 1.0, "timestamp": 0})
    pop = Popularity().fit(r)
    test = pd.DataFrame({"user_id": [1], "item_id": [12], "rating": 1.0})  # rank 1 behind item 11
    out = evaluate_next_item(pop, test, k=2)
    assert out["hr@2"] == 1.0 and out["ndcg@2"] == pytest.approx(1 / np.log2(3))


# -- sequence models -------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [GRU4Rec, LSTMRec])
def test_rnn_learns_the_cycle(cycle, cls):
    train, test = leave_last_out(cycle, 1)
    m = cls(max_len=6, n_factors=16, hidden_size=16, n_epochs=40, batch_size=32, lr=2e-2, dropout=0.0,
            early_stopping=False, random_state=0).fit(train)
    assert evaluate_next_item(m, test, k=1)["hr@1"] >= 0.9
    assert m.history_["train_loss"].iloc[-1] < 0.5 * m.history_["train_loss"].iloc[0]
    assert m.item_factors_.shape == (15, 16)


def test_caser_learns_the_cycle(cycle):
    train, test = leave_last_out(cycle, 1)
    m = Caser(max_len=3, n_factors=16, n_h=4, n_v=2, n_epochs=60, batch_size=64, lr=2e-2, dropout=0.0,
              early_stopping=False, random_state=0).fit(train)
    assert evaluate_next_item(m, test, k=1)["hr@1"] >= 0.9


def test_sequence_model_contract(cycle):
    train, _ = leave_last_out(cycle, 1)
    with pytest.raises(NotFittedError):
        GRU4Rec().recommend(0)
    with pytest.raises(ValueError, match="timestamp"):
        GRU4Rec().fit(train.drop(columns="timestamp"))
    assert GRU4Rec(n_epochs=1).fit(Interactions.from_ratings(train)).n_epochs_ == 1  # an Interactions with times
    with pytest.raises(ValueError, match="dropout"):
        GRU4Rec(dropout=1.0).fit(train)
    kw = dict(max_len=4, n_factors=8, hidden_size=8, n_epochs=3, batch_size=16)
    a, b = GRU4Rec(**kw, random_state=3).fit(train), GRU4Rec(**kw, random_state=3).fit(train)
    pd.testing.assert_frame_equal(a.history_, b.history_)
    assert len(a.history_) == a.n_epochs_ and "val_loss" in a.history_
    rec = a.recommend(0, n=3)
    seen = set(train.loc[train.user_id == 0, "item_id"])
    assert len(rec) == 3 and not seen & set(rec["item_id"])


def test_rnn_padding_is_a_zero_embedding_and_never_a_target():
    torch.manual_seed(0)
    net = RNNNet(10, 4, 5, "gru").eval()
    assert torch.all(net.item_emb.weight[0] == 0)
    assert net.last(torch.tensor([[3, 4, 5]])).shape == (1, 10)
    assert net(torch.tensor([[0, 0, 3, 4, 5]])).shape == (1, 5, 10)
    _, y, _ = next_item_chunks([np.array([1, 2])], 4)
    np.testing.assert_array_equal(y, [[-1, -1, -1, 2]])  # -1 is ignored by the cross-entropy


def test_seen_mask_marks_the_items_read_so_far():
    m = seen_mask(torch.tensor([[0, 3, 1, 4]]), 4)        # shifted ids: padding, inner items 2, 0, 3
    assert m.shape == (1, 4, 4) and m.dtype == torch.bool
    np.testing.assert_array_equal(m[0].numpy(), [[0, 0, 0, 0], [0, 0, 1, 0], [1, 0, 1, 0], [1, 0, 1, 1]])
    before = torch.tensor([[False, True, False, False]])   # item 1 was read before the chunk
    np.testing.assert_array_equal(seen_mask(torch.tensor([[0, 3, 1, 4]]), 4, before)[0].numpy(),
                                  [[0, 1, 0, 0], [0, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1]])


def test_tied_rnn_scores_with_the_input_embeddings():
    torch.manual_seed(0)
    net = RNNNet(10, 4, 6, "gru", tie_weights=True).eval()
    x = torch.tensor([[0, 3, 4, 5]])
    h = net.hidden(x)
    ref = net.proj(h) @ net.item_emb.weight[1:].T + net.out_bias
    np.testing.assert_allclose(net(x).detach(), ref.detach(), rtol=1e-6)
    assert net(x).shape == (1, 4, 10) and net.last(x).shape == (1, 10) and not hasattr(net, "out")
    n_tied = sum(p.numel() for p in net.parameters())
    assert n_tied < sum(p.numel() for p in RNNNet(10, 4, 6, "gru").parameters())


@pytest.mark.parametrize("kw", [dict(tie_weights=True), dict(mask_seen=True, lr_schedule="linear")])
def test_rnn_options_learn_and_are_deterministic(cycle, kw):
    train, test = leave_last_out(cycle, 1)
    fit = dict(max_len=6, n_factors=16, hidden_size=16, n_epochs=25, batch_size=32, lr=2e-2, dropout=0.0,
               early_stopping=False, random_state=0, **kw)
    a, b = GRU4Rec(**fit).fit(train), GRU4Rec(**fit).fit(train)
    pd.testing.assert_frame_equal(a.history_, b.history_)
    assert a.history_["train_loss"].iloc[-1] < 0.5 * a.history_["train_loss"].iloc[0]
    assert evaluate_next_item(a, test, k=1)["hr@1"] >= 0.9
    with pytest.raises(ValueError, match="lr_schedule"):
        GRU4Rec(**dict(fit, lr_schedule="cosine")).fit(train)


def test_caser_vertical_convolution_is_a_weighted_sum_of_rows():
    torch.manual_seed(0)
    net = CaserNet(3, 10, length=4, n_factors=6, n_h=2, n_v=3, dropout=0.0)
    x = torch.tensor([[1, 2, 3, 4]])
    e = net.item_emb(x)[0]                      # (L, d)
    w = net.conv_v.weight[:, 0, :, 0]           # (n_v, L)
    expected = (w @ e + net.conv_v.bias[:, None]).flatten()
    torch.testing.assert_close(net.conv_v(e[None, None]).flatten(), expected)


def _caser_with_conv2d(net, x, user):
    """CaserNet's forward written with ``nn.Conv2d`` itself (the reference for its matrix products)."""
    e = net.item_emb(x).unsqueeze(1)                                                # (batch, 1, L, d)
    v = net.conv_v(e).flatten(1)
    h = [torch.relu(conv(e).squeeze(3)).amax(dim=2) for conv in net.conv_h]
    z = torch.relu(net.fc(net.dropout(torch.cat([v] + h, dim=1))))
    return net.out(torch.cat([z, net.user_emb(user)], dim=1))


def test_caser_products_equal_its_convolutions_with_their_gradients():
    torch.manual_seed(0)
    net = CaserNet(7, 30, length=5, n_factors=8, n_h=3, n_v=2, dropout=0.0)
    with torch.no_grad():  # biases away from zero, so that a missing or misplaced one shows
        for conv in [net.conv_v, *net.conv_h]:
            conv.bias.uniform_(-1, 1)
    x, user = torch.tensor([[0, 0, 3, 9, 4], [1, 2, 3, 4, 5], [29, 7, 7, 1, 30]]), torch.tensor([0, 6, 3])
    ours, reference = net(x, user), _caser_with_conv2d(net, x, user)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    weights = [net.conv_v.weight, net.conv_v.bias, *[c.weight for c in net.conv_h], net.item_emb.weight]
    g_ours = torch.autograd.grad(ours.square().sum(), weights)
    g_ref = torch.autograd.grad(reference.square().sum(), weights)
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


# -- LightGCN ------------------------------------------------------------------------------------
def test_normalized_adjacency_by_hand():
    a = normalized_adjacency(np.array([0, 0, 1]), np.array([0, 1, 1]), 2, 2).toarray()
    # degrees: u0=2, u1=1, i0=1, i1=2
    expected = np.zeros((4, 4))
    for u, i in [(0, 0), (0, 1), (1, 1)]:
        deg = {0: 2, 1: 1}[u], {0: 1, 1: 2}[i]
        expected[u, 2 + i] = expected[2 + i, u] = 1 / np.sqrt(deg[0] * deg[1])
    np.testing.assert_allclose(a, expected)


def test_lightgcn_propagation_matches_numpy():
    rng = np.random.default_rng(0)
    u, i = rng.integers(0, 5, 12), rng.integers(0, 4, 12)
    adj = normalized_adjacency(u, i, 5, 4)
    torch.manual_seed(0)
    net = LightGCNNet(adj, 5, 4, n_factors=3, n_layers=2)
    e0 = net.emb.weight.detach().double().numpy()
    a = adj.toarray()
    expected = (e0 + a @ e0 + a @ a @ e0) / 3
    np.testing.assert_allclose(net.propagate().detach().double().numpy(), expected, atol=1e-6)
    scores = net.score_all(torch.arange(5)).detach().double().numpy()
    np.testing.assert_allclose(scores, expected[:5] @ expected[5:].T, atol=1e-6)


def test_lightgcn_ranks_held_out_items_far_above_chance():
    """Two communities of users, each with its own items: held-out items must be found in the user's community."""
    rng = np.random.default_rng(0)
    rows = [(u, int(rng.integers(0, 20)) + 20 * (u % 2), 1.0) for u in range(60) for _ in range(12)]
    r = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).drop_duplicates(["user_id", "item_id"])
    train, test = stratified_split(r, 0.25, random_state=0)
    m = LightGCN(n_factors=8, n_layers=2, n_epochs=30, batch_size=64, lr=2e-2, random_state=0).fit(train)
    ndcg = evaluate_full_ranking(m, test, 10)["ndcg@10"]
    popular = evaluate_full_ranking(Popularity().fit(train), test, 10)["ndcg@10"]  # blind to communities: ~0.16
    assert ndcg > popular + 0.2, (ndcg, popular)  # measured 0.42: within a community items are interchangeable
    recs = m.top_n(test["user_id"].unique(), 5)
    same_side = np.mean([(np.asarray(items) // 20 == u % 2).mean() for u, items in zip(test["user_id"].unique(), recs)])
    assert same_side > 0.95, same_side


def test_lightgcn_fit_contract(cycle):
    m = LightGCN(n_factors=8, n_layers=2, n_epochs=30, batch_size=64, lr=2e-2, random_state=0).fit(cycle)
    assert m.history_["train_loss"].iloc[-1] < m.history_["train_loss"].iloc[0]
    assert m.user_factors_.shape == (40, 8) and m.item_factors_.shape == (15, 8)
    np.testing.assert_allclose(m.predict(0, 3).est, m.user_factors_[0] @ m.item_factors_[m.data_.item_index(3)])
    m0 = LightGCN(n_factors=8, n_layers=0, n_epochs=2, batch_size=64, random_state=0).fit(cycle)
    assert m0.user_factors_.shape == (40, 8)
    b = LightGCN(n_factors=8, n_layers=2, n_epochs=30, batch_size=64, lr=2e-2, random_state=0).fit(cycle)
    np.testing.assert_array_equal(m.user_factors_, b.user_factors_)


def test_lstm_rec_is_an_lstm_and_deterministic(cycle):
    """LSTMRec (lesson 09's LSTM): an nn.LSTM with 4 (md + m^2 + 2m) parameters; same seed, same model."""
    train, _ = leave_last_out(cycle, 1)
    kw = dict(max_len=4, n_factors=8, hidden_size=6, n_epochs=3, batch_size=16)
    a, b = LSTMRec(**kw, random_state=3).fit(train), LSTMRec(**kw, random_state=3).fit(train)
    assert isinstance(a.net_.rnn, torch.nn.LSTM)
    assert sum(p.numel() for p in a.net_.rnn.parameters()) == 4 * (6 * 8 + 6 * 6 + 2 * 6)
    pd.testing.assert_frame_equal(a.history_, b.history_)
    np.testing.assert_array_equal(a.score_items([0, 5]), b.score_items([0, 5]))
    c = LSTMRec(**kw, random_state=4).fit(train)
    assert not np.array_equal(a.score_items([0, 5]), c.score_items([0, 5]))
