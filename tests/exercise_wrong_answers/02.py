"""Typical wrong answers to lesson 02's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W, pretender

WRONG = {
    "ex2_1": [
        W("mean absolute error instead of RMSE",
          body="return float(np.mean(np.abs(np.asarray(r, dtype=float) - np.asarray(r_hat, dtype=float))))"),
        W("forgets the square root (MSE)",
          body="return float(np.mean((np.asarray(r, dtype=float) - np.asarray(r_hat, dtype=float)) ** 2))"),
        W("divides by n - 1", body=(
            "d = np.asarray(r, dtype=float) - np.asarray(r_hat, dtype=float)\n"
            "return float(np.sqrt(np.sum(d ** 2) / (len(d) - 1)))")),
        W("calls the library instead of computing it from scratch", body="return float(metrics.rmse(r, r_hat))",
          weak={"ex2_1_check": "the values are right: a test cannot see where they come from",
                "ex2_1_hidden": "the values are right; the test could make metrics.rmse raise while it calls my_rmse"}),
        W("hard-codes the self-check's answer", body="return float(np.sqrt(5 / 3))", target="hidden"),
        pretender("my_rmse(r, r_hat)"),
    ],
    "ex2_2": [
        W("forgets to subtract the user biases", body=(
            "residual = train.rating - mu\n"
            "grouped = residual.groupby(train.item_id)\n"
            "return {i: s / (reg_i + n) for i, s, n in zip(grouped.sum().index, grouped.sum(), grouped.size())}"),
          weak={"ex2_2_check": "the self-check passes b_u = 0",
                "ex2_2_hidden": "the hidden tests also call item_biases with every user bias 0 only"}),
        W("adds the user biases instead of subtracting them", body=(
            "residual = train.rating - mu + train.user_id.map(b_u)\n"
            "grouped = residual.groupby(train.item_id)\n"
            "return {i: s / (reg_i + n) for i, s, n in zip(grouped.sum().index, grouped.sum(), grouped.size())}"),
          weak={"ex2_2_check": "the self-check passes b_u = 0",
                "ex2_2_hidden": "the hidden tests also call item_biases with every user bias 0 only"}),
        W("no regularisation", body=(
            "residual = train.rating - mu - train.user_id.map(b_u)\n"
            "return residual.groupby(train.item_id).mean().to_dict()")),
        W("regularisation in the numerator", body=(
            "residual = train.rating - mu - train.user_id.map(b_u)\n"
            "grouped = residual.groupby(train.item_id)\n"
            "return {i: (s - reg_i) / n for i, s, n in zip(grouped.sum().index, grouped.sum(), grouped.size())}")),
        W("hard-codes the self-check's answer", body="return {2: (4 + 5 + 2 - 3 * mu) / 13}", target="hidden"),
        pretender("item_biases(train, mu, b_u, reg_i=10)", "{i: _Anything(0.0) for i in train.item_id.unique()}"),
    ],
    "ex2_3": [
        W("DCG without the ideal-DCG normalisation", body=(
            "gains = np.array([item in relevant for item in recommended[:k]], dtype=float)\n"
            "return float((gains / np.log2(np.arange(2, len(gains) + 2))).sum())")),
        W("ideal DCG over k positions instead of min(k, |T|)", body=(
            "gains = np.array([item in relevant for item in recommended[:k]], dtype=float)\n"
            "discounts = 1 / np.log2(np.arange(2, k + 2))\n"
            "return float((gains * discounts[: len(gains)]).sum() / discounts.sum())")),
        W("discounts shifted by one position", body=(
            "gains = np.array([item in relevant for item in recommended[:k]], dtype=float)\n"
            "discounts = 1 / np.log2(np.arange(3, k + 3))\n"
            "idcg = discounts[: min(k, len(relevant))].sum()\n"
            "return float((gains * discounts[: len(gains)]).sum() / idcg)")),
        W("ignores the cut-off k in the gains", body=(
            "gains = np.array([item in relevant for item in recommended], dtype=float)\n"
            "discounts = 1 / np.log2(np.arange(2, len(gains) + 2))\n"
            "idcg = discounts[: min(k, len(relevant))].sum()\n"
            "return float((gains * discounts).sum() / idcg)"),
          weak={"ex2_3_check": "the worked example has no hit beyond position k"}),
        W("hard-codes the self-check's answer", body="return float(NDCG)", target="hidden"),
        pretender("ndcg(recommended, relevant, k)"),
    ],
}
