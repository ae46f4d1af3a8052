"""Figures cropped out of a PDF's pages, found from their captions.

A caption line ("Figure 3: ...") gives a figure's page and place. The drawing objects of that
page (embedded images, vector paths, included forms) that sit just above the caption and across
the same columns are the figure; the page is rendered at that region, so vector plots, labels
and axes come out as the reader sees them. A figure whose caption stands above it (no drawing
above, some below) is taken from below. Table and algorithm captions claim the drawings next to
them, so a table beside a figure does not join it; a table or an algorithm box set as a picture
(a raster image next to its caption, whose text the reader could not get) is taken too. PDFium (pypdfium2, BSD-3/Apache-2.0, wheels for every
platform) renders; no system binary is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from papercoder.paper.figures import Figure, caption_for, make_figure

_CAPTION = re.compile(r"\s*(Figure|Fig\.|Table|Algorithm)\s*(\d+)\s*[:.|]")
PAD = 4.0  # points around a figure's drawing, so edge labels are not cut
MIN_SIDE = 24.0  # a region smaller than this is a rule or a logo, not a figure
LINE_GAP = 14.0  # words of one caption line are closer than this (justified text spreads them)
JOIN_GAP = 36.0  # drawing objects further apart than this vertically are not one figure
MAX_SCALE = 4.0  # at most 288 dpi
TARGET_EDGE = 1400.0  # pixels on a figure's long side before bounding


@dataclass
class _Box:
    left: float
    bottom: float
    right: float
    top: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.top - self.bottom

    def overlap(self, other: "_Box") -> float:
        return max(0.0, min(self.right, other.right) - max(self.left, other.left))

    def union(self, other: "_Box") -> "_Box":
        return _Box(min(self.left, other.left), min(self.bottom, other.bottom), max(self.right, other.right), max(self.top, other.top))


@dataclass
class _Caption:
    kind: str  # "Figure", "Table" or "Algorithm"
    label: str
    box: _Box  # the caption's first line


def _captions(textpage) -> list[_Caption]:
    """The page's caption lines, each with the extent of its whole first line."""
    rects = []
    for index in range(textpage.count_rects()):
        box = _Box(*textpage.get_rect(index))
        rects.append((box, textpage.get_text_bounded(box.left, box.bottom, box.right, box.top)))
    found: list[_Caption] = []
    for box, text in rects:
        match = _CAPTION.match(text)
        if not match:
            continue
        line = box
        middle = (box.top + box.bottom) / 2
        same_line = sorted(
            ((other, words) for other, words in rects if abs((other.top + other.bottom) / 2 - middle) < 2.5 and other.left > box.left),
            key=lambda item: item[0].left,
        )
        for other, words in same_line:  # the rest of the caption's first line, up to a caption beside it
            if _CAPTION.match(words) or other.left - line.right > LINE_GAP:
                break
            line = line.union(other)
        kind = "Figure" if match.group(1).startswith("Fig") else match.group(1)
        label = f"{kind} {match.group(2)}"
        if all(c.label != label for c in found):
            found.append(_Caption(kind, label, line))
    return found


def _drawings(page) -> list[tuple[_Box, bool]]:
    """The page's drawing objects: their boxes, and whether each is a raster image."""
    import pypdfium2.raw as raw

    kinds = (raw.FPDF_PAGEOBJ_IMAGE, raw.FPDF_PAGEOBJ_PATH, raw.FPDF_PAGEOBJ_FORM, raw.FPDF_PAGEOBJ_SHADING)
    boxes = []
    for obj in page.get_objects(max_depth=1):
        if obj.type in kinds:
            box = _Box(*obj.get_bounds())
            if box.width > 1 or box.height > 1:
                boxes.append((box, obj.type == raw.FPDF_PAGEOBJ_IMAGE))
    return boxes


