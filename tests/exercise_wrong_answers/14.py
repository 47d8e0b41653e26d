"""Typical wrong answers to lesson 14's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W, pretender

START = "Q_u, r_u = np.asarray(Q_u, dtype=float), np.asarray(r_u, dtype=float)\nn_u, f = Q_u.shape\n"
GRADS = "n = np.asarray(shard_sizes, dtype=float)\ng = np.asarray([np.asarray(x, dtype=float) for x in shard_grads])\n"
COUNTS = 'counts = ratings.groupby("user_id").size()\n'

WRONG = {
    "ex14_1": [
        W("the course's plain lambda instead of Spark's lambda * n_u",
          body=START + "return np.linalg.solve(Q_u.T @ Q_u + lam * np.eye(f), Q_u.T @ r_u)"),
        W("no regularisation (least squares)", body=START + "return np.linalg.lstsq(Q_u, r_u, rcond=None)[0]"),
        W("lambda * n_u added to every entry, not the diagonal",
          body=START + "return np.linalg.solve(Q_u.T @ Q_u + lam * n_u, Q_u.T @ r_u)"),
        W("lambda * f on the diagonal (the wrong count)",
          body=START + "return np.linalg.solve(Q_u.T @ Q_u + lam * f * np.eye(f), Q_u.T @ r_u)"),
        W("the implicit model's confidence formula", body=START + (
            "return np.linalg.solve(Q_u.T @ Q_u + 3 * Q_u.T @ Q_u + lam * n_u * np.eye(f), 4 * Q_u.T @ np.ones(n_u))")),
        W("hard-codes the self-check's answer", body="return np.array([0.8, 1.2])", target="hidden"),
        pretender("als_wr_user_step(Q_u, r_u, lam)"),
    ],
    "ex14_2": [
        W("the plain mean of the shard means (right only for equal shards)", body=GRADS + "return g.mean(axis=0)"),
        W("the sum of the shard gradients", body=GRADS + "return g.sum(axis=0)"),
        W("weighted by the sizes but not normalised", body=GRADS + "return np.tensordot(n, g, axes=1)"),
        W("weighted by the sizes, divided by the number of shards",
          body=GRADS + "return np.tensordot(n, g, axes=1) / len(n)"),
        W("divides by the sizes instead of multiplying", body=GRADS + "return np.tensordot(1 / n, g, axes=1) / (1 / n).sum()"),
        W("hard-codes the self-check's answer", body="return np.array([1.75, 1.25])", target="hidden"),
        pretender("combine_gradients(shard_grads, shard_sizes)"),
    ],
    "ex14_3": [
        W("Spark's regParam equal to the course's lambda", body="return lam"),
        W("multiplies by the mean count instead of dividing", body=COUNTS + "return lam * counts.mean()"),
        W("the mean number of ratings per item", body='return lam / ratings.groupby("item_id").size().mean()'),
        W("the median number of ratings per user", body=COUNTS + "return lam / counts.median()"),
        W("divides by the number of ratings", body="return lam / len(ratings)"),
        W("divides by the number of users", body="return lam / ratings.user_id.nunique()"),
        W("hard-codes the self-check's answer", body="return 6.25", target="hidden"),
        pretender("spark_reg_param(lam, ratings)"),
    ],
}
