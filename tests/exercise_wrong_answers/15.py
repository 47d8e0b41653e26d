"""Typical wrong answers to lesson 15's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W

WALK = """kept, counts = [], {{}}
for position, genres in enumerate(candidates["genres"]):
    primary = {primary}
    if counts.get(primary, 0) {test} max_per_genre:
        counts[primary] = counts.get(primary, 0) + 1
        kept.append(position)
        if len(kept) == n:
            break
return candidates.iloc[kept]{reset}"""


def walk(primary='str(genres).split("|")[0]', test="<", reset=".reset_index(drop=True)"):
    return WALK.format(primary=primary, test=test, reset=reset)


T = 't0, t1 = int(pd.Timestamp(start).timestamp()), int(pd.Timestamp(end).timestamp())\nts = ratings["timestamp"]\n'

WRONG = {
    "ex15_1": [
        W("every listed genre counts towards the cap, not only the primary one", body=(
            "kept, counts = [], {}\n"
            "for position, genres in enumerate(candidates['genres']):\n"
            "    listed = str(genres).split('|')\n"
            "    if all(counts.get(g, 0) < max_per_genre for g in listed):\n"
            "        for g in listed:\n"
            "            counts[g] = counts.get(g, 0) + 1\n"
            "        kept.append(position)\n"
            "        if len(kept) == n:\n"
            "            break\n"
            "return candidates.iloc[kept].reset_index(drop=True)"),
          weak={"ex15_1_check": "user 1's top 50 gives a valid top 10 this way too (the self-check tests the "
                                "cap on primary genres, not which movies are kept)"}),
        W("keeps the original index", body=walk(reset="")),
        W("no cap at all: the first n", body="return candidates.head(n).reset_index(drop=True)"),
        W("one movie too many per genre (<=)", body=walk(test="<=")),
        W("the last listed genre as the primary one", body=walk(primary='str(genres).split("|")[-1]')),
    ],
    "ex15_2": [
        W("the end date included", body=T + "return ratings[ts < t0], ratings[(ts >= t0) & (ts <= t1)]",
          weak={"ex15_2_check": "no rating of MovieLens 100K was made exactly at midnight of 1998-03-01"}),
        W("the start date excluded", body=T + "return ratings[ts < t0], ratings[(ts > t0) & (ts < t1)]",
          weak={"ex15_2_check": "no rating of MovieLens 100K was made exactly at midnight of 1998-01-01"}),
        W("sorts the ratings by time", body=(
            "ratings = ratings.sort_values('timestamp')\n" + T +
            "return ratings[ts < t0], ratings[(ts >= t0) & (ts < t1)]")),
        W("milliseconds instead of seconds", body=(
            't0, t1 = int(pd.Timestamp(start).timestamp() * 1000), int(pd.Timestamp(end).timestamp() * 1000)\n'
            'ts = ratings["timestamp"]\nreturn ratings[ts < t0], ratings[(ts >= t0) & (ts < t1)]')),
        W("train runs up to the end of the window", body=T + "return ratings[ts < t1], ratings[(ts >= t0) & (ts < t1)]"),
        W("a fresh index (reset_index) instead of the original one", body=(
            T + "return ratings[ts < t0].reset_index(drop=True), ratings[(ts >= t0) & (ts < t1)].reset_index(drop=True)")),
    ],
    "ex15_3": [  # a valid unfitted course model passes the self-check, which checks the contract only
        W("popularity: the baseline to beat", body="return Popularity()", target="hidden"),
        W("the global mean: no ranking at all", body="from course_lib.models import GlobalMean\nreturn GlobalMean()", target="hidden"),
        W("the bias model, which ranks poorly (lesson 02)", body="return BaselineOnly()", target="hidden"),
        W("EASE itself with the penalty that is the bar: not above it", body="return EASE(lam=500)", target="hidden"),
        W("item k-NN with its defaults: above popularity, below EASE", body="return ItemKNN()", target="hidden"),
        W("a model fitted on all of MovieLens (it knows the test ratings)",
          body="return ImplicitALS(n_factors=64, alpha=3, reg=30).fit(ml.ratings)"),
        W("a Surprise model instead of a course model", body="import surprise\nreturn surprise.SVD()"),
        W("no model", body="return None"),
    ],
}
