"""Which pip distribution provides an import name, and what a ``requirements.txt`` covers.

Most distributions install a module of their own name; the exceptions that ML code meets every
day are listed here as data (``sklearn`` comes from ``scikit-learn``, ``cv2`` from
``opencv-python``...).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from papercoder.repo.paths import resolve_inside, write_inside

# import name -> distribution name, where they differ
IMPORT_TO_DISTRIBUTION: dict[str, str] = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "opencv-python",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "attr": "attrs",
    "Crypto": "pycryptodome",
    "google.protobuf": "protobuf",
    "jwt": "pyjwt",
    "serial": "pyserial",
    "usb": "pyusb",
    "OpenGL": "pyopengl",
    "magic": "python-magic",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "fitz": "pymupdf",
    "Levenshtein": "python-levenshtein",
    "faiss": "faiss-cpu",
    "mpl_toolkits": "matplotlib",
    "pkg_resources": "setuptools",
    "umap": "umap-learn",
    "igraph": "python-igraph",
    "Bio": "biopython",
    "hydra": "hydra-core",
    "git": "gitpython",
    "zmq": "pyzmq",
    "absl": "absl-py",
    # machine learning: some differ from their import name, the rest are listed to say they were checked
    "tensorflow_datasets": "tensorflow-datasets",
    "tensorflow_probability": "tensorflow-probability",
    "torch_geometric": "torch-geometric",
    "sentence_transformers": "sentence-transformers",
    "pytorch_lightning": "pytorch-lightning",
    "stable_baselines3": "stable-baselines3",
    "mujoco_py": "mujoco-py",
    "gym": "gym",
    "gymnasium": "gymnasium",
    "torch": "torch",
    "torchvision": "torchvision",
    "torchaudio": "torchaudio",
    "transformers": "transformers",
    "datasets": "datasets",
    "accelerate": "accelerate",
    "timm": "timm",
    "einops": "einops",
    "jax": "jax",
    "flax": "flax",
    "optax": "optax",
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "matplotlib": "matplotlib",
    "seaborn": "seaborn",
    "tqdm": "tqdm",
    "wandb": "wandb",
    "tensorboard": "tensorboard",
}

# distributions that also provide other import names (a requirement on the key covers them)
_ALSO_PROVIDES: dict[str, set[str]] = {
    "torch": {"functorch"},
    "tensorflow": {"keras", "tensorboard"},
    "matplotlib": {"mpl_toolkits", "pylab"},
    "setuptools": {"pkg_resources", "_distutils_hack"},
    "opencv-python-headless": {"cv2"},
    "opencv-contrib-python": {"cv2"},
    "opencv-contrib-python-headless": {"cv2"},
    "pytorch-lightning": {"lightning_fabric"},
    "faiss-gpu": {"faiss"},
    "pillow-simd": {"PIL"},
    "tf-keras": {"keras"},
    "fpdf2": {"fpdf"},
}

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """Canonical form of a distribution name (PEP 503): lower case, runs of -_. become -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_stdlib(top_level: str) -> bool:
    """Whether ``top_level`` is a standard-library module (or a built-in one)."""
    return top_level in sys.stdlib_module_names or top_level in sys.builtin_module_names or top_level == "__future__"


def distribution_for(import_name: str) -> str:
    """The distribution to ``pip install`` for ``import_name`` (a dotted or top-level name)."""
    parts = import_name.split(".")
    for k in range(len(parts), 0, -1):
        dist = IMPORT_TO_DISTRIBUTION.get(".".join(parts[:k]))
        if dist:
            return dist
    return normalize(parts[0])


def read_requirements(path: Path) -> set[str]:
    """Normalised distribution names listed in a requirements file (options and URLs skipped)."""
    if not path.is_file():
        return set()
    names = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "http:", "https:", "git+")):
            continue
        if "#egg=" in line:
            names.add(normalize(line.split("#egg=", 1)[1]))
            continue
        match = _NAME.match(line)
        if match:
            names.add(normalize(match.group(1).split("[", 1)[0]))
    return names


def declared_dependencies(repo: Path) -> set[str]:
    """Normalised names from ``requirements.txt`` and, when present, ``pyproject.toml``."""
    names = read_requirements(repo / "requirements.txt")
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file():
        try:
            import tomllib  # Python 3.11+
        except ModuleNotFoundError:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        try:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            project = {}
        specs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            specs += list(extra)
        for spec in specs:
            match = _NAME.match(str(spec))
            if match:
                names.add(normalize(match.group(1)))
    return names


def covered(import_name: str, requirements: set[str]) -> bool:
    """Whether a set of normalised requirement names provides ``import_name``."""
    top = import_name.split(".")[0]
    if normalize(distribution_for(import_name)) in requirements or normalize(top) in requirements:
        return True
    return any(top in provided for dist, provided in _ALSO_PROVIDES.items() if normalize(dist) in requirements)


def add_requirement(repo: Path, distribution: str, filename: str = "requirements.txt") -> bool:
    """Append ``distribution`` to the repository's requirements file unless listed; True when added."""
    path = resolve_inside(repo, filename)
    if normalize(distribution) in read_requirements(path):
        return False
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    write_inside(repo, filename, text + distribution + "\n")
    return True
