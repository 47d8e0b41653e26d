"""Typical wrong answers to lesson 06's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W

START = "u, i = np.asarray(u), np.asarray(i)\n"
SCALED = "low, high = y_range\nreturn low + (high - low) / (1 + np.exp(-x))"
NORMED = "Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)\nsims = Qn @ Qn[j]\n"

WRONG = {
    "ex6_1": [
        W("the raw dot product, no sigmoid", body=START + "return b + b_u[u] + b_i[i] + (P[u] * Q[i]).sum(axis=1)"),
        W("the sigmoid without the rating range", body=START + (
            "x = b + b_u[u] + b_i[i] + (P[u] * Q[i]).sum(axis=1)\nreturn 1 / (1 + np.exp(-x))")),
        W("forgets the biases", body=START + "x = (P[u] * Q[i]).sum(axis=1)\n" + SCALED,
          weak={"ex6_1_check": "the self-check's biases are all 0"}),
        W("forgets the global bias b", body=START + "x = b_u[u] + b_i[i] + (P[u] * Q[i]).sum(axis=1)\n" + SCALED,
          weak={"ex6_1_check": "the self-check's biases are all 0"}),
        W("the range upside down", body=START + (
            "x = b + b_u[u] + b_i[i] + (P[u] * Q[i]).sum(axis=1)\n"
            "low, high = y_range\nreturn high + (low - high) / (1 + np.exp(-x))")),
    ],
    "ex6_2": [
        W("dot product instead of cosine (no normalisation)", body=(
            "sims = Q @ Q[j]\n"
            "order = [int(m) for m in np.argsort(-sims, kind='stable') if m != j]\nreturn order[:k]"),
          weak={"ex6_2_check": "in Q_small the dot products rank the rows as the cosines do (row 1 is long and "
                               "the most similar anyway)"}),
        W("keeps j itself", body=NORMED + "return [int(m) for m in np.argsort(-sims, kind='stable')][:k]"),
        W("least similar first", body=NORMED + (
            "order = [int(m) for m in np.argsort(sims, kind='stable') if m != j]\nreturn order[:k]")),
        W("one neighbour too many", body=NORMED + (
            "order = [int(m) for m in np.argsort(-sims, kind='stable') if m != j]\nreturn order[: k + 1]"),
          weak={"ex6_2_check": "Q_small has 3 rows besides j, so k = 3 and k + 1 give the same list"}),
        W("hard-codes the self-check's answer", body="return [1, 2, 3]", target="hidden"),
    ],
}
