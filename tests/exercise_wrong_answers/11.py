"""Typical wrong answers to lesson 11's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W, pretender

LOG_PI = ("log_pi = logits - logits.max(axis=1, keepdims=True)\n"
          "log_pi = log_pi - np.log(np.exp(log_pi).sum(axis=1, keepdims=True))\n")
NLL = "nll = -(x * log_pi).sum(axis=1)\n"
KL = "kl = 0.5 * (mu ** 2 + np.exp(logvar) - logvar - 1).sum(axis=1)\n"
RETURN = "return float((nll + beta * kl).mean())"

WRONG = {
    "ex11_1": [
        W("the mean over every entry: the blanks count as ratings of 0",
          body="return float(((np.asarray(R) - np.asarray(R_hat)) ** 2).mean())"),
        W("masked errors divided by all entries (R.size), not by the observed ones",
          body="m = (np.asarray(R) > 0).astype(float)\n"
               "return float(((np.asarray(R) - np.asarray(R_hat)) ** 2 * m).sum() / m.size)"),
        W("the sum of squared errors, not their mean",
          body="m = (np.asarray(R) > 0).astype(float)\nreturn float(((np.asarray(R) - np.asarray(R_hat)) ** 2 * m).sum())"),
        W("the RMSE instead of the MSE",
          body="m = np.asarray(R) > 0\nreturn float(np.sqrt(np.mean((np.asarray(R)[m] - np.asarray(R_hat)[m]) ** 2)))"),
        W("masks by the reconstruction (R_hat > 0) instead of the ratings",
          body="m = (np.asarray(R_hat) > 0).astype(float)\n"
               "return float(((np.asarray(R) - np.asarray(R_hat)) ** 2 * m).sum() / m.sum())"),
        W("absolute errors instead of squared", body="m = np.asarray(R) > 0\n"
          "return float(np.mean(np.abs(np.asarray(R)[m] - np.asarray(R_hat)[m])))"),
        W("hard-codes the self-check's value", target="hidden", body="return 0.5625"),
        pretender("masked_loss(R, R_hat)"),
    ],
    "ex11_2": [
        W("forgets beta: the KL at full weight", body=LOG_PI + NLL + KL + "return float((nll + kl).mean())"),
        W("no KL term at all", body=LOG_PI + NLL + "return float(nll.mean())"),
        W("the KL without its 1/2", body=LOG_PI + NLL + "kl = (mu ** 2 + np.exp(logvar) - logvar - 1).sum(axis=1)\n"
          + RETURN),
        W("reads logvar as log(sigma): exp(2 logvar) in the KL", body=LOG_PI + NLL
          + "kl = 0.5 * (mu ** 2 + np.exp(2 * logvar) - 2 * logvar - 1).sum(axis=1)\n" + RETURN),
        W("forgets the -1 in the KL", body=LOG_PI + NLL + "kl = 0.5 * (mu ** 2 + np.exp(logvar) - logvar).sum(axis=1)\n"
          + RETURN),
        W("the softmax over the users (axis 0) instead of the films", body=(
            "log_pi = logits - np.log(np.exp(logits).sum(axis=0, keepdims=True))\n") + NLL + KL + RETURN),
        W("the mean over films instead of the sum", body=LOG_PI + "nll = -(x * log_pi).mean(axis=1)\n" + KL + RETURN),
        W("the sum over users instead of the mean", body=LOG_PI + NLL + KL + "return float((nll + beta * kl).sum())"),
        W("logits used as log-probabilities (no softmax)", body="log_pi = logits\n" + NLL + KL + RETURN),
        W("the KL subtracted (an ELBO sign slip)", body=LOG_PI + NLL + KL + "return float((nll - beta * kl).mean())"),
        W("hard-codes the self-check's value", target="hidden", body="return 1.7374"),
        pretender("vae_loss(logits, x, mu, logvar, beta)"),
    ],
    "ex11_3": [
        W("no cap: rises forever", body="return float(step / total_anneal_steps)"),
        W("scaled to reach the cap at T (beta_max * t / T), not the paper's schedule",
          body="return float(min(beta_max, beta_max * step / total_anneal_steps))"),
        W("off by one update: (t + 1) / T", body="return float(min(beta_max, (step + 1) / total_anneal_steps))"),
        W("max instead of min", body="return float(max(beta_max, step / total_anneal_steps))"),
        W("the cap from the start (no annealing)", body="return float(beta_max)"),
        W("integer division", body="return float(min(beta_max, step // total_anneal_steps))"),
        W("hard-codes the self-check's values", target="hidden", body="return 0.1 if step == 100 else 0.2"),
        pretender("kl_beta(step, beta_max, total_anneal_steps)"),
    ],
}
