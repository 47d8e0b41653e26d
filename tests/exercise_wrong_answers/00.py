"""Typical wrong answers to lesson 00's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W, pretender

WRONG = {
    "ex0_1": [
        W("counts every cell, the missing ones too", body="return int(R.size)"),
        W("counts the missing cells", body="return int(R.isna().to_numpy().sum())"),
        W("counts the users who rated something, not the ratings", body="return int(R.notna().any(axis=1).sum())",
          weak={"ex0_1_hidden": "no row of the hidden examples holds more than one rating, so counting the rows "
                                "with a rating gives the same numbers"}),
        W("off by one", body="return int(R.notna().to_numpy().sum()) + 1"),
        W("returns a NumPy integer, not an int", body="return R.notna().to_numpy().sum()",
          weak={"ex0_1_check": "check_equal compares values only (24 == np.int64(24)); the hidden test checks the type"}),
        W("hard-codes the self-check's answer", body="return 24", target="hidden"),
        pretender("count_ratings(R)", "_Anything(24.0)"),
    ],
    "ex0_2": [
        W("divides by the number of users only", body="return R.notna().to_numpy().sum() / R.shape[0]"),
        W("returns the share of missing cells", body="return float(R.isna().to_numpy().mean())"),
        W("integer division", body="return int(R.notna().to_numpy().sum()) // R.size"),
        W("drops the users without ratings first",
          body="rated = R.dropna(how='all')\nreturn rated.notna().to_numpy().sum() / rated.size",
          weak={"ex0_2_check": "the self-check's table has no user without ratings; the hidden test has one"}),
        W("hard-codes the self-check's answer", body="return 0.8", target="hidden"),
    ],
}
