"""The code of the scripted answers: a NumPy reproduction of examples/prototype-classifier.md.

It runs (``python main.py --smoke``) and reproduces Table 1 of the example paper. Kept as data
for run_answers.py, which hands each file to the coding stage as a model would.
"""

CODE = {
    'data.py': '''\
"""Synthetic Gaussian-mixture data of Section 2.1, standardised with training statistics."""

import numpy as np


def make_data(config: dict, seed: int):
    """Return x_train, y_train, x_test, y_test for one seed."""
    d = config["data"]
    rng = np.random.default_rng(seed)
    k, dim, informative = d["num_classes"], d["input_dim"], d["informative_dims"]
    means = np.zeros((k, dim))
    means[:, :informative] = rng.normal(0.0, d["mean_scale"], (k, informative))

    def draw(per_class: int):
        y = np.repeat(np.arange(k), per_class)
        x = means[y] + rng.normal(0.0, d["noise_std"], (len(y), dim))
        order = rng.permutation(len(y))
        return x[order], y[order]

    x_train, y_train = draw(d["train_per_class"])
    x_test, y_test = draw(d["test_per_class"])
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test
''',
    'model.py': '''\
"""The prototype classifier of Section 2.2: a linear embedding, class-mean prototypes and a
learned temperature tau = exp(s)."""

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class PrototypeClassifier:
    def __init__(self, input_dim: int, embed_dim: int, num_classes: int, seed: int, log_temperature: float = 0.0):
        rng = np.random.default_rng(seed + 1)
        self.W = rng.normal(0.0, 1.0 / np.sqrt(input_dim), (input_dim, embed_dim))
        self.s = float(log_temperature)
        self.num_classes = num_classes
        self.prototypes = np.zeros((num_classes, embed_dim))

    @property
    def temperature(self) -> float:
        return float(np.exp(self.s))

    def embed(self, x: np.ndarray) -> np.ndarray:
        return x @ self.W

    def fit_prototypes(self, x: np.ndarray, y: np.ndarray) -> None:
        e = self.embed(x)
        self.prototypes = np.stack([e[y == k].mean(axis=0) for k in range(self.num_classes)])

    def distances(self, x: np.ndarray) -> np.ndarray:
        e = self.embed(x)
        return ((e[:, None, :] - self.prototypes[None]) ** 2).sum(axis=-1)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return softmax(-self.distances(x) / self.temperature)

    def gradients(self, x: np.ndarray, y: np.ndarray, weight_decay: float):
        """Loss and gradients of Section 2.3, prototypes held constant."""
        e = self.embed(x)
        diff = e[:, None, :] - self.prototypes[None]
        d2 = (diff**2).sum(axis=-1)
        tau = self.temperature
        p = softmax(-d2 / tau)
        onehot = np.eye(self.num_classes)[y]
        n = len(y)
        loss = -np.log(p[np.arange(n), y] + 1e-12).mean() + 0.5 * weight_decay * (self.W**2).sum()
        g = (p - onehot) / n
        grad_e = (-2.0 / tau) * (g[:, :, None] * diff).sum(axis=1)
        grad_w = x.T @ grad_e + weight_decay * self.W
        grad_s = float((g * d2 / tau).sum())
        return loss, grad_w, grad_s
''',
    'optim.py': '''\
"""Adam for a list of NumPy parameters."""

import numpy as np


class Adam:
    def __init__(self, lr: float, beta1: float, beta2: float, eps: float):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, name: str, value, grad):
        """Return the updated value of parameter ``name``; call ``tick`` once per step first."""
        grad = np.asarray(grad, dtype=float)
        m = self.m.get(name, np.zeros_like(grad))
        v = self.v.get(name, np.zeros_like(grad))
        m = self.beta1 * m + (1 - self.beta1) * grad
        v = self.beta2 * v + (1 - self.beta2) * grad**2
        self.m[name], self.v[name] = m, v
        m_hat = m / (1 - self.beta1**self.t)
        v_hat = v / (1 - self.beta2**self.t)
        return value - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def tick(self) -> None:
        self.t += 1
''',
    'metrics.py': '''\
"""Accuracy, negative log-likelihood and expected calibration error (Section 2.4)."""

import numpy as np


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    return float((probs.argmax(axis=1) == y).mean())


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(probs[np.arange(len(y)), y] + 1e-12).mean())


def ece(probs: np.ndarray, y: np.ndarray, bins: int) -> float:
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        mask = (confidence > low) & (confidence <= high)
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)
''',
    'baselines.py': '''\
"""The nearest-centroid baseline of Section 2.5, in input space with tau = 1."""

import numpy as np

from model import softmax


def nearest_centroid_probs(x_train, y_train, x_test, num_classes: int) -> np.ndarray:
    centroids = np.stack([x_train[y_train == k].mean(axis=0) for k in range(num_classes)])
    d2 = ((x_test[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    return softmax(-d2)
''',
    'train.py': '''\
"""Full-batch training of the prototype classifier (Section 2.3)."""

from model import PrototypeClassifier
from optim import Adam


def train(config: dict, x, y, seed: int, learn_temperature: bool, epochs: int | None = None) -> PrototypeClassifier:
    m, t = config["model"], config["training"]
    model = PrototypeClassifier(
        input_dim=x.shape[1],
        embed_dim=m["embed_dim"],
        num_classes=config["data"]["num_classes"],
        seed=seed,
        log_temperature=m["initial_log_temperature"],
    )
    adam = Adam(t["learning_rate"], t["beta1"], t["beta2"], t["eps"])
    for _ in range(epochs if epochs is not None else t["epochs"]):
        model.fit_prototypes(x, y)
        _, grad_w, grad_s = model.gradients(x, y, t["weight_decay"])
        adam.tick()
        model.W = adam.step("W", model.W, grad_w)
        if learn_temperature:
            model.s = float(adam.step("s", model.s, grad_s))
    model.fit_prototypes(x, y)
    return model
''',
    'main.py': '''\
"""Runs the three methods of Table 1 over the configured seeds and prints mean and spread."""

import argparse

import numpy as np
import yaml

from baselines import nearest_centroid_probs
from data import make_data
from metrics import accuracy, ece, nll
from train import train


def evaluate(probs, y, bins):
    return accuracy(probs, y), nll(probs, y), ece(probs, y, bins)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--smoke", action="store_true", help="one seed, five epochs")
    args = parser.parse_args()
    with open(args.config) as handle:
        config = yaml.safe_load(handle)
    seeds = config["evaluation"]["seeds"][:1] if args.smoke else config["evaluation"]["seeds"]
    epochs = 5 if args.smoke else None
    bins = config["evaluation"]["ece_bins"]
    results = {"nearest centroid": [], "fixed temperature": [], "learned temperature": []}
    for seed in seeds:
        x_train, y_train, x_test, y_test = make_data(config, seed)
        k = config["data"]["num_classes"]
        results["nearest centroid"].append(evaluate(nearest_centroid_probs(x_train, y_train, x_test, k), y_test, bins))
        for name, learn in (("fixed temperature", False), ("learned temperature", True)):
            model = train(config, x_train, y_train, seed, learn, epochs)
            results[name].append(evaluate(model.predict_proba(x_test), y_test, bins))
    print(f"{'method':<22}{'accuracy':>16}{'NLL':>16}{'ECE':>16}")
    for name, rows in results.items():
        mean, std = np.mean(rows, axis=0), np.std(rows, axis=0)
        cells = "".join(f"{m:>9.3f} ({s:.3f})" for m, s in zip(mean, std))
        print(f"{name:<22}{cells}")


if __name__ == "__main__":
    main()
''',
}

CONFIG = '''\
data:
  num_classes: 4
  input_dim: 16
  informative_dims: 4
  mean_scale: 1.5
  noise_std: 1.0
  train_per_class: 200
  test_per_class: 100
model:
  embed_dim: 8
  initial_log_temperature: 0.0
training:
  optimizer: adam
  learning_rate: 0.01
  beta1: 0.9
  beta2: 0.999
  eps: 1.0e-8
  epochs: 200
  weight_decay: 1.0e-4
evaluation:
  ece_bins: 15
  seeds: [0, 1, 2, 3, 4]
'''
