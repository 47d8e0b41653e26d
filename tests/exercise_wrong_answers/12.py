"""Typical wrong answers to lesson 12's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W

LOSS = """m = S.max(axis=1, keepdims=True)
log_norm = m[:, 0] + np.log(np.exp(S - m).sum(axis=1))
return float(np.mean(log_norm - np.diag(S)))"""
MMR = """rel, U = np.asarray(rel, float), np.asarray(U, float)
sim = U @ U.T
picked = []
for _ in range(min(k, len(rel))):
    penalty = {penalty} if picked else np.zeros(len(rel))
    gain = {gain}
    {mask}picked.append(int(np.argmax(gain)))
return picked"""


def mmr(penalty="sim[:, picked].max(axis=1)", gain="lam * rel - (1 - lam) * penalty", repick=False):
    return MMR.format(penalty=penalty, gain=gain, mask="" if repick else "gain[picked] = -np.inf\n    ")


WRONG = {
    "ex12_1": [
        W("no correction: the plain in-batch softmax", body="S = np.asarray(P) @ np.asarray(Q).T\n" + LOSS),
        W("adds log Q instead of subtracting it",
          body="S = np.asarray(P) @ np.asarray(Q).T + np.asarray(log_q)[None, :]\n" + LOSS),
        W("subtracts log Q along the rows (the user), not the columns (the candidate item)",
          body="S = np.asarray(P) @ np.asarray(Q).T - np.asarray(log_q)[:, None]\n" + LOSS),
        W("corrects the negatives only, not the positive on the diagonal", body=(
            "S0 = np.asarray(P) @ np.asarray(Q).T\n"
            "S = S0 - np.asarray(log_q)[None, :]\n"
            "np.fill_diagonal(S, np.diag(S0))\n" + LOSS)),
        W("softmax down the columns (axis=0) instead of along each row", body=(
            "S = np.asarray(P) @ np.asarray(Q).T - np.asarray(log_q)[None, :]\n"
            "m = S.max(axis=0, keepdims=True)\n"
            "log_norm = m[0] + np.log(np.exp(S - m).sum(axis=0))\n"
            "return float(np.mean(log_norm - np.diag(S)))")),
        W("sums over the batch instead of averaging", body=(
            "S = np.asarray(P) @ np.asarray(Q).T - np.asarray(log_q)[None, :]\n"
            "m = S.max(axis=1, keepdims=True)\n"
            "log_norm = m[:, 0] + np.log(np.exp(S - m).sum(axis=1))\n"
            "return float(np.sum(log_norm - np.diag(S)))")),
        W("no maximum subtracted: np.exp overflows on large logits", body=(
            "S = np.asarray(P) @ np.asarray(Q).T - np.asarray(log_q)[None, :]\n"
            "return float(np.mean(np.log(np.exp(S).sum(axis=1)) - np.diag(S)))"), target="hidden"),
        W("hard-codes the self-check's value", body="return 0.885192", target="hidden"),
    ],
    "ex12_2": [
        W("compares positions instead of sets", body=(
            "a, e = np.asarray(approx_ids)[:, :k], np.asarray(exact_ids)[:, :k]\n"
            "return float(np.mean(a == e))")),
        W("keeps every column of the approximate result, not its first k", body=(
            "a, e = np.asarray(approx_ids), np.asarray(exact_ids)[:, :k]\n"
            "return float(np.mean([len(set(x[x >= 0]) & set(y)) for x, y in zip(a, e)]) / k)")),
        W("divides by the number of ids found (ignoring -1) instead of k", body=(
            "a, e = np.asarray(approx_ids)[:, :k], np.asarray(exact_ids)[:, :k]\n"
            "return float(np.mean([len(set(x[x >= 0]) & set(y)) / max((x >= 0).sum(), 1) for x, y in zip(a, e)]))")),
        W("pools the ids of all queries into one set", body=(
            "a, e = np.asarray(approx_ids)[:, :k], np.asarray(exact_ids)[:, :k]\n"
            "return float(len(set(a[a >= 0].ravel()) & set(e.ravel())) / e.size)")),
        W("precision over the returned columns: divides by the width of the array", body=(
            "a, e = np.asarray(approx_ids), np.asarray(exact_ids)\n"
            "return float(np.mean([len(set(x[:k]) & set(y[:k])) / a.shape[1] for x, y in zip(a, e)]))")),
        W("hard-codes the self-check's value", body="return 0.666667", target="hidden"),
    ],
    "ex12_3": [
        W("no diversity: the candidates in order of relevance", body=mmr(penalty="np.zeros(len(rel))")),
        W("sums the cosines to the picked items instead of taking their maximum",
          body=mmr(penalty="sim[:, picked].sum(axis=1)")),
        W("penalises by the cosine to the last picked item only", body=mmr(penalty="sim[:, picked[-1]]")),
        W("clips negative cosines at 0 (the max starts from 0, not from the first pick)",
          body=mmr(penalty="np.maximum(sim[:, picked].max(axis=1), 0)")),
        W("weights swapped: (1 - lambda) on relevance, lambda on similarity",
          body=mmr(gain="(1 - lam) * rel - lam * penalty")),
        W("averages the cosines to the picked items", body=mmr(penalty="sim[:, picked].mean(axis=1)"),
          target="hidden"),
        W("can pick the same candidate twice", body=mmr(repick=True), target="hidden"),
        W("hard-codes the self-check's order", body="return [0, 3, 1, 2]", target="hidden"),
    ],
}
