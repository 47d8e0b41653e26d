"""Typical wrong answers to lesson 08's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W

BINS = "np.asarray(features.AGE_BINS)"
SETUP = """G, _ = features.genre_multi_hot(movies.genres)
G = pd.DataFrame(G, index=movies.item_id.to_numpy())
g_train = G.reindex(train.item_id).fillna(0).to_numpy()
g_test = G.reindex(test.item_id).fillna(0).to_numpy()
r = train.rating.to_numpy(dtype=float)
"""

WRONG = {
    "ex8_1": [
        W("a boundary age goes to the bucket below (side='left')",
          body=f"return np.searchsorted({BINS}, np.asarray(ages), side='left') + 1"),
        W("codes from 0, not 1", body=f"return np.searchsorted({BINS}, np.asarray(ages), side='right')"),
        W("calls features.age_bucket, which the exercise forbids", body="return features.age_bucket(ages)",
          weak={"ex8_1_check": "the values are right: a test cannot see where they come from",
                "ex8_1_hidden": "the values are right; the test could make features.age_bucket raise while it "
                                "calls age_group"}),
        W("returns a Python list, not a NumPy array",
          body=f"return [int(x) for x in np.searchsorted({BINS}, np.asarray(ages), side='right') + 1]"),
    ],
    "ex8_2": [
        W("only the first listed (primary) genre counts", body=(
            "primary = dict(zip(movies.item_id, movies.genres.str.split('|').str[0]))\n"
            "r = train.rating.to_numpy(dtype=float)\n"
            "tg = train.item_id.map(primary).to_numpy()\n"
            "out = []\n"
            "for item in test.item_id:\n"
            "    mask = tg == primary.get(item)\n"
            "    out.append(r[mask].mean() if mask.any() else r.mean())\n"
            "return np.array(out)")),
        W("averages the movies' mean ratings instead of the ratings", body=(
            "G, _ = features.genre_multi_hot(movies.genres)\n"
            "G = pd.DataFrame(G, index=movies.item_id.to_numpy())\n"
            "movie_means = train.groupby('item_id').rating.mean()\n"
            "g_train = G.reindex(movie_means.index).fillna(0).to_numpy()\n"
            "g_test = G.reindex(test.item_id).fillna(0).to_numpy()\n"
            "shares = (g_test @ g_train.T) > 0\n"
            "n = shares.sum(axis=1)\n"
            "return np.where(n > 0, (shares @ movie_means.to_numpy()) / np.maximum(n, 1), train.rating.mean())"),
          weak={"ex8_2_check": "each of the self-check's two movies shares its genres with one training movie only"}),
        W("requires every genre in common, not at least one", body=SETUP + (
            "shares = ((g_test @ g_train.T) >= g_test.sum(axis=1, keepdims=True)) & (g_test.sum(axis=1, keepdims=True) > 0)\n"
            "n = shares.sum(axis=1)\n"
            "return np.where(n > 0, (shares @ r) / np.maximum(n, 1), r.mean())")),
        W("the global mean for every movie", body="return np.full(len(test), train.rating.mean())"),
        W("NaN when no training movie shares a genre", body=SETUP + (
            "shares = (g_test @ g_train.T) > 0\n"
            "n = shares.sum(axis=1)\n"
            "return np.where(n > 0, (shares @ r) / np.maximum(n, 1), np.nan)"),
          weak={"ex8_2_check": "both of the self-check's movies share a genre with a training movie"}),
    ],
    "ex8_3": [
        W("binary weights: every rated film counts 1", body=(
            "p = X[np.asarray(rated)].sum(axis=0)\n"
            "return p / np.linalg.norm(p)")),
        W("raw ratings, not centred", body=(
            "p = np.asarray(r_u, dtype=float) @ X[np.asarray(rated)]\n"
            "return p / np.linalg.norm(p)")),
        W("centred on the middle of the scale (3), not on the user's mean", body=(
            "p = (np.asarray(r_u, dtype=float) - 3.0) @ X[np.asarray(rated)]\n"
            "return p / np.linalg.norm(p)")),
        W("not divided by its length", body=(
            "r_u = np.asarray(r_u, dtype=float)\n"
            "return (r_u - r_u.mean()) @ X[np.asarray(rated)]")),
        W("NaN when every rating is the same", target="hidden", body=(
            "r_u = np.asarray(r_u, dtype=float)\n"
            "p = (r_u - r_u.mean()) @ X[np.asarray(rated)]\n"
            "return p / np.linalg.norm(p)")),
        W("the lesson's profile, hard-coded from the example", target="hidden",
          body="return p_u / np.linalg.norm(p_u)"),
    ],
}
