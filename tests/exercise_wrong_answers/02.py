"""Typical wrong answers to lesson 02's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W, pretender

BIAS = """r, b_u, w = (np.asarray(x, dtype=float) for x in (r, b_u, w))
return float({numerator} / ({denominator}))"""
RANDOM = """catalogue = {catalogue}
seen = train.groupby("user_id").item_id.agg(set)
per_user = []
for u, items in test.groupby("user_id").item_id:
    C_u = {candidates}
    per_user.append({share})
return float(np.mean(per_user))"""
ILD = """v = np.asarray(vectors, dtype=float)
norms = np.linalg.norm(v, axis=1, keepdims=True)
unit = {unit}
a, b = {pairs}
return float({result})"""
PERFECT = """n_T = {n_T}
hits = {hits}
return {result}"""


def bias(numerator="np.sum(w * (r - mu - b_u))", denominator="reg + np.sum(w)"):
    return BIAS.format(numerator=numerator, denominator=denominator)


def random(catalogue="set(train.item_id)", candidates="catalogue - seen.get(u, set())",
           share="len(set(items) & C_u) / len(C_u)"):
    return RANDOM.format(catalogue=catalogue, candidates=candidates, share=share)


def perfect(n_T='test.groupby("user_id").size().to_numpy()', hits="np.minimum(k, n_T)",
            result="float(np.mean(hits / k)), float(np.mean(hits / n_T))"):
    return PERFECT.format(n_T=n_T, hits=hits, result=result)


def ild(unit="np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)", pairs="np.triu_indices(len(v), k=1)",
        result="np.mean(1 - np.sum(unit[a] * unit[b], axis=1))"):
    return ILD.format(unit=unit, pairs=pairs, result=result)


WRONG = {
    "ex2_1": [
        W("ignores the weights (the lesson's unweighted formula)", body=bias("np.sum(r - mu - b_u)", "reg + len(r)")),
        W("weights in the numerator only, the count of ratings below", body=bias(denominator="reg + len(r)")),
        W("the penalty weighted too: lambda times the sum of weights", body=bias(denominator="reg * np.sum(w) + np.sum(w)")),
        W("forgets the penalty", body=bias(denominator="np.sum(w)")),
        W("adds the user biases instead of subtracting them", body=bias(numerator="np.sum(w * (r - mu + b_u))")),
        W("the penalty in the numerator", body=bias(numerator="np.sum(w * (r - mu - b_u)) - reg", denominator="np.sum(w)")),
        W("the weighted mean rating minus mu, without the user biases", body=bias(numerator="np.sum(w * (r - mu))")),
        W("hard-codes the self-check's answer", body="return 0.3", target="hidden"),
        pretender("weighted_item_bias(r, b_u, w, mu, reg)", "_Anything(0.3)"),
    ],
    "ex2_2": [
        W("divides by the whole catalogue, the user's seen movies included",
          body=random(share="len(set(items) & C_u) / len(catalogue)")),
        W("counts test movies outside the catalogue as possible hits", body=random(share="len(set(items)) / len(C_u)")),
        W("the ratio of the totals instead of the mean over users", body=(
            "catalogue = set(train.item_id)\nseen = train.groupby('user_id').item_id.agg(set)\nhits = size = 0\n"
            "for u, items in test.groupby('user_id').item_id:\n    C_u = catalogue - seen.get(u, set())\n"
            "    hits += len(set(items) & C_u)\n    size += len(C_u)\nreturn hits / size")),
        W("catalogue of train and test together",
          body=random(catalogue="set(train.item_id) | set(test.item_id)")),
        W("k over the number of candidates (hits assumed)", body=random(share="10 / len(C_u)")),
        W("the share of the user's ratings that are in the test set",
          body=random(share="len(items) / (len(items) + len(seen.get(u, set())))")),
        W("hard-codes the self-check's answer", body="return 0.017817599409476", target="hidden"),
        pretender("random_precision(train, test)", "_Anything(0.017817599409476)"),
    ],
    "ex2_3": [
        W("a perfect list is all hits: precision and recall 1", body="return 1.0, 1.0"),
        W("precision min(k, |T|)/k, but recall 1", body=perfect(result="float(np.mean(hits / k)), 1.0")),
        W("hits = |T| without the cut at k", body=perfect(hits="n_T")),
        W("precision and recall swapped", body=perfect(result="float(np.mean(hits / n_T)), float(np.mean(hits / k))")),
        W("averages over test rows, not users (heavy users count more)",
          body=perfect(n_T='test.user_id.map(test.user_id.value_counts()).to_numpy()')),
        W("ratio of totals instead of the mean over users",
          body=perfect(result="float(hits.sum() / (k * len(n_T))), float(hits.sum() / n_T.sum())")),
        W("hard-codes the self-check's answer", body="return 0.899681866384, 0.611515842456", target="hidden"),
    ],
    "ex2_4": [
        W("counts each film paired with itself (the k x k mean, diagonal included)",
          body=ild(pairs="np.indices((len(v), len(v))).reshape(2, -1)")),
        W("the mean cosine similarity, not the distance", body=ild(result="np.mean(np.sum(unit[a] * unit[b], axis=1))")),
        W("1 - the raw dot product: rows not scaled to length 1", body=ild(unit="v")),
        W("the sum over pairs instead of the mean", body=ild(result="np.sum(1 - np.sum(unit[a] * unit[b], axis=1))")),
        W("divides by k squared instead of the number of pairs",
          body=ild(result="np.sum(1 - np.sum(unit[a] * unit[b], axis=1)) / len(v) ** 2")),
        W("the Euclidean distance between the unit vectors", body=ild(result="np.mean(np.linalg.norm(unit[a] - unit[b], axis=1))")),
        W("divides by zero for an empty row (NaN instead of distance 1)", body=ild(unit="v / norms"), target="hidden"),
        W("hard-codes the self-check's answer", body="return 0.684358858314", target="hidden"),
        pretender("ild(vectors)", "_Anything(0.684358858314)"),
    ],
}
