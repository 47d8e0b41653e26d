"""Typical wrong answers to lesson 01's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W

WRONG = {
    "ex1_1": [
        W("largest ids instead of distinct counts (true only for contiguous ids)",
          body="return len(ratings) / (ratings.user_id.max() * ratings.item_id.max())",
          weak={"ex1_1_check": "the toy table's ids run from 1 without gaps, so the largest id is the count"}),
        W("number of rows in the denominator", body="return len(ratings) / (len(ratings) * ratings.item_id.nunique())"),
        W("counts distinct ids of users and items together",
          body="return len(ratings) / len(set(ratings.user_id) | set(ratings.item_id)) ** 2"),
        W("hard-codes the self-check's answer", body="return 0.8", target="hidden"),
    ],
    "ex1_2": [
        W("least rated items first", body=(
            "n_i = ratings.item_id.value_counts().sort_values().to_numpy()\n"
            "return n_i[: int(fraction * len(n_i))].sum() / n_i.sum()")),
        W("rounds the number of items up", body=(
            "n_i = ratings.item_id.value_counts().to_numpy()\n"
            "return n_i[: int(np.ceil(fraction * len(n_i)))].sum() / n_i.sum()"),
          weak={"ex1_2_hidden": "fraction * number of items is a whole number in every hidden case (0.25 x 4, "
                                "1.0 x n): a case such as 0.3 x 4 would tell int() from rounding up"}),
        W("one item too many", body=(
            "n_i = ratings.item_id.value_counts().to_numpy()\n"
            "return n_i[: int(fraction * len(n_i)) + 1].sum() / n_i.sum()")),
        W("share of items, not of ratings", body=(
            "n = ratings.item_id.nunique()\nreturn int(fraction * n) / n")),
        W("counts users instead of items", body=(
            "n_u = ratings.user_id.value_counts().to_numpy()\n"
            "return n_u[: int(fraction * len(n_u))].sum() / n_u.sum()")),
        W("hard-codes the self-check's answer", body="return 0.4270", target="hidden"),
    ],
    "ex1_3": [
        W("counts the test rows of cold users, not the users",
          body="return int((~test.user_id.isin(train.user_id)).sum())"),
        W("users of train missing from test", body="return int((~pd.Index(train.user_id.unique()).isin(test.user_id)).sum())"),
        W("counts every distinct test user", body="return int(test.user_id.nunique())"),
        W("off by one", body="return int((~pd.Index(test.user_id.unique()).isin(train.user_id)).sum()) + 1"),
    ],
}
