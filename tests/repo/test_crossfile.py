"""The cross-file check: calls and attributes of the repository's own code against its definitions."""

from __future__ import annotations

from pathlib import Path

from papercoder.repo.checks import check_repository


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return tmp_path


def _interface(tmp_path: Path, files: dict[str, str]) -> list[str]:
    return [f"{f.file}:{f.line}: {f.message}" for f in check_repository(_repo(tmp_path, files)) if f.kind == "interface"]


MODEL = '''
class Encoder:
    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.1):
        self.d_model = d_model
        self.layers = []

    def encode(self, x, mask=None):
        return x

    @staticmethod
    def build(config):
        return Encoder(config["d"], config["h"])


def train(model, data, *, epochs: int):
    return model


def loose(*args, **kwargs):
    return args
'''


def test_matching_calls_give_no_finding(tmp_path):
    main = '''
import model as m
from model import Encoder, train, loose

enc = Encoder(512, 8, dropout=0.2)
enc.encode([1], mask=None)
enc.d_model
enc.layers.append(1)
Encoder.build({})
train(enc, [], epochs=3)
m.train(enc, data=[], epochs=1)
loose(1, 2, 3, x=4)
args = (1, 2)
Encoder(*args)
'''
    assert _interface(tmp_path, {"model.py": MODEL, "main.py": main}) == []


def test_wrong_arity_missing_argument_and_unknown_keyword(tmp_path):
    main = '''from model import Encoder, train

enc = Encoder(512)
enc2 = Encoder(512, 8, 0.1, 4)
train(enc, [], epochs=1, lr=0.1)
train(enc, [])
'''
    found = _interface(tmp_path, {"model.py": MODEL, "main.py": main})
    assert any("main.py:3:" in f and "n_heads" in f for f in found), found
    assert any("main.py:4:" in f and "at most 3 positional" in f for f in found), found
    assert any("main.py:5:" in f and "'lr'" in f for f in found), found
    assert any("main.py:6:" in f and "epochs" in f for f in found), found
    assert len(found) == 4, found


def test_method_calls_and_attributes_on_instances_of_local_classes(tmp_path):
    main = '''from model import Encoder

def run():
    enc = Encoder(1, 2)
    enc.encode()
    enc.decode([1])
    return enc.width
'''
    found = _interface(tmp_path, {"model.py": MODEL, "main.py": main})
    assert any(":5:" in f and "'x'" in f for f in found), found
    assert any(":6:" in f and "no attribute 'decode'" in f for f in found), found
    assert any(":7:" in f and "no attribute 'width'" in f for f in found), found


def test_module_attribute_that_does_not_exist(tmp_path):
    main = "import model\nmodel.Decoder(1)\nmodel.train\n"
    found = _interface(tmp_path, {"model.py": MODEL, "main.py": main})
    assert len(found) == 1 and "main.py:2:" in found[0] and "'Decoder'" in found[0], found


def test_attributes_held_on_self_are_followed(tmp_path):
    trainer = '''from model import Encoder

class Trainer:
    def __init__(self, config):
        self.model = Encoder(config["d"], config["h"])

    def step(self, batch):
        out = self.model.encode(batch, None, 3)
        return self.model.forward(out)
'''
    found = _interface(tmp_path, {"model.py": MODEL, "trainer.py": trainer})
    assert any("trainer.py:8:" in f and "at most 2 positional" in f for f in found), found
    assert any("trainer.py:9:" in f and "'forward'" in f for f in found), found


def test_library_base_classes_and_unknowns_are_left_alone(tmp_path):
    model = '''import torch.nn as nn

class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.width = width

    def forward(self, x):
        return x

class Plain(SomethingUnknown):
    pass
'''
    main = '''from model import Net, Plain

net = Net(4)
net.to("cpu")
net.parameters()
net(1)
net.forward(1, 2)
Plain(1, 2, 3).anything
'''
    found = _interface(tmp_path, {"model.py": model, "main.py": main})
    assert len(found) == 1 and "main.py:7:" in found[0], found


def test_reassigned_names_and_decorated_functions_are_not_guessed(tmp_path):
    model = '''import functools

class A:
    def __init__(self, x):
        pass

class B:
    def __init__(self):
        pass

def deco(f):
    return f

@deco
def wrapped(a):
    return a
'''
    main = '''from model import A, B, wrapped

obj = A(1)
obj = B()
obj.missing()
wrapped(1, 2, 3)
'''
    assert _interface(tmp_path, {"model.py": model, "main.py": main}) == []


def test_dataclass_fields_and_inherited_init(tmp_path):
    model = '''from dataclasses import dataclass

@dataclass
class Config:
    lr: float
    steps: int = 10

class Base:
    def __init__(self, size):
        self.size = size

    def shape(self):
        return self.size

class Child(Base):
    pass
'''
    main = '''from model import Config, Child

Config(0.1, 5)
Config()
c = Child(3)
c.shape()
c.size
c.other
Child()
'''
    found = _interface(tmp_path, {"model.py": model, "main.py": main})
    assert any(":4:" in f and "'lr'" in f for f in found), found
    assert any(":8:" in f and "'other'" in f for f in found), found
    assert any(":9:" in f and "'size'" in f for f in found), found
    assert len(found) == 3, found


def test_packages_and_relative_imports(tmp_path):
    files = {
        "src/__init__.py": "",
        "src/models/__init__.py": "",
        "src/models/net.py": "def build(width, depth):\n    return width\n",
        "src/train.py": "from .models.net import build\nfrom src.models import net\nbuild(1)\nnet.build(1, 2, 3)\n",
    }
    found = _interface(tmp_path, files)
    assert any("src/train.py:3:" in f and "depth" in f for f in found), found
    assert any("src/train.py:4:" in f and "at most 2" in f for f in found), found
