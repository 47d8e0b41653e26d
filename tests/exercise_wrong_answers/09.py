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
