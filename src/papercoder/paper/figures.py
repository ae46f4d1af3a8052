"""A paper's figures as images a vision model reads well, and how a run keeps them on disk.

Readers find figures (``pdffigures`` crops them from the page, ``texfigures`` loads the files
``\\includegraphics`` names); this module turns any image into one bounded PNG (or JPEG for a
photograph that PNG would make heavy), puts a figure's panels side by side, and saves and loads
a run's ``paper/figures/`` with its index ``figures.json``. Pillow decodes and encodes; nothing
here raises on a bad image: the caller gets a reason to print as a ``warning:`` line.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 40 * 1024 * 1024  # an image file larger than this is not a paper's figure
MAX_SOURCE_PIXELS = 60_000_000  # decoding more pixels than this could take gigabytes of memory
LONG_EDGE = 1568  # what Anthropic reads without resizing; OpenAI's high detail fits 2048 x 768 tiles
MAX_PIXELS = 1_200_000  # about 1,600 tokens on Anthropic, 6 tiles on OpenAI
MAX_IMAGE_BYTES = 3 * 1024 * 1024  # under every provider's per-image limit once base64-encoded (5 MB)
INDEX = "figures.json"
SUPPORTED = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")


@dataclass
class Figure:
    """One figure of a paper: its label ("Figure 3"), caption, and one image of all its panels."""

    label: str
    caption: str
    data: bytes = field(default=b"", repr=False)  # the encoded image; empty when only the index was read
    media_type: str = "image/png"
    width: int = 0
    height: int = 0
    source: str = ""  # where it came from: "page 7" or a file of the LaTeX project

    @property
    def kind(self) -> str:
        """"Figure", "Table" or "Algorithm": the first word of the label."""
        return self.label.split(" ", 1)[0]

    @property
    def number(self) -> str:
        match = re.search(r"(\d+)", self.label)
        return match.group(1) if match else ""

    @property
    def file_name(self) -> str:
        """The image's name in ``paper/figures/``: ``figure-3.png``."""
        stem = re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-") or "figure"
        return stem + (".jpg" if self.media_type == "image/jpeg" else ".png")

    def meta(self) -> dict[str, Any]:
        """The figure without its image, as the index and ``ingest --format json`` show it."""
        return {"label": self.label, "caption": self.caption, "file": self.file_name, "media_type": self.media_type,
                "width": self.width, "height": self.height, "source": self.source}


def _pillow() -> Any:
    from PIL import Image

    return Image


def open_image(data: bytes, what: str) -> tuple[Any, str | None]:
    """The decoded image, or None and why it cannot be used (missing, corrupt, enormous, unsupported)."""
    if not data:
        return None, f"{what} is empty"
    if len(data) > MAX_FILE_BYTES:
        return None, f"{what} is {len(data) // (1024 * 1024)} MB, over the {MAX_FILE_BYTES // (1024 * 1024)} MB a figure may have"
    Image = _pillow()
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in SUPPORTED:
            return None, f"{what} is a {image.format or 'unknown'} image, which papercoder does not read (PNG, JPEG, GIF, WebP, BMP, TIFF)"
        if image.width * image.height > MAX_SOURCE_PIXELS:
            return None, f"{what} is {image.width} x {image.height} pixels, too large to decode safely"
        image.load()
    except Image.DecompressionBombError:
        return None, f"{what} claims more pixels than is safe to decode; it is too large to decode safely"
    except Image.UnidentifiedImageError:
        return None, f"{what} cannot be decoded (not an image Pillow recognises)"
    except Exception as exc:  # Pillow raises many kinds on a corrupt file; all mean the same to a user
        return None, f"{what} cannot be decoded ({type(exc).__name__}: {str(exc)[:120]})"
    return image, None


def flatten(image: Any) -> Any:
    """RGB on white: transparency and palettes become plain pixels every model reads the same way."""
    Image = _pillow()
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def bounded(image: Any) -> Any:
    """``image`` scaled down (never up) to at most LONG_EDGE on its long side and MAX_PIXELS in all."""
    scale = min(1.0, LONG_EDGE / max(image.width, image.height), (MAX_PIXELS / max(1, image.width * image.height)) ** 0.5)
    if scale >= 1.0:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, _pillow().Resampling.LANCZOS, reducing_gap=2.0)  # reduce first: fast, still sharp


