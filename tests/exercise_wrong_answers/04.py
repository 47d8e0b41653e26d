"""Typical wrong answers to lesson 04's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W

ERROR = "e_ui = r_ui - (mu + b_u + b_i + np.dot(q_i, p_u))\n"
BIASES = "b_u + lr * (e_ui - reg * b_u), b_i + lr * (e_ui - reg * b_i)"

WRONG = {
    "ex4_1": [
        W("updates q_i with the new p_u", body=ERROR + (
            "p_new = p_u + lr * (e_ui * q_i - reg * p_u)\n"
            f"return ({BIASES}, p_new, q_i + lr * (e_ui * p_new - reg * q_i))")),
        W("no regularisation of the biases", body=ERROR + (
            "return (b_u + lr * e_ui, b_i + lr * e_ui,\n"
            "        p_u + lr * (e_ui * q_i - reg * p_u), q_i + lr * (e_ui * p_u - reg * q_i))")),
        W("the error with the wrong sign", body=(
            "e_ui = (mu + b_u + b_i + np.dot(q_i, p_u)) - r_ui\n"
            f"return ({BIASES},\n"
            "        p_u + lr * (e_ui * q_i - reg * p_u), q_i + lr * (e_ui * p_u - reg * q_i))")),
        W("right values, but the input arrays are changed in place", body=ERROR + (
            "new_p = p_u + lr * (e_ui * q_i - reg * p_u)\n"
            "new_q = q_i + lr * (e_ui * p_u - reg * q_i)\n"
            "p_u[:] = new_p\n"
            "q_i[:] = new_q\n"
            f"return ({BIASES}, p_u, q_i)"),
          weak={"ex4_1_check": "the self-check builds its arrays inline and never looks at them again"}),
    ],
    "ex4_2": [
        W("mean squared error instead of the sum", body=(
            "r_hat = mu + b_u[u] + b_i[i] + np.sum(P[u] * Q[i], axis=1)\n"
            "return float(np.mean((r - r_hat) ** 2) + reg * (np.sum(b_u ** 2) + np.sum(b_i ** 2) + np.sum(P ** 2) + np.sum(Q ** 2)))")),
        W("regularises only the rows of the observed ratings", body=(
            "r_hat = mu + b_u[u] + b_i[i] + np.sum(P[u] * Q[i], axis=1)\n"
            "return float(np.sum((r - r_hat) ** 2) + reg * (np.sum(b_u[u] ** 2) + np.sum(b_i[i] ** 2) + np.sum(P[u] ** 2) + np.sum(Q[i] ** 2)))")),
        W("forgets the biases in the prediction", body=(
            "r_hat = mu + np.sum(P[u] * Q[i], axis=1)\n"
            "return float(np.sum((r - r_hat) ** 2) + reg * (np.sum(b_u ** 2) + np.sum(b_i ** 2) + np.sum(P ** 2) + np.sum(Q ** 2)))")),
        W("does not regularise the biases", body=(
            "r_hat = mu + b_u[u] + b_i[i] + np.sum(P[u] * Q[i], axis=1)\n"
            "return float(np.sum((r - r_hat) ** 2) + reg * (np.sum(P ** 2) + np.sum(Q ** 2)))")),
    ],
    "ex4_3": [
        W("the best number of factors, ignoring the tolerance", body="return int(curve.idxmin())"),
        W("strict inequality", body="good = curve[curve < curve.min() + tolerance]\nreturn int(min(good.index))"),
        W("the first qualifying entry in the Series' order, not the smallest",
          body="good = curve[curve <= curve.min() + tolerance]\nreturn int(good.index[0])",
          weak={"ex4_3_check": "the example's index is sorted, so the first qualifying entry is the smallest"}),
        W("returns a NumPy integer, not an int", body="good = curve[curve <= curve.min() + tolerance]\nreturn good.index.min()",
          weak={"ex4_3_check": "check_equal compares values only (10 == np.int64(10)); the hidden test checks the type"}),
        W("the largest qualifying number of factors",
          body="good = curve[curve <= curve.min() + tolerance]\nreturn int(max(good.index))"),
        W("hard-codes the self-check's answer", body="return 10", target="hidden"),
    ],
}
