"""Typical wrong answers to lesson 07's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W

D = "d = np.asarray(pos_scores, dtype=float) - np.asarray(neg_scores, dtype=float)\n"
P = "X = np.asarray(X, dtype=float)\nP = np.linalg.inv(X.T @ X + lam * np.eye(X.shape[1]))\n"

WRONG = {
    "ex7_1": [
        W("log of the sigmoid written out: overflows for large differences",
          body=D + "return float(-np.mean(np.log(1 / (1 + np.exp(-d)))))",
          weak={"ex7_1_check": "the example's differences are small: only the hidden test's 2000 overflows"}),
        W("negative minus positive", body=(
            "d = np.asarray(neg_scores, dtype=float) - np.asarray(pos_scores, dtype=float)\n"
            "return float(np.mean(np.logaddexp(0.0, -d)))")),
        W("sum instead of mean", body=D + "return float(np.sum(np.logaddexp(0.0, -d)))"),
        W("forgets the minus sign", body=D + "return float(-np.mean(np.logaddexp(0.0, -d)))"),
    ],
    "ex7_2": [
        W("divides the rows of P instead of its columns",
          body=P + "B = -P / np.diag(P)[:, None]\nnp.fill_diagonal(B, 0.0)\nreturn B"),
        W("forgets the minus sign", body=P + "B = P / np.diag(P)[None, :]\nnp.fill_diagonal(B, 0.0)\nreturn B"),
        W("forgets to zero the diagonal", body=P + "return -P / np.diag(P)[None, :]"),
        W("no penalty on the diagonal (lambda forgotten)", body=(
            "X = np.asarray(X, dtype=float)\nP = np.linalg.pinv(X.T @ X)\n"
            "B = -P / np.diag(P)[None, :]\nnp.fill_diagonal(B, 0.0)\nreturn B")),
        W("penalty added to every entry, not only the diagonal", body=(
            "X = np.asarray(X, dtype=float)\nP = np.linalg.inv(X.T @ X + lam)\n"
            "B = -P / np.diag(P)[None, :]\nnp.fill_diagonal(B, 0.0)\nreturn B")),
    ],
}

X = ("u, i, j = np.asarray(u), np.asarray(i), np.asarray(j)\nn = len(u)\n"
     "x = b[i] - b[j] + np.sum(P[u] * (Q[i] - Q[j]), axis=1)\n")


def _grads(g="(1 / (1 + np.exp(x)))[:, None] / n", reg="lam / n", sign_j="", add="np.add.at({a}, {k}, {v})",
           db=True, reg_j=True):
    """A bpr_batch_gradients body with one ingredient changed."""
    put = lambda a, k, v: add.format(a=a, k=k, v=v) + "\n"
    body = X + f"g = {g}\ndP, dQ, db = np.zeros_like(P), np.zeros_like(Q), np.zeros_like(b)\n"
    body += put("dP", "u", f"-g * (Q[i] - Q[j]) + {reg} * P[u]")
    body += put("dQ", "i", f"-g * P[u] + {reg} * Q[i]")
    body += put("dQ", "j", f"{sign_j}g * P[u]" + (f" + {reg} * Q[j]" if reg_j else ""))
    if db:
        body += put("db", "i", "-g[:, 0]") + put("db", "j", "g[:, 0]")
    return body + "return dP, dQ, db"


FANCY = "{a}[{k}] += {v}"
CANDIDATES = "candidates = np.flatnonzero(~np.isin(np.asarray(item_ids), np.asarray(seen_ids)))\n"

WRONG["ex7_3"] = [
    W("fancy-index += instead of np.add.at: a row met twice in the batch counts once", body=_grads(add=FANCY)),
    W("sigma(x) instead of 1 - sigma(x)", body=_grads(g="(1 / (1 + np.exp(-x)))[:, None] / n")),
    W("sum instead of mean over the batch", body=_grads(g="(1 / (1 + np.exp(x)))[:, None]", reg="lam")),
    W("the penalty's gradient 2 * lam (from lam * ||p||^2, not lam / 2)", body=_grads(reg="2 * lam / n")),
    W("the negative item's gradient with the positive's sign", body=_grads(sign_j="-")),
    W("forgets the penalty on the negative item", body=_grads(reg_j=False)),
    W("forgets the bias gradients", body=_grads(db=False)),
    W("penalises the whole tables once instead of each occurrence in a triple", body=(
        X + "g = (1 / (1 + np.exp(x)))[:, None] / n\n"
        "dP, dQ, db = lam * P.copy(), lam * Q.copy(), np.zeros_like(b)\n"
        "np.add.at(dP, u, -g * (Q[i] - Q[j]))\nnp.add.at(dQ, i, -g * P[u])\nnp.add.at(dQ, j, g * P[u])\n"
        "np.add.at(db, i, -g[:, 0])\nnp.add.at(db, j, g[:, 0])\nreturn dP, dQ, db")),
    W("hard-codes the self-check's arrays", target="hidden", body=(
        "return (np.array([[-0.0236821593, -0.2796758310], [-0.1086691540, 0.1093354653], [0.0, 0.0]]),\n"
        "        np.array([[-0.1420533173, 0.1021546603], [0.0522571335, 0.0454987101], "
        "[0.0964628505, -0.1343200370], [0.0, 0.0]]),\n"
        "        np.array([-0.3107733013, 0.2858504429, 0.0249228584, 0.0]))")),
]

WRONG["ex7_4"] = [
    W("the colleague's bug kept: inner indices compared with raw ids", body=(
        "candidates = np.setdiff1d(np.arange(len(item_ids)), seen_ids)\nreturn rng.choice(candidates, size=n)")),
    W("returns raw ids instead of inner indices", body=(
        "item_ids = np.asarray(item_ids)\nreturn rng.choice(item_ids[~np.isin(item_ids, seen_ids)], size=n)")),
    W("draws among the seen movies (mask inverted)", body=(
        "return rng.choice(np.flatnonzero(np.isin(np.asarray(item_ids), np.asarray(seen_ids))), size=n)")),
    W("no exclusion at all: any movie", body="return rng.integers(0, len(item_ids), size=n)"),
    W("without replacement: fails when n exceeds the unseen movies", body=(
        CANDIDATES + "return rng.choice(candidates, size=min(n, len(candidates)), replace=False)")),
    W("off by one: never draws the last unseen movie", body=(
        CANDIDATES + "return candidates[rng.integers(0, max(len(candidates) - 1, 1), size=n)]")),
    W("not random: the first unseen movie every time", body=CANDIDATES + "return np.full(n, candidates[0])"),
    W("rejects seen draws once, then keeps whatever comes", body=(
        "item_ids = np.asarray(item_ids)\nd = rng.integers(0, len(item_ids), size=n)\n"
        "bad = np.isin(item_ids[d], seen_ids)\nd[bad] = rng.integers(0, len(item_ids), size=int(bad.sum()))\nreturn d")),
    W("hard-codes the self-check's unseen movies", target="hidden", body="return rng.choice([0, 2, 4], size=n)"),
]
