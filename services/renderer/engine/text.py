"""Captions, the call to action and title cards, drawn once per scene with Pillow's built-in font,
sized from the frame's short side, in the title-safe area, on a box or outline to stay legible."""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from .overlay import Overlay
from .style import Palette

SAFE_MARGIN = 0.08  # of the width, each side: inside the usual title-safe area
LINE_SPACING = 1.18


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    assert isinstance(font, ImageFont.FreeTypeFont), "Pillow was built without FreeType"
    return font


def caption(text: str, width: int, height: int) -> Overlay | None:
    """The scene's script at the bottom, white with an outline on a translucent dark box."""
    text = " ".join(text.split())
    if not text:
        return None
    short = min(width, height)
    max_lines = 4 if height > width else 3
    size, lines = _fit(
        text, round(short * 0.05), int(width * (1 - 2 * SAFE_MARGIN) * 0.92), max_lines
    )
    block = _block(
        lines, size, fill=(255, 255, 255, 255), outline=max(1, size // 18), box=(0, 0, 0, 150)
    )
    # Portrait ads are watched in apps whose controls cover the bottom of the screen.
    bottom_margin = round(height * (0.15 if height > width else 0.07))
    return Overlay(
        block, (width - block.width) // 2, height - bottom_margin - block.height, (width, height)
    )


def call_to_action(
    text: str, width: int, height: int, palette: Palette, *, centre: float = 0.42
) -> Overlay | None:
    """The call to action, large, on a pill in the style's accent colour, centred at `centre`
    of the height."""
    text = " ".join(text.split())
    if not text:
        return None
    short = min(width, height)
    size, lines = _fit(text, round(short * 0.09), int(width * (1 - 2 * SAFE_MARGIN) * 0.86), 2)
    ink = (20, 20, 20, 255) if _luminance(palette.accent) > 150 else (255, 255, 255, 255)
    block = _block(lines, size, fill=ink, outline=0, box=(*palette.accent, 235), pill=True)
    return Overlay(
        block,
        (width - block.width) // 2,
        round(height * centre) - block.height // 2,
        (width, height),
    )


def title_card(
    script: str, product: str, width: int, height: int, palette: Palette, *, centre: float = 0.5
) -> Overlay | None:
    """For scenes without pictures: the product name over the script, centred at `centre` of
    the height, no box."""
    script = " ".join(script.split())
    product = " ".join(product.split())
    if not script and not product:
        return None
    short = min(width, height)
    text_width = int(width * (1 - 2 * SAFE_MARGIN))
    parts: list[Image.Image] = []
    if product:
        size, lines = _fit(product.upper(), round(short * 0.045), text_width, 1)
        parts.append(_block(lines, size, fill=(*palette.accent, 255), outline=max(1, size // 16)))
    if script:
        size, lines = _fit(script, round(short * 0.075), text_width, 4)
        parts.append(_block(lines, size, fill=(*palette.text, 255), outline=max(1, size // 16)))
    gap = round(short * 0.03)
    card = Image.new(
        "RGBA",
        (max(p.width for p in parts), sum(p.height for p in parts) + gap * (len(parts) - 1)),
        (0, 0, 0, 0),
    )
    row = 0
    for part in parts:
        card.alpha_composite(part, ((card.width - part.width) // 2, row))
        row += part.height + gap
    top = round(height * centre) - card.height // 2
    return Overlay(card, (width - card.width) // 2, top, (width, height))


def _fit(text: str, size: int, max_width: int, max_lines: int) -> tuple[int, list[str]]:
    """Wrap at `size`, shrinking to 70% before cutting the last line short."""
    floor = max(10, round(size * 0.7))
    while True:
        lines = _wrap(text, _font(size), max_width)
        if len(lines) <= max_lines or size <= floor:
            break
        size = max(floor, round(size * 0.9))
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _ellipsize(lines[-1], _font(size), max_width)
    return size, lines


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        # A single word wider than the line (a URL, say) is broken by characters.
        while font.getlength(word) > max_width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and font.getlength(word[:cut]) > max_width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines


def _ellipsize(line: str, font: ImageFont.FreeTypeFont, max_width: int) -> str:
    while line and font.getlength(line + "...") > max_width:
        line = line[:-1]
    return line.rstrip() + "..."


def _block(
    lines: list[str],
    size: int,
    *,
    fill: tuple[int, ...],
    outline: int,
    box: tuple[int, ...] | None = None,
    pill: bool = False,
) -> Image.Image:
    """Centred lines of text, optionally on a rounded box, as a tight RGBA image."""
    font = _font(size)
    ascent, descent = font.getmetrics()
    line_height = round((ascent + descent) * LINE_SPACING)
    text_width = max(round(font.getlength(line)) for line in lines) + 2 * outline
    text_height = line_height * (len(lines) - 1) + ascent + descent + 2 * outline
    pad_x, pad_y = (round(size * 0.7), round(size * 0.3)) if box else (0, 0)
    image = Image.new("RGBA", (text_width + 2 * pad_x, text_height + 2 * pad_y), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if box is not None:
        radius = image.height // 2 if pill else round(size * 0.35)
        draw.rounded_rectangle((0, 0, image.width - 1, image.height - 1), radius, fill=box)
    for n, line in enumerate(lines):
        draw.text(
            (image.width / 2, pad_y + outline + n * line_height),
            line,
            font=font,
            fill=fill,
            anchor="ma",
            stroke_width=outline,
            stroke_fill=(0, 0, 0, 255),
        )
    return image


def _luminance(rgb: tuple[int, int, int]) -> float:
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
