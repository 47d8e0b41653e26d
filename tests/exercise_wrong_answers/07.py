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
        W("sum instead of mean", body=D + "return float(np.sum(np.logaddexp(0.0, -d)))",
          weak={"ex7_1_hidden": "every hidden case has a single pair, where the sum is the mean"}),
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
