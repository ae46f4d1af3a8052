"""Small stand-ins shared by the evaluation tests (imported as ``evalkit``): a paper, a repository, a scripted judge."""

from __future__ import annotations

from pathlib import Path

from papercoder.llm import LLM, ScriptedProvider
from papercoder.paper import Paper, Section

PAPER = Paper(
    title="Prototype Networks for Tiny Classification",
    abstract="We classify points by the distance to class prototypes, learned with a contrastive loss.",
    sections=[
        Section("Method", "Each class prototype is the mean embedding of its support points. "
                          "The encoder is a two-layer MLP. The loss is the softmax over negative squared distances."),
        Section("Experiments", "We train with Adam, learning rate 0.001, batch size 32, for 10 epochs, "
                               "and report accuracy on the held-out split."),
        Section("Extra derivations", "Long appendix text. " * 50, appendix=True),
    ],
    captions=["Table 1: accuracy of prototype networks."],
)


def make_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


SMALL_REPO = {
    "model.py": "class PrototypeEncoder:\n    def forward(self, x):\n        return mlp(x)\n",
    "loss.py": "def prototype_loss(embeddings, prototypes):\n    distances = squared_distance(embeddings, prototypes)\n    return softmax(-distances)\n",
    "train.py": "def train(config):\n    optimizer = Adam(lr=config['learning_rate'])\n",
    "config.yaml": "learning_rate: 0.001\nbatch_size: 32\nepochs: 10\n",
    "README.md": "# Prototype networks\n",
}


def judge(replies, *, context_window: int | None = 128_000, concurrency: int = 4) -> LLM:
    """An LLM over a ScriptedProvider: ``replies`` is a list or a function of the messages."""
    return LLM(ScriptedProvider(replies=replies, context_window=context_window), concurrency=concurrency)
