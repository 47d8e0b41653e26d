"""Typical wrong answers to lesson 00's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W, pretender

CLOSEST = """best, best_d = None, {start}
for v in R.index:
    both = {both}
    if {skip}:
        continue
    d = {distance}
    if d {better} best_d:
        best, best_d = v, d
return {result}"""


def closest(start="np.inf", both="R.loc[user].notna() & R.loc[v].notna()", skip="v == user or not both.any()",
            distance="(R.loc[user, both] - R.loc[v, both]).abs().mean()", better="<", result="best"):
    return CLOSEST.format(start=start, both=both, skip=skip, distance=distance, better=better, result=result)


WRONG = {
    "ex0_1": [
        W("peeks: the user's own rating takes part in the mean", body="return float(R[movie].mean())"),
        W("counts the missing ratings as 0",
          body="others = R[movie].drop(index=user).fillna(0)\nreturn float(others.mean())"),
        W("the user's mean over their other movies (rows and columns swapped)",
          body="return float(R.loc[user].drop(movie).mean())"),
        W("the global mean of the table", body="return float(np.nanmean(R.to_numpy()))"),
        W("0 instead of NaN when nobody else rated the movie",
          body="others = R[movie].drop(index=user)\nreturn float(others.mean()) if others.notna().any() else 0.0"),
        W("leaves out the first user of the table instead of the given one",
          body="return float(R[movie].iloc[1:].mean())"),
        W("hard-codes the self-check's answer", body="return 10 / 3", target="hidden"),
        pretender("mean_of_others(R, user, movie)", "_Anything(10 / 3)"),
    ],
    "ex0_2": [
        W("forgets to skip the user themselves (distance 0)", body=closest(skip="not both.any()")),
        W("counts the missing ratings as 0", body=closest(
            both="R.columns", distance="(R.loc[user].fillna(0) - R.loc[v].fillna(0)).abs().mean()")),
        W("sums the differences instead of averaging them",
          body=closest(distance="(R.loc[user, both] - R.loc[v, both]).abs().sum()")),
        W("squared differences instead of absolute ones",
          body=closest(distance="((R.loc[user, both] - R.loc[v, both]) ** 2).mean()")),
        W("the most different user", body=closest(start="-np.inf", better=">")),
        W("the last of tied users instead of the first", body=closest(better="<=")),
        W("returns the distance, not the user", body=closest(result="best_d")),
        W("hard-codes the self-check's answer", body='return "Cai"', target="hidden"),
    ],
}
