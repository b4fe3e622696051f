"""Synthetic images for the emulators: they visibly reflect the prompt and, for edits, change
only the masked area. PIL and numpy only, so an emulator runs without torch."""

from __future__ import annotations

import hashlib
import io
import textwrap
import zlib
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..core.payloads import split_data_url

FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}


def prompt_colour(prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return 40 + digest[0] % 176, 40 + digest[1] % 176, 40 + digest[2] % 176


def open_data_url(url: str) -> tuple[str, Image.Image] | None:
    """(MIME type, loaded picture) of a data URL the client sent, or None if it is not one."""
    try:
        mime, data = split_data_url(url)
        picture = Image.open(io.BytesIO(data))
        picture.load()
        return mime, picture
    except Exception:  # noqa: BLE001 -- any broken upload is the client's error to report
        return None


def encode(picture: Image.Image, fmt: str = "png") -> bytes:
    buffer = io.BytesIO()
    name = FORMATS.get(fmt.lower(), "PNG")
    if name == "JPEG":
        picture = picture.convert("RGB")
    picture.save(buffer, name, **({"compress_level": 1} if name == "PNG" else {"quality": 90}))
    return buffer.getvalue()


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _caption(picture: Image.Image, prompt: str, variant: int, centre: bool = False) -> None:
    width, height = picture.size
    draw = ImageDraw.Draw(picture)
    size = max(10, min(width, height) // (12 if centre else 24))
    font = _font(size)
    lines = textwrap.wrap(prompt, width=max(8, int(width * (0.7 if centre else 1) / (size * 0.6))))[:6]
    if variant:
        lines.append(f"#{variant + 1}")
    step = int(size * 1.3)
    y = (height - step * len(lines)) // 2 if centre else size
    for line in lines:
        x = (width - draw.textlength(line, font=font)) // 2 if centre else size
        draw.text((x, y), line, fill=(255, 255, 255), font=font, stroke_width=max(1, size // 12), stroke_fill=(0, 0, 0))
        y += step


@lru_cache(maxsize=64)
def generate(prompt: str, width: int, height: int, fmt: str = "png", variant: int = 0) -> bytes:
    """A gradient in the prompt's colour with the prompt written on it; ``variant`` varies it."""
    red, green, blue = prompt_colour(f"{prompt}#{variant}" if variant else prompt)
    ramp_x = np.linspace(0.55, 1.0, width, dtype=np.float32)[None, :]
    ramp_y = np.linspace(1.0, 0.55, height, dtype=np.float32)[:, None]
    shade = ramp_x * ramp_y
    pixels = np.stack([shade * red, shade * green, shade * blue], axis=-1).astype(np.uint8)
    picture = Image.fromarray(pixels, "RGB")
    _caption(picture, prompt, variant)
    return encode(picture, fmt)


def edit(
    source: Image.Image,
    prompt: str,
    width: int,
    height: int,
    mask: Image.Image | None,
    fmt: str = "png",
    variant: int = 0,
) -> bytes:
    """The source at the requested size, recoloured by the prompt where the mask allows.

    ``mask`` follows OpenAI/IONOS: alpha 0 marks the area to edit. Without a mask the whole
    image is tinted (so the result still visibly derives from the input).
    """
    base = np.asarray(source.convert("RGB").resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    colour = np.array(prompt_colour(f"{prompt}#{variant}" if variant else prompt), dtype=np.float32)
    if mask is None:
        weight = np.full((height, width, 1), 0.5, dtype=np.float32)
    else:
        alpha = np.asarray(mask.convert("RGBA").resize((width, height), Image.Resampling.NEAREST))[..., 3]
        weight = (alpha == 0).astype(np.float32)[..., None] * 0.85
    pixels = (base * (1 - weight) + colour * weight).round().clip(0, 255).astype(np.uint8)
    captioned = Image.fromarray(pixels, "RGB")
    edited = np.argwhere(weight[..., 0] > 0)
    if len(edited):  # write the prompt inside the edited area only
        top, left = edited.min(axis=0)
        bottom, right = edited.max(axis=0) + 1
        region = captioned.crop((left, top, right, bottom))
        _caption(region, prompt, variant, centre=True)
        layer = captioned.copy()
        layer.paste(region, (left, top))
        keep = Image.fromarray(((weight[..., 0] > 0) * 255).astype(np.uint8), "L")
        captioned = Image.composite(layer, captioned, keep)
    return encode(captioned, fmt)


@lru_cache(maxsize=2)
def huge_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid, all-black 1-bit PNG of any size: 20000x20000 is about 50 kB and 400 megapixels.

    Deflated a thousand rows at a time, so its 50 MB of raw pixel rows never exist at once.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then the packed bits of one row
    packer = zlib.compressobj()
    pixels = b"".join(packer.compress(row * 1000) for _ in range(height // 1000))
    pixels += packer.compress(row * (height % 1000)) + packer.flush()
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])  # 1 bit, grey
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
