"""Static checks find what a planted bug breaks, and stay quiet on a sound repository."""

import json
from pathlib import Path

from papercoder.repo.checks import check_repository, findings_json, format_findings
from papercoder.repo.importmap import add_requirement, covered, distribution_for, read_requirements

SOUND = {
    "main.py": (
        "import yaml\nimport numpy as np\nfrom model import Net\nfrom utils.io import load\n\n"
        "def main():\n    config = yaml.safe_load(open('config.yaml'))\n"
        "    lr = config['training']['lr']\n    steps = config.get('training', {}).get('steps', 3)\n"
        "    train = config['training']\n    print(train['lr'], Net(lr).forward(np.zeros(2)), load(), steps)\n\n"
        "if __name__ == '__main__':\n    main()\n"
    ),
    "model.py": "class Net:\n    def __init__(self, lr):\n        self.lr = lr\n\n    def forward(self, x):\n        return x * self.lr\n",
    "utils/__init__.py": "",
    "utils/io.py": "import json\n\ntry:\n    import ujson\nexcept ImportError:\n    ujson = None\n\ndef load():\n    return json.loads('1')\n",
    "config.yaml": "training:\n  lr: 0.1\n  steps: 3\n",
    "requirements.txt": "numpy>=1.24\nPyYAML==6.0  # config\n",
    "reproduce.sh": "#!/bin/bash\nset -e\npython main.py --config config.yaml > out/log.yaml\n",
}


def make_repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def kinds(findings):
    return sorted((f.file, f.kind) for f in findings)


def test_sound_repository_has_no_findings(tmp_path):
    assert check_repository(make_repo(tmp_path, SOUND)) == []


def test_each_planted_problem_is_found(tmp_path):
    files = dict(SOUND)
    files["model.py"] = SOUND["model.py"] + "\ndef broken(:\n    pass\n"
    files["main.py"] = SOUND["main.py"].replace("from model import Net", "from model import Net\nfrom utils.io import lode\nimport modell")
    files["main.py"] = files["main.py"].replace("lr = config['training']['lr']", "lr = config['training']['learning_rate']\n    x = undefined_thing + 1")
    files["utils/io.py"] = SOUND["utils/io.py"] + "import sklearn.metrics\nimport torch\n"
    files["reproduce.sh"] = SOUND["reproduce.sh"] + "python evaluate.py\n"
    findings = check_repository(make_repo(tmp_path, files))
    text = format_findings(findings)
    assert ("model.py", "syntax") in kinds(findings)
    assert "'lode' is not defined in utils/io.py (did you mean 'load'?)" in text
    assert "no module 'modell'" in text
    assert "undefined name 'undefined_thing'" in text
    assert "no key 'learning_rate'" in text
    assert "'sklearn' is imported but its distribution 'scikit-learn'" in text
    assert "'torch' is imported" in text
    assert "'evaluate.py' is named here" in text
    assert "ujson" not in text  # guarded by try/except ImportError
    data = json.loads(findings_json(findings))
    assert {"file", "line", "kind", "message"} == set(data[0])
    syntax = [f for f in findings if f.kind == "syntax"][0]
    assert syntax.line == 8


def test_relative_and_src_layout_imports(tmp_path):
    files = {
        "src/pkg/__init__.py": "",
        "src/pkg/a.py": "from .b import helper\nfrom . import b\nfrom .c import nothing\n",
        "src/pkg/b.py": "def helper():\n    return 1\n",
        "run.py": "from pkg.a import helper\nfrom pkg.b import helper as h\n",
    }
    findings = check_repository(make_repo(tmp_path, files))
    assert len(findings) == 1 and findings[0].message.startswith("no module 'pkg.c' in the repository")


