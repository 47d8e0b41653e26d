"""Typical wrong answers to lesson 13's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W

WRONG = {
    "ex13_1": [
        W("forgets the 1/2 (counts every pair twice)",
          body="return ((X @ V) ** 2 - (X * X) @ (V * V)).sum(axis=1)"),
        W("subtracts X (V*V) instead of (X*X)(V*V): right for 0/1 features only",
          body="return 0.5 * ((X @ V) ** 2 - X @ (V * V)).sum(axis=1)"),
        W("forgets the diagonal term (keeps the self-pairs v_i.v_i x_i^2)",
          body="return 0.5 * ((X @ V) ** 2).sum(axis=1)"),
        W("sums over the batch instead of the factors", body=(
            "S = np.asarray(X) @ np.asarray(V)\n"
            "Q = (np.asarray(X) ** 2) @ (np.asarray(V) ** 2)\n"
            "return 0.5 * (S * S - Q).sum(axis=0)")),
        W("returns the per-factor terms (B, k), not their sum", body=(
            "S = np.asarray(X) @ np.asarray(V)\n"
            "return 0.5 * (S * S - (np.asarray(X) ** 2) @ (np.asarray(V) ** 2))")),
        W("squares after the sum over features in the wrong term: (sum_i v_if x_i^2)",
          body="return 0.5 * ((X @ V) ** 2 - (X * X) @ V).sum(axis=1)"),
        W("the answer hard-coded from the self-check", body="return np.array([-2.75, 0.0, -4.0])", target="hidden"),
        W("all pairs i != j summed with the full Gram matrix, both orders (no 1/2, no diagonal)", body=(
            "G = np.asarray(V) @ np.asarray(V).T\n"
            "G = G - np.diag(np.diag(G))\n"
            "return np.einsum('bi,ij,bj->b', X, G, X)")),
    ],
    "ex13_2": [
        W("W not transposed (x @ W computes W^T x)", body="return np.asarray(x0) * (np.asarray(x) @ W + b) + x"),
        W("no residual (+ x_l forgotten)", body="return np.asarray(x0) * (np.asarray(x) @ np.asarray(W).T + b)"),
        W("x_l in the product instead of x_0",
          body="return np.asarray(x) * (np.asarray(x) @ np.asarray(W).T + b) + x"),
        W("W applied to x_0 instead of x_l",
          body="return np.asarray(x0) * (np.asarray(x0) @ np.asarray(W).T + b) + x"),
        W("the bias added outside the product",
          body="return np.asarray(x0) * (np.asarray(x) @ np.asarray(W).T) + b + x"),
        W("residual with x_0 instead of x_l",
          body="return np.asarray(x0) * (np.asarray(x) @ np.asarray(W).T + b) + x0"),
        W("the answer hard-coded from the self-check", body="return np.array([[2.1, 1.2, 3.6], [2.05, -1.0, 2.3]])",
          target="hidden"),
    ],
    "ex13_3": [
        W("re-ranks every candidate, ignoring N", body=(
            "items, scores = np.asarray(items), np.asarray(scores, dtype=float)\n"
            "return items[np.argsort(-scores, kind='stable')][:k]")),
        W("sorts by increasing score", body=(
            "items, scores = np.asarray(items), np.asarray(scores, dtype=float)\n"
            "order = np.argsort(scores[:N], kind='stable')\n"
            "return np.concatenate([items[:N][order], items[N:]])[:k]")),
        W("decreasing order by reversing an ascending sort (equal scores swap)", body=(
            "items, scores = np.asarray(items), np.asarray(scores, dtype=float)\n"
            "order = np.argsort(scores[:N], kind='stable')[::-1]\n"
            "return np.concatenate([items[:N][order], items[N:]])[:k]")),
        W("off by one: re-ranks the first N + 1", body=(
            "items, scores = np.asarray(items), np.asarray(scores, dtype=float)\n"
            "order = np.argsort(-scores[:N + 1], kind='stable')\n"
            "return np.concatenate([items[:N + 1][order], items[N + 1:]])[:k]")),
        W("off by one: re-ranks the first N - 1", body=(
            "items, scores = np.asarray(items), np.asarray(scores, dtype=float)\n"
            "order = np.argsort(-scores[:N - 1], kind='stable')\n"
            "return np.concatenate([items[:N - 1][order], items[N - 1:]])[:k]")),
        W("drops the candidates after the first N (a short list when N < k)", body=(
            "items, scores = np.asarray(items), np.asarray(scores, dtype=float)\n"
            "return items[:N][np.argsort(-scores[:N], kind='stable')][:k]")),
        W("the rest sorted by score too", body=(
            "items, scores = np.asarray(items), np.asarray(scores, dtype=float)\n"
            "head = items[:N][np.argsort(-scores[:N], kind='stable')]\n"
            "tail = items[N:][np.argsort(-scores[N:], kind='stable')]\n"
            "return np.concatenate([head, tail])[:k]")),
        W("returns positions in the candidate list instead of items", body=(
            "scores = np.asarray(scores, dtype=float)\n"
            "order = np.argsort(-scores[:N], kind='stable')\n"
            "return np.concatenate([order, np.arange(N, len(scores))])[:k]")),
        W("the answer hard-coded from the self-check", body="return np.array([12, 13, 14, 11, 15])", target="hidden"),
    ],
}
