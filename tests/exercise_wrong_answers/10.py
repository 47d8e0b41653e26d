"""Typical wrong answers to lesson 10's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W, pretender

SCORES = "T, d_k = Q.shape\nS = Q @ K.T / np.sqrt(d_k)\n"
SOFTMAX = "A = np.exp(S - S.max(axis=1, keepdims=True))\nA = A / A.sum(axis=1, keepdims=True)\n"
CAUSAL = "S = np.where(np.tril(np.ones((T, T), dtype=bool)), S, -np.inf)\n"
MASK_START = "T = len(x)\nreal = np.asarray(x) > 0\n"

WRONG = {
    "ex10_1": [
        W("no mask: every position sees the future", body=SCORES + SOFTMAX + "return A @ V, A"),
        W("the mask the wrong way round (upper triangle)",
          body=SCORES + "S = np.where(np.triu(np.ones((T, T), dtype=bool)), S, -np.inf)\n" + SOFTMAX + "return A @ V, A"),
        W("no 1/sqrt(d_k)", body="T, d_k = Q.shape\nS = Q @ K.T\n" + CAUSAL + SOFTMAX + "return A @ V, A"),
        W("divides by d_k instead of sqrt(d_k)", body="T, d_k = Q.shape\nS = Q @ K.T / d_k\n" + CAUSAL + SOFTMAX
          + "return A @ V, A"),
        W("masks after the softmax (rows no longer sum to 1)",
          body=SCORES + SOFTMAX + "A = A * np.tril(np.ones((T, T)))\nreturn A @ V, A"),
        W("softmax over the columns instead of the rows", body=SCORES + CAUSAL
          + "A = np.exp(S - S.max(axis=0, keepdims=True))\nA = A / A.sum(axis=0, keepdims=True)\nreturn A @ V, A"),
        W("K Q^T instead of Q K^T", body="T, d_k = Q.shape\nS = K @ Q.T / np.sqrt(d_k)\n" + CAUSAL + SOFTMAX
          + "return A @ V, A"),
        W("the pair in the wrong order", body=SCORES + CAUSAL + SOFTMAX + "return A, A @ V"),
        W("hard-codes the self-check's example", target="hidden", body=(
            "A = np.array([[1.0, 0.0, 0.0], [0.0558, 0.9442, 0.0], [1 / 3, 1 / 3, 1 / 3]])\n"
            "return np.array([[1.0], [1.9442], [7 / 3]]), A")),
        pretender("causal_attention(Q, K, V)", "(_Anything(0.0), _Anything(0.0))"),
    ],
    "ex10_2": [
        W("targets are the shifted ids, not the inner indices", body=(
            "x = np.asarray(x)\nx_in, y = x.copy(), np.full(len(x), -1)\nx_in[hide] = mask_id\ny[hide] = x[hide]\n"
            "return x_in, y")),
        W("a target at every real position", body=(
            "x = np.asarray(x)\nx_in = x.copy()\nx_in[hide] = mask_id\nreturn x_in, np.where(x > 0, x - 1, -1)")),
        W("hides with padding (0) instead of [mask]", body=(
            "x = np.asarray(x)\nx_in, y = x.copy(), np.full(len(x), -1)\nx_in[hide] = 0\ny[hide] = x[hide] - 1\n"
            "return x_in, y")),
        W("0 instead of -1 where nothing is hidden", body=(
            "x = np.asarray(x)\nx_in, y = x.copy(), np.zeros(len(x), dtype=int)\nx_in[hide] = mask_id\n"
            "y[hide] = x[hide] - 1\nreturn x_in, y")),
        W("changes x in place", target="hidden", body=(
            "y = np.full(len(x), -1)\ny[hide] = np.asarray(x)[hide] - 1\nx[hide] = mask_id\nreturn x, y")),
        W("hard-codes the self-check's example", target="hidden",
          body="return np.array([0, 0, 10, 3, 10, 2]), np.array([-1, -1, 4, -1, 7, -1])"),
        pretender("cloze_inputs(x, hide, mask_id)", "(_Anything(0.0), _Anything(0.0))"),
    ],
    "ex10_3": [
        W("the colleague's mask: the padding removed from the queries (rows), not the keys",
          body=MASK_START + "return np.tril(np.ones((T, T), dtype=bool)) & real[:, None]"),
        W("keys masked, but a padded position attends nothing (empty rows: nan in PyTorch)",
          body=MASK_START + "return np.tril(np.ones((T, T), dtype=bool)) & real[None, :]"),
        W("no causal part: every real position sees the later ones",
          body=MASK_START + "return real[None, :] | np.eye(T, dtype=bool)"),
        W("the triangle the wrong way round",
          body=MASK_START + "return np.triu(np.ones((T, T), dtype=bool)) & (real[None, :] | np.eye(T, dtype=bool))"),
        W("a padded position attends every earlier padded one",
          body=MASK_START + "return np.tril(np.ones((T, T), dtype=bool)) & (real[None, :] | ~real[:, None])"),
        W("0/1 integers instead of booleans (a float mask is added to the scores)",
          body=MASK_START + "return (np.tril(np.ones((T, T))) * (real[None, :] | np.eye(T, dtype=bool))).astype(int)"),
        W("hard-codes the self-check's example", target="hidden", body=(
            "return np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 1]],\n"
            "                dtype=bool)")),
        pretender("padded_causal_mask(x)", "_Anything(0.0)"),
    ],
}
