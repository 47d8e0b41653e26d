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
ITEM_BASED = """item_means = np.nanmean(R, axis=0)
rated = {rated}
nearest = rated[np.argsort({order}, kind="stable")[:k]]
s = S_items[i, nearest]
return {result}"""
TEXTBOOK = "item_means[i] + s @ (R[u, nearest] - item_means[nearest]) / np.abs(s).sum()"


def pearson(init="np.eye(n)", empty="pass", centred=CORATED):
    return PEARSON.format(init=init, empty=empty, centred=centred)


def item_based(rated="np.flatnonzero(~np.isnan(R[u]))", order="-S_items[i, rated]", result=TEXTBOOK):
    return ITEM_BASED.format(rated=rated, order=order, result=result)


WRONG = {
    "ex3_1": [
        W("centres by each user's mean over all their ratings (the variant section 2 warns against)",
          body=pearson(centred="R[u, both] - np.nanmean(R[u]), R[v, both] - np.nanmean(R[v])")),
        W("cosine similarity: no centring", body=pearson(centred="R[u, both], R[v, both]")),
        W("0 on the diagonal", body=pearson(init="np.zeros((n, n))")),
        W("NaN for pairs without a co-rated item", body=pearson(empty="S[u, v] = np.nan"),
          weak={"ex3_1_check": "every pair of users of the toy table shares a rated movie"}),
    ],
    "ex3_2": [
        W("no mean-centring: a weighted average of the raw ratings",
          body=item_based(result="s @ R[u, nearest] / np.abs(s).sum()")),
        W("divides by the plain sum of similarities, not of their absolute values",
          body=item_based(result="item_means[i] + s @ (R[u, nearest] - item_means[nearest]) / s.sum()"),
          weak={"ex3_2_check": "cosine similarities of positive ratings are never negative"}),
        W("centres by the user's mean instead of the items' means", body=item_based(
            result="np.nanmean(R[u]) + s @ (R[u, nearest] - np.nanmean(R[u])) / np.abs(s).sum()")),
        W("the k least similar items", body=item_based(order="S_items[i, rated]")),
        W("neighbours among all items, rated by u or not", body=item_based(rated="np.arange(R.shape[1])")),
    ],
    "ex3_3": [
        W("the largest k on a tie", body="best = min(curve.values())\nreturn max(k for k, value in curve.items() if value == best)",
          weak={"ex3_3_check": "the lesson's validation curve has no tie"}),
        W("returns the RMSE, not k", body="return min(curve.values())"),
        W("the first k of the dict among the best, not the smallest (the self-check's own expression)",
          body="return min(curve, key=curve.get)",
          weak={"ex3_3_check": "the self-check computes its expected value with this very expression",
                "ex3_3_hidden": "in the hidden tie case the smaller k comes first in the dict, so dict order "
                                "gives the right answer; a tie listed as {20: ..., 10: ...} would catch it"}),
        W("the k with the largest RMSE", body="return max(curve, key=curve.get)"),
        W("the smallest k, whatever its RMSE", body="return min(curve)"),
        pretender("choose_k(curve)", "_Anything(10.0)"),
    ],
}
# pretender() replaces the whole cell: keep the lines after the function that the cell also runs.
WRONG["ex3_3"][-1].cell += ("\n\n\nitem_curve = {k: curve[(\"item\", k)] for k in ks}\nbest_k = choose_k(item_curve)\n"
                            "print(\"chosen k:\", best_k)")