def encode(image: Any) -> tuple[bytes, str]:
    """PNG (lossless: line art and text stay sharp), or JPEG when the PNG would be too heavy."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)  # optimize=True costs ~10x the time for a few percent
    if buffer.tell() <= MAX_IMAGE_BYTES:
        return buffer.getvalue(), "image/png"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue(), "image/jpeg"


def side_by_side(images: list[Any], gap: int = 12) -> Any:
    """A figure's panels in rows on white, each scaled to one height, as many per row as keep the whole near 4:3."""
    if len(images) == 1:
        return images[0]
    Image = _pillow()
    height = max(1, min(600, min(im.height for im in images)))
    scaled = [im if im.height == height else im.resize((max(1, round(im.width * height / im.height)), height), reducing_gap=2.0)
              for im in images]
    def squareness(per_row: int) -> float:  # how far the laid-out figure is from 4:3 (a model's tiles are near square)
        rows = -(-len(scaled) // per_row)
        width = max(sum(im.width for im in scaled[k : k + per_row]) for k in range(0, len(scaled), per_row))
        return abs(math.log(width / (rows * height) / (4 / 3)))

    per_row = min(range(1, min(len(scaled), 4) + 1), key=squareness)
    rows = [scaled[k : k + per_row] for k in range(0, len(scaled), per_row)]
    width = max(sum(im.width for im in row) + gap * (len(row) - 1) for row in rows)
    canvas = Image.new("RGB", (width, height * len(rows) + gap * (len(rows) - 1)), (255, 255, 255))
    for r, row in enumerate(rows):
        x = 0
        for im in row:
            canvas.paste(im, (x, r * (height + gap)))
            x += im.width + gap
    return canvas


def make_figure(label: str, caption: str, images: list[Any], source: str) -> Figure:
    """One Figure from decoded panels: flattened, laid out, bounded, encoded."""
    image = bounded(side_by_side([flatten(im) for im in images]))
    data, media_type = encode(image)
    return Figure(label=label, caption=caption, data=data, media_type=media_type, width=image.width,
                  height=image.height, source=source)


def preview(figure: Figure, edge: int = 900) -> tuple[str, bytes]:
    """A small copy of the figure for a page to show (JPEG, at most ``edge`` pixels a side), or
    the image itself when it cannot be decoded: the report inlines every figure and stays light."""
    image, problem = open_image(figure.data, figure.label)
    if image is None:
        return figure.media_type, figure.data
    image = flatten(image)
    image.thumbnail((edge, edge), _pillow().Resampling.LANCZOS, reducing_gap=2.0)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=82)
    return "image/jpeg", buffer.getvalue()


def caption_for(label: str, captions: list[str]) -> str:
    """The caption the text reader found for ``label`` ("Figure 3: ..."), or the label alone."""
    for caption in captions:
        if re.match(re.escape(label) + r"\s*[:.]", caption):
            return caption
    return label


def save_figures(folder: Path, figures: list[Figure]) -> None:
    """Write every figure's image and the index (``figures.json``) into ``folder``, replacing the
    figures an earlier save listed there; files it did not write are left alone."""
    folder.mkdir(parents=True, exist_ok=True)
    earlier, _ = load_figures(folder, with_images=False)
    for old in earlier:
        path = folder / old.file_name
        if path.is_file() and not path.is_symlink():
            path.unlink()
    for figure in figures:
        (folder / figure.file_name).write_bytes(figure.data)
    (folder / INDEX).write_text(json.dumps([f.meta() for f in figures], indent=2, ensure_ascii=False) + "\n", "utf-8")


def load_figures(folder: Path, *, with_images: bool = True) -> tuple[list[Figure], list[str]]:
    """A run's figures read back, and a warning per one that is missing or unusable (it is left out)."""
    index = folder / INDEX
    if not index.is_file():
        return [], []
    try:
        entries = json.loads(index.read_text("utf-8"))
        if not isinstance(entries, list):
            raise ValueError("not a list")
    except (OSError, ValueError) as exc:
        return [], [f"{index} is unreadable ({exc}); run `papercoder run` again without --resume to extract the figures anew"]
    figures: list[Figure] = []
    warnings: list[str] = []
    for entry in entries:
        try:
            figure = Figure(label=str(entry["label"]), caption=str(entry.get("caption", "")),
                            media_type=str(entry.get("media_type", "image/png")), width=int(entry.get("width", 0)),
                            height=int(entry.get("height", 0)), source=str(entry.get("source", "")))
        except (KeyError, TypeError, ValueError, AttributeError):
            warnings.append(f"{index} has an entry papercoder cannot read ({str(entry)[:80]}); it is left out")
            continue
        if with_images:
            path = folder / figure.file_name
            if path.is_symlink() or not path.is_file():
                warnings.append(f"{path} is missing; {figure.label} is left out")
                continue
            figure.data = path.read_bytes()
        figures.append(figure)
    return figures, warnings