def _owner(box: _Box, captions: list[_Caption]) -> tuple[_Caption, bool] | None:
    """The caption a drawing belongs to, and whether it sits above it: the nearest one across the same columns."""
    best: tuple[float, _Caption, bool] | None = None
    for caption in captions:
        if caption.box.overlap(box) < 0.3 * min(box.width, caption.box.width, 150):
            continue
        below_drawing = box.bottom - caption.box.top  # the caption under the drawing
        above_drawing = caption.box.bottom - box.top  # the caption over the drawing (tables, some figures)
        for distance, above in ((below_drawing, True), (above_drawing, False)):
            if distance >= -3 and (best is None or distance < best[0]):
                best = (distance, caption, above)
    return (best[1], best[2]) if best else None


def _region(caption: _Caption, owned: list[_Box], above: bool) -> _Box | None:
    """The drawings next to the caption, grown away from it while they keep touching."""
    ordered = sorted(owned, key=lambda b: -b.top if not above else b.bottom)
    region: _Box | None = None
    edge = caption.box.top if above else caption.box.bottom
    for box in ordered:
        gap = (box.bottom - edge) if above else (edge - box.top)
        if gap > JOIN_GAP:
            break
        region = box if region is None else region.union(box)
        edge = region.top if above else region.bottom
    if region is None or region.width < MIN_SIDE or region.height < MIN_SIDE:
        return None
    return region


def _inside(box: _Box, region: _Box) -> bool:
    """Whether most of ``box`` lies in ``region``."""
    width = max(0.0, min(box.right, region.right) - max(box.left, region.left))
    height = max(0.0, min(box.top, region.top) - max(box.bottom, region.bottom))
    return width * height >= 0.5 * max(1.0, box.width * box.height)


def pdf_figures(path: Path, captions: list[str], warnings: list[str]) -> list[Figure]:
    """Every captioned figure of the PDF at ``path``, cropped and rendered; a page that fails keeps its caption."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        warnings.append("figures: pypdfium2 is not installed, so only the captions are kept; pip install pypdfium2")
        return []
    try:
        document = pdfium.PdfDocument(str(path))
    except Exception as exc:  # PDFium cannot open what pypdf could: the text is still read
        warnings.append(f"figures: PDFium cannot open {path.name} ({exc}); only the captions are kept")
        return []
    figures: list[Figure] = []
    try:
        for number in range(len(document)):
            try:
                figures.extend(_page_figures(document[number], number + 1, captions, warnings))
            except Exception as exc:  # one odd page must not lose the others
                warnings.append(f"figures: page {number + 1} cannot be rendered ({type(exc).__name__}: {exc}); its figures keep their captions only")
    finally:
        document.close()
    seen: set[str] = set()
    unique = []
    for figure in figures:  # a label printed twice (a caption quoted in the text) keeps its first figure
        if figure.label not in seen:
            seen.add(figure.label)
            unique.append(figure)
    return unique


def _page_figures(page, number: int, captions: list[str], warnings: list[str]) -> list[Figure]:
    textpage = page.get_textpage()
    found = _captions(textpage)
    if not found:
        return []
    owned: dict[str, tuple[list[_Box], list[_Box]]] = {c.label: ([], []) for c in found}
    rasters: list[_Box] = []
    for box, raster in _drawings(page):
        owner = _owner(box, found)
        if owner:
            caption, above = owner
            owned[caption.label][0 if above else 1].append(box)
        if raster:
            rasters.append(box)
    width, height = page.get_size()
    result = []
    for caption in found:
        over, under = owned[caption.label]
        if caption.kind == "Figure":
            region = _region(caption, over, True) or _region(caption, under, False)
        else:  # a table or an algorithm is text, unless it was set as a picture: under its caption, else above
            region = _region(caption, under, False) or _region(caption, over, True)
            if region is None or not any(_inside(raster, region) for raster in rasters):
                continue
        if region is None:
            warnings.append(f"figures: no drawing found next to the caption of {caption.label} on page {number}; its caption is kept")
            continue
        left, bottom = max(0.0, region.left - PAD), max(0.0, region.bottom - PAD)
        right, top = min(width, region.right + PAD), min(height, region.top + PAD)
        scale = min(MAX_SCALE, max(1.0, TARGET_EDGE / max(right - left, top - bottom)))
        bitmap = page.render(scale=scale, crop=(left, bottom, width - right, height - top))
        image = bitmap.to_pil()
        result.append(make_figure(caption.label, caption_for(caption.label, captions), [image], f"page {number}"))
    return result
