"""Typical wrong answers to lesson 05's exercises (run by tests/test_exercise_strength.py)."""

from course.grading.strength import WrongAnswer as W

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
}
