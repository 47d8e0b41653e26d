"""Typical wrong answers to lesson 03's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W, pretender

PEARSON = """n = R.shape[0]
S = {init}
rated = ~np.isnan(R)
for u in range(n):
    for v in range(n):
        both = rated[u] & rated[v]
        if u == v:
            continue
        if not both.any():
            {empty}
            continue
        x, y = {centred}
        den = np.sqrt((x @ x) * (y @ y))
        S[u, v] = x @ y / den if den > 0 else 0.0
return S"""
CORATED = "R[u, both] - R[u, both].mean(), R[v, both] - R[v, both].mean()"

ALL_USERS = """B = ~np.isnan(R)
means = {means}
D = np.where(B, R - means[:, None], 0.0)
S_others = {others}
numerator = S_others @ D
denominator = {denominator}
{result}"""
SAFE = """safe = np.where(denominator > 0, denominator, 1.0)
return np.where(denominator > 0, means[:, None] + numerator / safe, means[:, None])"""

ITEM_BASED = """item_means = {means}
rated = {rated}
nearest = rated[np.argsort({order}, kind="stable")[:k]]
s = S_items[i, nearest]
return {result}"""
TEXTBOOK = "item_means[i] + s @ (R[u, nearest] - item_means[nearest]) / np.abs(s).sum()"


def pearson(init="np.eye(n)", empty="pass", centred=CORATED):
    return PEARSON.format(init=init, empty=empty, centred=centred)


def all_users(means="np.nanmean(R, axis=1)", others="S - np.diag(np.diag(S))",
              denominator="np.abs(S_others) @ B.astype(float)", result=SAFE):
    return ALL_USERS.format(means=means, others=others, denominator=denominator, result=result)


def item_based(means="np.nanmean(R, axis=0)", rated="np.flatnonzero(~np.isnan(R[u]))", order="-S_items[i, rated]",
               result=TEXTBOOK):
    return ITEM_BASED.format(means=means, rated=rated, order=order, result=result)


WRONG = {
    "ex3_1": [
        W("centres by each user's mean over all their ratings (the variant section 2 warns against)",
          body=pearson(centred="R[u, both] - np.nanmean(R[u]), R[v, both] - np.nanmean(R[v])")),
        W("cosine similarity: no centring", body=pearson(centred="R[u, both], R[v, both]")),
        W("0 on the diagonal", body=pearson(init="np.zeros((n, n))")),
        W("NaN for pairs without a co-rated item", body=pearson(empty="S[u, v] = np.nan")),
        W("missing ratings as 0: Pearson over all items",
          body=pearson(centred="np.nan_to_num(R[u]) - np.nan_to_num(R[u]).mean(), "
                               "np.nan_to_num(R[v]) - np.nan_to_num(R[v]).mean()")),
        W("no guard for a zero denominator: NaN where a user's co-ratings are all equal",
          body=pearson().replace("x @ y / den if den > 0 else 0.0", "x @ y / den")),
    ],
    "ex3_2": [
        W("the bug itself: no denominator", body=all_users(result="return means[:, None] + numerator")),
        W("the tutorial's denominator: |similarities| summed over all other users, raters or not",
          body=all_users(denominator="np.abs(S_others).sum(axis=1, keepdims=True) * np.ones_like(R)")),
        W("the plain sum of similarities, not of their absolute values",
          body=all_users(denominator="S_others @ B.astype(float)",
                         result="return np.where(denominator != 0, means[:, None] + numerator / np.where("
                                "denominator != 0, denominator, 1.0), means[:, None])")),
        W("keeps the user as their own neighbour", body=all_users(others="S")),
        W("missing ratings as 0 in the users' means", body=all_users(means="np.nan_to_num(R).mean(axis=1)")),
        W("the items' means instead of the users' (axis swapped)", body=(
            "B = ~np.isnan(R)\nmeans = np.nanmean(R, axis=0)\nD = np.where(B, R - means[None, :], 0.0)\n"
            "S_others = S - np.diag(np.diag(S))\nnumerator = S_others @ D\n"
            "denominator = np.abs(S_others) @ B.astype(float)\n"
            "safe = np.where(denominator > 0, denominator, 1.0)\n"
            "return np.where(denominator > 0, means[None, :] + numerator / safe, means[None, :])")),
        W("NaN where nobody else rated the movie",
          body=all_users(result="return means[:, None] + numerator / np.where(denominator > 0, denominator, np.nan)")),
        W("missing ratings as 0 in the deviations", body=(
            "B = ~np.isnan(R)\nmeans = np.nanmean(R, axis=1)\nD = np.nan_to_num(R) - means[:, None]\n"
            "S_others = S - np.diag(np.diag(S))\nnumerator = S_others @ D\n"
            "denominator = np.abs(S_others) @ B.astype(float)\n"
            "safe = np.where(denominator > 0, denominator, 1.0)\n"
            "return np.where(denominator > 0, means[:, None] + numerator / safe, means[:, None])")),
    ],
    "ex3_3": [
        W("the bug itself: R[nearest, u] instead of R[u, nearest]", body=(
            "item_means = np.nanmean(R, axis=0)\nrated = np.flatnonzero(~np.isnan(R[u]))\n"
            "nearest = rated[np.argsort(-S_items[i, rated], kind='stable')[:k]]\ns = S_items[nearest, i]\n"
            "return item_means[i] + s @ (R[nearest, u] - item_means[nearest]) / np.abs(s).sum()")),
        W("no mean-centring: a weighted average of the raw ratings",
          body=item_based(result="s @ R[u, nearest] / np.abs(s).sum()")),
        W("divides by the plain sum of similarities, not of their absolute values",
          body=item_based(result="item_means[i] + s @ (R[u, nearest] - item_means[nearest]) / s.sum()")),
        W("centres by the user's mean instead of the items' means", body=item_based(
            result="np.nanmean(R[u]) + s @ (R[u, nearest] - np.nanmean(R[u])) / np.abs(s).sum()")),
        W("the users' means instead of the items' (axis swapped)", body=item_based(means="np.nanmean(R, axis=1)")),
        W("missing ratings as 0 in the items' means", body=item_based(means="np.nan_to_num(R).mean(axis=0)")),
        W("the k least similar items", body=item_based(order="S_items[i, rated]")),
        W("neighbours among all items, rated by u or not", body=item_based(rated="np.arange(R.shape[1])")),
        W("hard-codes the self-check's answers", target="hidden",
          body="return {(0, 2): 2.757345881576, (1, 3): 2.987824737286}.get((u, i), 3.0)"),
        pretender("predict_item_based(R, S_items, u, i, k)", "_Anything(2.757345881576)"),
    ],
}
