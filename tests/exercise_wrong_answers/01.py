"""Typical wrong answers to lesson 01's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W, pretender

SPLIT = """cutoff = {cutoff}
before = ratings.timestamp {op} cutoff
return {result}"""
COLD = """N = len(ratings)
T = {T}
n_u = {n_u}
return float(sum({p} for n in n_u))"""
EXACT = "np.prod((T - np.arange(n)) / (N - np.arange(n)))"


def split(cutoff='pd.Timestamp(day, tz="UTC").timestamp()', op="<", result="ratings[before], ratings[~before]"):
    return SPLIT.format(cutoff=cutoff, op=op, result=result)


def cold(T="int(np.ceil(test_size * N))", n_u="ratings.user_id.value_counts().to_numpy()", p=EXACT):
    return COLD.format(T=T, n_u=n_u, p=p)


WRONG = {
    "ex1_1": [
        W("the bug itself: a YYYYMMDD integer compared with seconds since 1970",
          body=split(cutoff='int(day.replace("-", ""))')),
        W("milliseconds instead of seconds", body=split(cutoff="pd.Timestamp(day).value // 10**6")),
        W("nanoseconds (Timestamp.value) instead of seconds", body=split(cutoff="pd.Timestamp(day).value")),
        W("<= : a rating given at midnight goes to training", body=split(op="<=")),
        W("cuts at the end of the day instead of its start",
          body=split(cutoff='pd.Timestamp(day, tz="UTC").timestamp() + 86400')),
        W("train and test swapped", body=split(result="ratings[~before], ratings[before]")),
        W("compares the year only", body=(
            "year = pd.to_datetime(ratings.timestamp, unit='s').dt.year\n"
            "before = year < int(day[:4])\nreturn ratings[before], ratings[~before]")),
        W("sorts the ratings by time", body=(
            "cutoff = pd.Timestamp(day, tz='UTC').timestamp()\nordered = ratings.sort_values('timestamp')\n"
            "before = ordered.timestamp < cutoff\nreturn ordered[before], ordered[~before]")),
        W("hard-codes the self-check's split",
          body="return ratings.iloc[:77985], ratings.iloc[77985:]"),
    ],
    "ex1_2": [
        W("independent draws: (T/N) ** n, as if with replacement", body=cold(p="(T / N) ** n")),
        W("T rounded down instead of up", body=cold(T="int(test_size * N)")),
        W("the probability that the user keeps all ratings in training",
          body=cold(p="np.prod((N - T - np.arange(n)) / (N - np.arange(n)))")),
        W("the probability that at least one rating is in the test set",
          body=cold(p="1 - np.prod((N - T - np.arange(n)) / (N - np.arange(n)))")),
        W("off by one in the product: (T - j) / (N - j) for j = 1 .. n",
          body=cold(p="np.prod((T - np.arange(1, n + 1)) / (N - np.arange(1, n + 1)))")),
        W("one user of average activity, times the number of users", body=cold(
            n_u="[int(round(ratings.user_id.value_counts().mean()))] * ratings.user_id.nunique()")),
        W("counts ratings, not users: one term per rating", body=cold(n_u="ratings.user_id.map(ratings.user_id.value_counts()).to_numpy()")),
        W("hard-codes the self-check's answer", body="return 0.41106719367588", target="hidden"),
        pretender("expected_cold_users(ratings, test_size)", "_Anything(0.41106719367588)"),
    ],
}
