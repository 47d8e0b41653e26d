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
        W("forgets the biases", body=START + "x = (P[u] * Q[i]).sum(axis=1)\n" + SCALED),
        W("forgets the global bias b", body=START + "x = b_u[u] + b_i[i] + (P[u] * Q[i]).sum(axis=1)\n" + SCALED),
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

Z = "y_min, y_max = y_range\nz = b + b_u + b_i + np.sum(p_u * q_i, axis=1)\ns = 1 / (1 + np.exp(-z))\n"
R_HAT = "r_hat = y_min + (y_max - y_min) * s\n"


def _grads(dL_dz="2 * (r_hat - r) / len(r) * (y_max - y_min) * s * (1 - s)",
           ret="return dL_dz[:, None] * q_i, dL_dz[:, None] * p_u, dL_dz"):
    return Z + R_HAT + f"dL_dz = {dL_dz}\n" + ret


WRONG["ex6_3"] = [
    W("forgets sigma'(z): the gradient of the unbounded model", body=_grads(
        dL_dz="2 * (r_hat - r) / len(r) * (y_max - y_min)")),
    W("forgets the (y_max - y_min) factor of the bounded output", body=_grads(
        dL_dz="2 * (r_hat - r) / len(r) * s * (1 - s)")),
    W("swaps p and q: dL/dp_u along p_u, dL/dq_i along q_i", body=_grads(
        ret="return dL_dz[:, None] * p_u, dL_dz[:, None] * q_i, dL_dz")),
    W("sign error: (r - r_hat) instead of (r_hat - r)", body=_grads(
        dL_dz="2 * (r - r_hat) / len(r) * (y_max - y_min) * s * (1 - s)")),
    W("sum over the batch instead of the mean", body=_grads(
        dL_dz="2 * (r_hat - r) * (y_max - y_min) * s * (1 - s)")),
    W("forgets the 2 of the square", body=_grads(
        dL_dz="(r_hat - r) / len(r) * (y_max - y_min) * s * (1 - s)")),
    W("sigma'(z) taken as sigma(z)", body=_grads(
        dL_dz="2 * (r_hat - r) / len(r) * (y_max - y_min) * s")),
    W("ignores y_range: the lesson's (0.5, 5.5) hard-coded", body=(
        "z = b + b_u + b_i + np.sum(p_u * q_i, axis=1)\ns = 1 / (1 + np.exp(-z))\nr_hat = 0.5 + 5 * s\n"
        "dL_dz = 2 * (r_hat - r) / len(r) * 5 * s * (1 - s)\n"
        "return dL_dz[:, None] * q_i, dL_dz[:, None] * p_u, dL_dz"), target="hidden"),
    W("hard-codes the self-check's arrays", target="hidden", body=(
        "return (np.array([[-0.3706307463, -0.7412614927], [-0.8019250452, 0.4009625226]]),\n"
        "        np.array([[-0.6177179105, 0.2470871642], [0.2004812613, 0.8019250452]]),\n"
        "        np.array([-1.2354358211, 2.0048126129]))")),
]

S = "s = 1 / (1 + np.exp(-np.asarray(x, dtype=float)))\n"
BCE = "return float(-np.mean(t * np.log(s) + (1 - t) * np.log(1 - s)))"
RATINGS = "r = np.asarray(r, dtype=float)\n"

WRONG["ex6_4"] = [
    W("the colleague's bug kept: the raw stars as targets", body=RATINGS + "t = r\n" + S + BCE),
    W("divides by 5: maps 1 star to 0.2, and ignores y_range", body=RATINGS + "t = r / 5\n" + S + BCE),
    W("clips the stars into [0, 1]: every rating becomes the target 1", body=RATINGS + "t = np.clip(r, 0, 1)\n" + S + BCE),
    W("scales by the 1-5 star scale, not by the model's range", body=RATINGS + "t = (r - 1) / 4\n" + S + BCE),
    W("divides by y_max only (forgets y_min)", body=RATINGS + "t = r / y_range[1]\n" + S + BCE),
    W("the targets upside down: 5 stars become 0", body=(
        RATINGS + "y_min, y_max = y_range\nt = (y_max - r) / (y_max - y_min)\n" + S + BCE)),
    W("sums the losses instead of averaging them", body=(
        RATINGS + "y_min, y_max = y_range\nt = (r - y_min) / (y_max - y_min)\n" + S +
        "return float(-np.sum(t * np.log(s) + (1 - t) * np.log(1 - s)))")),
    W("hard-codes the lesson's range (0.5, 5.5)", body=RATINGS + "t = (r - 0.5) / 5\n" + S + BCE, target="hidden"),
    W("hard-codes the self-check's value", body="return 0.4571628232", target="hidden"),
]
