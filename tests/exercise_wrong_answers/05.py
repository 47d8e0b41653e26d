"""Typical wrong answers to lesson 05's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W

Y_HAT = "Y_hat = nn.sigmoid(X @ W.T + b)\n"
DELTA = Y_HAT + "Delta = 2 * (Y_hat - T) / len(X) * Y_hat * (1 - Y_hat)\n"
GATES = ("z = x_t @ W_x.T + h_prev @ W_h.T + b\n"
         "z_i, z_f, z_g, z_o = np.split(z, 4, axis=1)\n")
SIGMOID_TANH = GATES + "i_t, f_t, g_t, o_t = nn.sigmoid(z_i), nn.sigmoid(z_f), np.tanh(z_g), nn.sigmoid(z_o)\n"

WRONG = {
    "ex5_1": [
        W("forgets the ReLU", body="return X @ W.T + b"),
        W("forgets the bias", body="return np.maximum(X @ W.T, 0.0)"),
        W("a sigmoid instead of the ReLU", body="return 1 / (1 + np.exp(-(X @ W.T + b)))"),
        W("W without the transpose (the Keras layout)", body="return np.maximum(X @ W + b, 0.0)"),
        W("calls the course's layer instead of writing the forward pass", body="return nn.Dense(W, b, 'relu')(X)",
          weak={"ex5_1_check": "the values are right: a test cannot see where they come from",
                "ex5_1_hidden": "the values are right; the test could make nn.Dense raise while it calls dense_forward"}),
    ],
    "ex5_2": [
        W("forgets the tanh", body="return x_t @ W_x.T + h_prev @ W_h.T + b"),
        W("ReLU instead of tanh", body="return np.maximum(x_t @ W_x.T + h_prev @ W_h.T + b, 0.0)"),
        W("ignores the previous state", body="return np.tanh(x_t @ W_x.T + b)"),
        W("forgets the bias", body="return np.tanh(x_t @ W_x.T + h_prev @ W_h.T)"),
    ],
    "ex5_3": [
        W("padding on one side only", body="return (L + padding - K) // stride + 1"),
        W("forgets the + 1", body="return (L + 2 * padding - K) // stride"),
        W("rounds up", body="return -(-(L + 2 * padding - K) // stride) + 1"),
        W("returns a float", body="return (L + 2 * padding - K) / stride + 1"),
    ],
    "ex5_4": [
        W("forgets the activation's derivative (Delta = G)", body=Y_HAT + (
            "Delta = 2 * (Y_hat - T) / len(X)\n"
            "return Delta.T @ X, Delta.sum(axis=0), Delta @ W")),
        W("sigma' taken at the pre-activation: z (1 - z) instead of sigma (1 - sigma)", body=(
            "Z = X @ W.T + b\n"
            "Delta = 2 * (nn.sigmoid(Z) - T) / len(X) * Z * (1 - Z)\n"
            "return Delta.T @ X, Delta.sum(axis=0), Delta @ W")),
        W("dL/dW transposed: X.T @ Delta, Keras's (in, out) layout", body=DELTA + (
            "return X.T @ Delta, Delta.sum(axis=0), Delta @ W")),
        W("dL/dX with W transposed: Delta @ W.T", body=DELTA + (
            "return Delta.T @ X, Delta.sum(axis=0), Delta @ W.T")),
        W("sums over the batch instead of averaging (no 1/n)", body=Y_HAT + (
            "Delta = 2 * (Y_hat - T) * Y_hat * (1 - Y_hat)\n"
            "return Delta.T @ X, Delta.sum(axis=0), Delta @ W")),
        W("averages over every entry, nn.mse's 1/(n d_out)", body=Y_HAT + (
            "Delta = nn.mse_grad(Y_hat, T) * Y_hat * (1 - Y_hat)\n"
            "return Delta.T @ X, Delta.sum(axis=0), Delta @ W")),
        W("db without the sum over the batch (one row per example)", body=DELTA + (
            "return Delta.T @ X, Delta, Delta @ W")),
        W("db averaged over the batch (1/n taken twice)", body=DELTA + (
            "return Delta.T @ X, Delta.mean(axis=0), Delta @ W")),
        W("the gradient of the loss with the wrong sign (T - Y_hat)", body=Y_HAT + (
            "Delta = 2 * (T - Y_hat) / len(X) * Y_hat * (1 - Y_hat)\n"
            "return Delta.T @ X, Delta.sum(axis=0), Delta @ W")),
        W("hard-codes the self-check's answer", target="hidden", body=(
            "return (np.array([[0.0981598159, 0.1884046421, 0.0485787781], [0.1290738899, 0.0506667071, -0.0576054824]]),\n"
            "        np.array([0.0110904898, -0.0182077027]),\n"
            "        np.array([[-0.0181614147, 0.0339831427, 0.0084669429], [0.0197006115, -0.0355366277, -0.0191341599],\n"
            "                  [0.0115307594, -0.0165156572, -0.0433285819], [-0.0053895474, 0.0045290949, 0.0441802263]]))")),
    ],
    "ex5_5": [
        W("the blog post's step: ReLU for every gate, the candidate and the output", body=GATES + (
            "i_t, f_t, g_t, o_t = nn.relu(z_i), nn.relu(z_f), nn.relu(z_g), nn.relu(z_o)\n"
            "c_t = f_t * c_prev + i_t * g_t\n"
            "return o_t * nn.relu(c_t), c_t")),
        W("sigmoid gates, but the candidate and the output still through ReLU", body=GATES + (
            "i_t, f_t, g_t, o_t = nn.sigmoid(z_i), nn.sigmoid(z_f), nn.relu(z_g), nn.sigmoid(z_o)\n"
            "c_t = f_t * c_prev + i_t * g_t\n"
            "return o_t * nn.relu(c_t), c_t")),
        W("sigmoid everywhere, the candidate and the output included", body=GATES + (
            "i_t, f_t, g_t, o_t = nn.sigmoid(z_i), nn.sigmoid(z_f), nn.sigmoid(z_g), nn.sigmoid(z_o)\n"
            "c_t = f_t * c_prev + i_t * g_t\n"
            "return o_t * nn.sigmoid(c_t), c_t")),
        W("tanh everywhere, the gates included", body=GATES + (
            "i_t, f_t, g_t, o_t = np.tanh(z_i), np.tanh(z_f), np.tanh(z_g), np.tanh(z_o)\n"
            "c_t = f_t * c_prev + i_t * g_t\n"
            "return o_t * np.tanh(c_t), c_t")),
        W("the forget gate applied to the candidate, the input gate to the old memory", body=SIGMOID_TANH + (
            "c_t = i_t * c_prev + f_t * g_t\n"
            "return o_t * np.tanh(c_t), c_t")),
        W("the forget gate applied to the candidate too: f (c_prev + i g)", body=SIGMOID_TANH + (
            "c_t = f_t * (c_prev + i_t * g_t)\n"
            "return o_t * np.tanh(c_t), c_t")),
        W("h_t computed before c_t is updated (from c_prev)", body=SIGMOID_TANH + (
            "h_t = o_t * np.tanh(c_prev)\n"
            "c_t = f_t * c_prev + i_t * g_t\n"
            "return h_t, c_t")),
        W("h_t without the tanh of the cell state", body=SIGMOID_TANH + (
            "c_t = f_t * c_prev + i_t * g_t\n"
            "return o_t * c_t, c_t")),
        W("gates read in the order i, f, o, g", body=(
            "z = x_t @ W_x.T + h_prev @ W_h.T + b\n"
            "z_i, z_f, z_o, z_g = np.split(z, 4, axis=1)\n"
            "i_t, f_t, g_t, o_t = nn.sigmoid(z_i), nn.sigmoid(z_f), np.tanh(z_g), nn.sigmoid(z_o)\n"
            "c_t = f_t * c_prev + i_t * g_t\n"
            "return o_t * np.tanh(c_t), c_t")),
        W("returns (c_t, h_t), the two states swapped", body=SIGMOID_TANH + (
            "c_t = f_t * c_prev + i_t * g_t\n"
            "return c_t, o_t * np.tanh(c_t)")),
        W("calls the course's LSTM step instead of fixing the function",
          body="return nn.LSTM(W_x, W_h, b).step(x_t, h_prev, c_prev)",
          weak={"ex5_5_check": "the values are right: a test cannot see where they come from",
                "ex5_5_hidden": "the values are right: a test cannot see where they come from"}),
    ],
}
