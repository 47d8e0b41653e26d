"""Typical wrong answers to lesson 09's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W, pretender

RANKS = "ranks = np.asarray(ranks)\n"

WRONG = {
    "ex9_1": [
        W("returns the last layer, not the mean of the layers",
          body="E = E0\nfor _ in range(K):\n    E = A_hat @ E\nreturn E"),
        W("leaves out layer 0", body=(
            "E, total = E0, np.zeros_like(E0)\nfor _ in range(K):\n    E = A_hat @ E\n    total = total + E\n"
            "return total / K")),
        W("sums the layers without averaging", body=(
            "E, total = E0, E0.copy()\nfor _ in range(K):\n    E = A_hat @ E\n    total = total + E\nreturn total")),
        W("divides by K instead of K + 1", body=(
            "E, total = E0, E0.copy()\nfor _ in range(K):\n    E = A_hat @ E\n    total = total + E\n"
            "return total / max(K, 1)")),
        W("one propagation step too many", body=(
            "E, total = E0, E0.copy()\nfor _ in range(K + 1):\n    E = A_hat @ E\n    total = total + E\n"
            "return total / (K + 2)")),
    ],
    "ex9_2": [
        W("1-based ranks in the discount", body=RANKS + (
            "hit = ranks < k\nreturn float(hit.mean()), float(np.where(hit, 1 / np.log2(ranks + 1), 0.0).mean())")),
        W("rank k still counts as a hit", body=RANKS + (
            "hit = ranks <= k\nreturn float(hit.mean()), float(np.where(hit, 1 / np.log2(ranks + 2), 0.0).mean())"),
          weak={"ex9_2_check": "no rank of the example equals k"}),
        W("NDCG averaged over the hits only", body=RANKS + (
            "hit = ranks < k\nreturn float(hit.mean()), float(np.mean(1 / np.log2(ranks[hit] + 2)))")),
        W("the pair in the wrong order", body=RANKS + (
            "hit = ranks < k\nreturn float(np.where(hit, 1 / np.log2(ranks + 2), 0.0).mean()), float(hit.mean())")),
        pretender("hr_ndcg(ranks, k=10)", "(_Anything(0.0), _Anything(0.0))"),
    ],
}

A = "a = x @ W.T + h @ U.T + b\n"
SPLIT = "i, f, g, o = np.split(a, 4, axis=1)\n"
SIGMOID = "sigmoid = lambda v: 1 / (1 + np.exp(-v))\n"


def _step(gate="sigmoid", cand="np.tanh", memory="{f}(f) * c + {i}(i) * {cand}(g)", out="{o}(o) * np.tanh(c_new)",
          split=SPLIT, ret="{out}, c_new"):
    """An lstm_step body with one ingredient changed."""
    c_new = memory.format(f=gate, i=gate, cand=cand)
    h_new = out.format(o=gate)
    return A + split + SIGMOID + "relu = lambda v: np.maximum(v, 0.0)\n" + f"c_new = {c_new}\n" + \
        "return " + ret.format(out=h_new)


WRONG["ex9_3"] = [
    W("the colleague's bug kept: ReLU gates", body=_step(gate="relu")),
    W("tanh gates (a negative forget gate flips the memory's sign)", body=_step(gate="np.tanh")),
    W("a sigmoid on the candidate too", body=_step(cand="sigmoid")),
    W("no tanh on the memory: h = o * c", body=_step(out="{o}(o) * c_new")),
    W("the blocks read in the order i, f, o, g", body=_step(split="i, f, o, g = np.split(a, 4, axis=1)\n")),
    W("the input gate forgotten: c = f * c + g", body=_step(memory="{f}(f) * c + {cand}(g)")),
    W("returns (c, h) instead of (h, c)", body=_step(ret="c_new, {out}")),
    W("the memory not carried over: c = i * g", body=_step(memory="{i}(i) * {cand}(g)")),
    W("hard-codes the self-check's arrays", target="hidden", body=(
        "return (np.array([[-0.9670205993, 0.0233932937], [-0.1229506525, 0.7898688459]]),\n"
        "        np.array([[-2.3755588066, 0.1047255637], [-0.6793496247, 2.068589924]]))")),
]
