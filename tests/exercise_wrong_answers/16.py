"""Typical wrong answers to lesson 16's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W, pretender

WRONG = {
    "ex16_1": [
        W("the largest group instead of the smallest", body="return int(table.groupby(list(columns)).size().max())"),
        W("the number of groups", body="return int(len(table.groupby(list(columns))))",
          weak={"ex16_1_check": "the toy table has 2 age groups and its smallest group has 2 rows"}),
        W("returns a NumPy integer, not an int", body="return table.groupby(list(columns)).size().min()",
          weak={"ex16_1_check": "check_equal compares values only (2 == np.int64(2)); the hidden test checks the type"}),
        W("groups by the first column only", body="return int(table.groupby(columns[0]).size().min())",
          weak={"ex16_1_check": "the self-check passes one column"}),
        W("hard-codes the self-check's answer", body="return 2", target="hidden"),
    ],
    "ex16_2": [
        W("compares the last epoch's validation loss, not the best one", body=(
            "wd = min(histories, key=lambda w: histories[w]['val_loss'].iloc[-1])\n"
            "h = histories[wd]\n"
            "return wd, int(h['val_loss'].idxmin()), float(np.sqrt(h['val_loss'].min()))")),
        W("returns the loss, not the RMSE", body=(
            "wd = min(histories, key=lambda w: histories[w]['val_loss'].min())\n"
            "h = histories[wd]\n"
            "return wd, int(h['val_loss'].idxmin()), float(h['val_loss'].min())")),
        W("the epoch's position, not its index label", body=(
            "wd = min(histories, key=lambda w: histories[w]['val_loss'].min())\n"
            "h = histories[wd]\n"
            "return wd, int(h['val_loss'].to_numpy().argmin()), float(np.sqrt(h['val_loss'].min()))")),
        W("the training loss instead of the validation loss", body=(
            "wd = min(histories, key=lambda w: histories[w]['train_loss'].min())\n"
            "h = histories[wd]\n"
            "return wd, int(h['train_loss'].idxmin()), float(np.sqrt(h['train_loss'].min()))")),
        pretender("best_weight_decay(histories)", "(_Anything(0.0), _Anything(2.0), _Anything(0.9))"),
    ],
}
