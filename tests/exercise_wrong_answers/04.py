"""Typical wrong answers to lesson 04's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W

ERROR = "e_ui = r_ui - (mu + b_u + b_i + np.dot(q_i, p_u))\n"
BIASES = "b_u + lr * (e_ui - reg * b_u), b_i + lr * (e_ui - reg * b_i)"

Z = "z_u = Y_u.sum(axis=0) / np.sqrt(len(Y_u))\n"
E = "e_ui = r_ui - (mu + b_u + b_i + q_i @ (p_u + z_u))\n"
SVDPP_BPQ = "b_u + lr * (e_ui - reg * b_u), b_i + lr * (e_ui - reg * b_i), p_u + lr * (e_ui * q_i - reg * p_u)"
SVDPP_Q = "q_i + lr * (e_ui * (p_u + z_u) - reg * q_i)"
LOOP = (
    "for u, i, r_ui in zip(u_idx, i_idx, r):\n"
    "    e_ui = r_ui - (mu + b_u[u] + b_i[i] + Q[i] @ P[u])\n"
    "    b_u[u] += lr * (e_ui - reg * b_u[u])\n"
    "    b_i[i] += lr * (e_ui - reg * b_i[i])\n"
    "    p_u, q_i = {copy}\n"
    "    P[u] += lr * (e_ui * q_i - reg * p_u)\n"
    "    Q[i] += lr * (e_ui * p_u - reg * q_i)")

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
),
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
          body="good = curve[curve <= curve.min() + tolerance]\nreturn int(good.index[0])"),
        W("returns a NumPy integer, not an int", body="good = curve[curve <= curve.min() + tolerance]\nreturn good.index.min()"),
        W("the largest qualifying number of factors",
          body="good = curve[curve <= curve.min() + tolerance]\nreturn int(max(good.index))"),
        W("hard-codes the self-check's answer", body="return 10", target="hidden"),
    ],
    "ex4_4": [
        W("q_i's update forgets the implicit term (e_ui * p_u)", body=Z + E + (
            f"return ({SVDPP_BPQ}, q_i + lr * (e_ui * p_u - reg * q_i),\n"
            "        Y_u + lr * (e_ui * q_i / np.sqrt(len(Y_u)) - reg * Y_u))")),
        W("y_j's step divided by |I_u| instead of its square root", body=Z + E + (
            f"return ({SVDPP_BPQ}, {SVDPP_Q},\n"
            "        Y_u + lr * (e_ui * q_i / len(Y_u) - reg * Y_u))")),
        W("y_j's step without the 1 / sqrt(|I_u|) of dz_u/dy_j", body=Z + E + (
            f"return ({SVDPP_BPQ}, {SVDPP_Q},\n"
            "        Y_u + lr * (e_ui * q_i - reg * Y_u))")),
        W("z_u as the mean of the y_j (1 / |I_u|) everywhere", body=(
            "z_u = Y_u.mean(axis=0)\n" + E +
            f"return ({SVDPP_BPQ}, {SVDPP_Q},\n"
            "        Y_u + lr * (e_ui * q_i / len(Y_u) - reg * Y_u))")),
        W("Y_u updated with the new q_i", body=Z + E + (
            "q_new = q_i + lr * (e_ui * (p_u + z_u) - reg * q_i)\n"
            f"return ({SVDPP_BPQ}, q_new,\n"
            "        Y_u + lr * (e_ui * q_new / np.sqrt(len(Y_u)) - reg * Y_u))")),
        W("y_j not regularised", body=Z + E + (
            f"return ({SVDPP_BPQ}, {SVDPP_Q},\n"
            "        Y_u + lr * e_ui * q_i / np.sqrt(len(Y_u)))")),
        W("biased MF's step: the implicit term left out of the prediction and Y_u unchanged", body=(
            "e_ui = r_ui - (mu + b_u + b_i + q_i @ p_u)\n"
            f"return ({SVDPP_BPQ}, q_i + lr * (e_ui * p_u - reg * q_i), Y_u.copy())")),
        W("right values, but Y_u changed in place", body=Z + E + (
            "Y_u += lr * (e_ui * q_i / np.sqrt(len(Y_u)) - reg * Y_u)\n"
            f"return ({SVDPP_BPQ}, {SVDPP_Q}, Y_u)")),
        W("hard-codes the self-check's answer", target="hidden", body=(
            "return (0.1505, -0.148, np.array([0.1148, 0.1939]), np.array([0.3189, -0.0842]),\n"
            "        np.array([[0.20665, -0.00255], [0.10715, 0.29595], [-0.09185, 0.09695], [0.40565, -0.20155]]))")),
    ],
    "ex4_5": [
        W("the colleague's loop: p_u = P[u] is a view, so Q's update sees the new p_u", body=LOOP.format(copy="P[u], Q[i]")),
        W("copies q_i only (p_u is still a view)", body=LOOP.format(copy="P[u], Q[i].copy()")),
        W("no copies, Q updated before P (P's update sees the new q_i)", body=(
            "for u, i, r_ui in zip(u_idx, i_idx, r):\n"
            "    e_ui = r_ui - (mu + b_u[u] + b_i[i] + Q[i] @ P[u])\n"
            "    b_u[u] += lr * (e_ui - reg * b_u[u])\n"
            "    b_i[i] += lr * (e_ui - reg * b_i[i])\n"
            "    Q[i] += lr * (e_ui * P[u] - reg * Q[i])\n"
            "    P[u] += lr * (e_ui * Q[i] - reg * P[u])")),
        W("every error computed before any update (a batch step, not SGD)", body=(
            "errors = r - (mu + b_u[u_idx] + b_i[i_idx] + np.sum(P[u_idx] * Q[i_idx], axis=1))\n"
            "for u, i, e_ui in zip(u_idx, i_idx, errors):\n"
            "    b_u[u] += lr * (e_ui - reg * b_u[u])\n"
            "    b_i[i] += lr * (e_ui - reg * b_i[i])\n"
            "    p_u, q_i = P[u].copy(), Q[i].copy()\n"
            "    P[u] += lr * (e_ui * q_i - reg * p_u)\n"
            "    Q[i] += lr * (e_ui * p_u - reg * q_i)")),
        W("the biases are never updated", body=(
            "for u, i, r_ui in zip(u_idx, i_idx, r):\n"
            "    e_ui = r_ui - (mu + b_u[u] + b_i[i] + Q[i] @ P[u])\n"
            "    p_u, q_i = P[u].copy(), Q[i].copy()\n"
            "    P[u] += lr * (e_ui * q_i - reg * p_u)\n"
            "    Q[i] += lr * (e_ui * p_u - reg * q_i)")),
        W("updates copies of the arrays, not the arrays given (nothing changes for the caller)", body=(
            "b_u, b_i, P, Q = b_u.copy(), b_i.copy(), P.copy(), Q.copy()\n" + LOOP.format(copy="P[u].copy(), Q[i].copy()"))),
        W("visits the ratings user by user, not in the order given", body=(
            "order = np.argsort(u_idx, kind='stable')\n"
            "u_idx, i_idx, r = u_idx[order], i_idx[order], r[order]\n" + LOOP.format(copy="P[u].copy(), Q[i].copy()"))),
    ],
    "ex4_6": [  # a valid unfitted rating model passes the self-check, which checks the contract only
        W("this lesson's defaults: the bar itself, not 0.025 below it", body="return BiasedMF(random_state=0)",
          target="hidden"),
        W("the bias baseline (lesson 02)", body="return BaselineOnly()", target="hidden"),
        W("the global mean", body="from course_lib.models import GlobalMean\nreturn GlobalMean()", target="hidden"),
        W("SVD++ with Surprise's defaults: below biased MF, by less than 0.025",
          body="return SVDpp(random_state=0, fast=True)", target="hidden"),
        W("item-based KNNBaseline with pearson_baseline (lesson 03): close, not enough",
          body="from course_lib.models import KNNBaseline\nreturn KNNBaseline(sim='pearson_baseline', user_based=False)",
          target="hidden"),
        W("a larger penalty and more epochs alone, without the smaller initialisation and step",
          body="return BiasedMF(reg_all=0.1, n_epochs=40, random_state=0)", target="hidden"),
        W("EASE: a ranking model, whose scores are not ratings",
          body="from course_lib.models import EASE\nreturn EASE()"),
        W("a model fitted on all of MovieLens (it has seen the test ratings)",
          body="return BiasedMF(n_factors=100, n_epochs=94, lr_all=0.005, reg_all=0.08, reg_bu=0.02, reg_bi=0.02, "
               "init_std_dev=0.01, random_state=0, fast=True).fit(ratings)"),
        W("a Surprise model instead of a course model", body="import surprise\nreturn surprise.SVD()"),
        W("no model", body="return None"),
    ],
}