def test_config_aliases_and_get_defaults(tmp_path):
    files = {
        "config.yaml": "model:\n  hidden: 8\n",
        "t.py": "def f(cfg):\n    m = cfg['model']\n    return m['hidden'], m['depth'], cfg.get('seed', 0), self_free(cfg)\n\ndef self_free(c):\n    return c\n",
    }
    messages = [f.message for f in check_repository(make_repo(tmp_path, files))]
    assert any("['model']['depth']" in m and "no key 'depth'" in m for m in messages)
    assert any("['seed']" in m and ".get and a default" in m for m in messages)
    assert not any("hidden" in m for m in messages)


def test_import_names_map_to_distributions(tmp_path):
    assert distribution_for("sklearn.metrics") == "scikit-learn"
    assert distribution_for("cv2") == "opencv-python"
    assert distribution_for("yaml") == "pyyaml"
    assert distribution_for("PIL.Image") == "pillow"
    assert distribution_for("some_pkg") == "some-pkg"
    req = tmp_path / "requirements.txt"
    req.write_text("# deps\nscikit_learn>=1\n-r other.txt\nopencv-python-headless\ntorch[cpu]==2.1 ; python_version>'3'\n")
    names = read_requirements(req)
    assert names == {"scikit-learn", "opencv-python-headless", "torch"}
    assert covered("sklearn", names) and covered("cv2", names) and covered("torch.nn", names)
    assert not covered("numpy", names)
    assert add_requirement(tmp_path, "numpy") and not add_requirement(tmp_path, "NumPy")
    assert req.read_text().endswith("\nnumpy\n")


def test_script_folder_siblings_and_pyproject_dependencies(tmp_path):
    files = {
        "src/main.py": "import numpy\nfrom model import Net\nfrom helpers import nothing_here\n",
        "src/model.py": "class Net:\n    pass\n",
        "src/helpers.py": "def something():\n    return 1\n",
        "pyproject.toml": "[project]\nname = 'x'\ndependencies = ['numpy>=1']\n",
    }
    findings = check_repository(make_repo(tmp_path, files))
    assert [(f.file, f.kind) for f in findings] == [("src/main.py", "local-import")]
    assert "'nothing_here' is not defined in src/helpers.py" in findings[0].message


def test_a_variable_holding_a_config_section_is_not_a_false_alarm(tmp_path):
    files = {
        "config.yaml": "model:\n  hidden: 8\n  layers: [{width: 4}]\ntraining:\n  lr: 0.1\n",
        "model.py": "class Net:\n    def __init__(self, cfg):\n        self.h = cfg['hidden']\n        self.w = cfg['widht']\n",
        "main.py": "import yaml\nconfig = yaml.safe_load('')\nnet = config['model']['hiden']\n",
    }
    messages = sorted(f.message for f in check_repository(make_repo(tmp_path, files)) if f.kind == "config-key")
    assert len(messages) == 2
    assert "config['model']['hiden'] is read but config.yaml has no key 'hiden' there" == messages[0]
    assert "no key 'widht' at the top level or in any section" in messages[1]


def test_an_empty_module_is_a_finding_but_an_empty_init_is_not(tmp_path):
    repo = make_repo(tmp_path, {"main.py": "  \n", "pkg/__init__.py": "", "pkg/a.py": "X = 1\n"})
    found = check_repository(repo)
    assert [(f.file, f.kind) for f in found] == [("main.py", "empty-file")]


import pytest  # noqa: E402


@pytest.mark.parametrize(
    "config",
    [
        "data: &a {self: *a}\n",  # refers to itself
        "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)),  # billion laughs
    ],
)
def test_a_hostile_config_yaml_is_a_finding_not_a_hang_or_a_crash(tmp_path, config):
    repo = make_repo(tmp_path, {"main.py": "import yaml\nconfig = yaml.safe_load(open('config.yaml'))\nprint(config['x'])\n",
                                "config.yaml": config, "requirements.txt": "PyYAML\n"})
    found = check_repository(repo)
    assert any(f.file == "config.yaml" and f.kind == "syntax" and "alias" in f.message for f in found)
