"""Figures of a LaTeX paper: the files its figure environments include, as images.

``\\includegraphics{name}`` is looked up as LaTeX would: in the paper's folder and the folders
``\\graphicspath`` names, with or without an extension. PNG and JPEG files are used as they
are (bounded); PDF figures are rendered with PDFium. EPS needs Ghostscript, a system binary
papercoder does not require: such a figure is skipped with a warning, unless the folder also
holds the PDF that ``epstopdf`` makes of it. A figure with several files (subfigures) becomes
one image of its panels side by side. Nothing outside the paper's folder is read.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from papercoder.paper.figures import MAX_FILE_BYTES, Figure, make_figure, open_image
from papercoder.paper.texsource import braced

EXTENSIONS = (".pdf", ".png", ".jpg", ".jpeg", ".eps")  # the order pdflatex tries them in, EPS last
TARGET_EDGE = 1400.0


def graphics_folders(flat: str, root: Path) -> list[Path]:
    """The paper's folder, then each folder ``\\graphicspath{{a/}{b/}}`` names (inside the paper's folder)."""
    folders = [root]
    match = re.search(r"\\graphicspath\s*\{", flat)
    if match:
        inner, _ = braced(flat, match.end() - 1)
        for name in re.findall(r"\{([^}]*)\}", inner):
            folder = (root / name.strip()).resolve()
            if folder.is_dir() and folder.is_relative_to(root.resolve()) and folder not in folders:
                folders.append(folder)
    return folders


def find_graphic(name: str, folders: list[Path], root: Path) -> Path | None:
    """The file ``name`` means, as pdflatex finds it; never a file outside ``root``."""
    base = root.resolve()
    candidates = [name] if Path(name).suffix.lower() in EXTENSIONS else [name + ext for ext in EXTENSIONS] + [name]
    for folder in folders:
        for candidate in candidates:
            path = folder / candidate
            if path.is_file() and path.resolve().is_relative_to(base):
                if path.suffix.lower() == ".eps":
                    converted = path.with_name(path.stem + "-eps-converted-to.pdf")
                    return converted if converted.is_file() and converted.resolve().is_relative_to(base) else path
                return path
    return None


def _pdf_image(path: Path, target_edge: float = TARGET_EDGE) -> tuple[Any, str | None]:
    try:
        import pypdfium2 as pdfium
    except ImportError:
        return None, f"{path.name} is a PDF figure and pypdfium2 is not installed (pip install pypdfium2)"
    try:
        document = pdfium.PdfDocument(str(path))
        try:
            page = document[0]
            width, height = page.get_size()
            scale = min(4.0, max(0.25, target_edge / max(width, height, 1.0)))
            return page.render(scale=scale).to_pil(), None
        finally:
            document.close()
    except Exception as exc:  # a corrupt or empty PDF: the caption stays
        return None, f"{path.name} cannot be rendered ({type(exc).__name__}: {str(exc)[:120]})"


def load_graphic(path: Path, target_edge: float = TARGET_EDGE) -> tuple[Any, str | None]:
    """One included file decoded (a PDF rendered to about ``target_edge`` pixels on its long side),
    or None and why it cannot be used."""
    what = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, f"{what} cannot be read ({exc.strerror or exc})"
    if size > MAX_FILE_BYTES:
        return None, f"{what} is {size // (1024 * 1024)} MB, over the {MAX_FILE_BYTES // (1024 * 1024)} MB a figure may have"
    suffix = path.suffix.lower()
    if suffix == ".eps":
        return None, f"{what} is EPS, which needs Ghostscript to render; convert it to PDF (epstopdf) to give the model the figure"
    if suffix == ".pdf":
        return _pdf_image(path, target_edge)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"{what} cannot be read ({exc.strerror or exc})"
    return open_image(data, what)


def latex_figures(entries: list[tuple[str, str, list[str]]], flat: str, root: Path, warnings: list[str]) -> list[Figure]:
    """Each numbered figure's included files as one image; what cannot be loaded is warned about and skipped."""
    folders = graphics_folders(flat, root)
    figures: list[Figure] = []
    for label, caption, names in entries:
        images, sources = [], []
        # panels stacked into one bounded image: each needs fewer pixels, but a wide plot's labels still
        # need about the full width, so only a figure of many panels renders each smaller
        edge = TARGET_EDGE / max(1.0, math.sqrt(len(names)) / 2)
        for name in names:
            path = find_graphic(name, folders, root)
            if path is None:
                warnings.append(f"figures: {label} includes {name}, which is not in the paper's folder; its caption is kept")
                continue
            image, problem = load_graphic(path, edge)
            if problem:
                warnings.append(f"figures: {label}: {problem}; skipped")
                continue
            images.append(image)
            sources.append(str(path.relative_to(root)) if path.is_relative_to(root) else path.name)
        if images:
            figures.append(make_figure(label, caption, images, ", ".join(sources)))
    return figures
