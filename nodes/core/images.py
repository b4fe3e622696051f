"""ComfyUI IMAGE/MASK tensors <-> PNG/JPEG/WebP bytes, base64 and data URLs.

Conventions (ComfyUI's):
- IMAGE is float32 [B,H,W,3] in 0..1; every batch item is encoded, never only the first.
- MASK is float32 [B,H,W] or [H,W]; 1 marks the area to change.
- A result's alpha channel becomes a MASK (1 - alpha), never a 4-channel IMAGE.
- An edit's mask travels as an RGBA PNG whose alpha is 0 where the mask is 1 (the Images API's form).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps

from . import comfy
from .errors import InputError, RemoteImageError
from .payloads import Uploads, data_url, sniff_format
from .redaction import clip

# Results are refused before anything is decoded when their headers claim too much: each must be
# at most MAX_PIXELS (8K UHD, 7680x4320, is 33 megapixels; larger is treated as a decompression
# bomb), all of one node run together at most PIXEL_BUDGET (about 1.2 GB as an IMAGE tensor).
MAX_PIXELS = 40_000_000
PIXEL_BUDGET = 100_000_000
# Chosen by measurement (``python -m nodes.cli.bench`` prints the table): on a render-like 1024²
# input level 1 encodes about 3x faster than PIL's default (6) for a file about 17 % larger.
# Counting encode + upload of the base64 data URL, it is the fastest level from about 25 to
# 300 Mbit/s, and at most about 30 % off the best level anywhere from 5 Mbit/s to 1 Gbit/s: the
# smallest worst case of all levels (0 wins only on a LAN and nearly doubles the upload; 4 and
# up win below ~25 Mbit/s by up to ~12 % but pay 2-3x the encode on fast links).
UPLOAD_PNG_LEVEL = 1
JPEG_QUALITY = 95
WEBP_QUALITY = 95

_FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}


# --- tensors -> bytes -------------------------------------------------------------------------


def check_image(image, what: str = "image") -> None:
    """Refuse anything that is not a ComfyUI IMAGE batch, before any request."""
    if not isinstance(image, torch.Tensor):
        raise InputError(f"{what} must be an IMAGE tensor, got {type(image).__name__}")
    if image.ndim != 4 or image.shape[-1] != 3:
        channels = image.shape[-1] if image.ndim >= 3 else "no"
        raise InputError(
            f"{what} must be an IMAGE of shape [batch, height, width, 3] (RGB); got shape "
            f"{list(image.shape)} with {channels} channels -- convert it to RGB first"
        )
    if image.shape[0] == 0 or image.shape[1] == 0 or image.shape[2] == 0:
        raise InputError(
            f"{what} is empty (shape {list(image.shape)}); it needs at least one image of at least 1x1 pixels"
        )
    if image.is_floating_point() and not _all_finite(image):
        raise InputError(f"{what} contains NaN or infinite values; IMAGE values must be finite numbers from 0 to 1")


def _all_finite(tensor: torch.Tensor) -> bool:
    """isfinite().all() without its image-sized bool tensor: a NaN or infinity anywhere makes the
    sum non-finite, so a finite sum proves every value finite. One read of the image instead of
    a write and two reads (about 10x faster at 2048², where the old check cost a fifth of a PNG
    encode). Only a non-finite sum (or finite values so large that the sum overflows) needs
    the exact check."""
    total = tensor.sum(dtype=torch.float32) if tensor.dtype in (torch.float16, torch.bfloat16) else tensor.sum()
    return bool(torch.isfinite(total)) or bool(torch.isfinite(tensor).all())


_CHUNK = 1 << 18  # values per step of to_uint8: a 1 MB float32 scratch buffer stays in cache


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[B,H,W,C] float 0..1 -> uint8 numpy, clamped and rounded (not truncated).

    Done on the whole batch, the scaling needs an image-sized float32 temporary: above glibc's
    mmap threshold that is fresh pages and a page fault per 4 KB on every call, which cost as much
    as the arithmetic. So it runs in chunks through one small scratch buffer -- in numpy, because
    torch would start an OpenMP parallel region per operation per chunk, and on a busy machine
    each one can wait a scheduler tick for its second thread. Same operations, same values as
    ``image.mul(255).clamp(0, 255).round()`` (round half to even).
    """
    if image.dtype == torch.uint8:
        return image.cpu().numpy()
    flat = image.detach().to("cpu", torch.float32).contiguous().view(-1).numpy()
    out = np.empty(flat.shape, dtype=np.uint8)
    scratch = np.empty(min(_CHUNK, flat.size), dtype=np.float32)
    for start in range(0, flat.size, _CHUNK):
        part = flat[start : start + _CHUNK]
        work = scratch[: part.size]
        np.multiply(part, np.float32(255.0), out=work)
        np.clip(work, 0.0, 255.0, out=work)
        np.rint(work, out=work)
        out[start : start + part.size] = work
    return out.reshape(tuple(image.shape))


def encode_array(pixels: np.ndarray, fmt: str = "png", *, png_level: int = UPLOAD_PNG_LEVEL) -> bytes:
    """One HxWx3 (RGB), HxWx4 (RGBA) or HxW (L) uint8 array -> file bytes."""
    fmt_name = _FORMATS.get(fmt.lower())
    if fmt_name is None:
        raise InputError(f"unknown image format {fmt!r}; use one of png, jpeg, webp")
    picture = Image.fromarray(pixels)
    buffer = io.BytesIO()
    if fmt_name == "PNG":
        picture.save(buffer, "PNG", compress_level=png_level)
    elif fmt_name == "JPEG":
        # convert() copies even when the mode is already RGB
        (picture if picture.mode == "RGB" else picture.convert("RGB")).save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        picture.save(buffer, "WEBP", quality=WEBP_QUALITY, method=4)
    return buffer.getvalue()


def _parallel_map(function, items: Sequence):
    if len(items) <= 1:
        return [function(item) for item in items]
    workers = min(len(items), os.cpu_count() or 2, 8)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hosted-images-encode") as pool:
        return list(pool.map(function, items))


def encode_images(
    image: torch.Tensor, fmt: str = "png", *, png_level: int = UPLOAD_PNG_LEVEL, what: str = "image"
) -> list[bytes]:
    """Every batch item of an IMAGE -> file bytes, encoded in parallel (PIL releases the GIL).

    The input is checked first (``check_image``; ``what`` names it in the message)."""
    check_image(image, what)
    # each worker converts its own item (numpy releases the GIL too), so converting one item
    # overlaps compressing another instead of running before all of them
    return _parallel_map(lambda item: encode_array(to_uint8(item), fmt, png_level=png_level), list(image.detach()))


def image_size(image: torch.Tensor) -> tuple[int, int]:
    """(width, height) of an IMAGE batch."""
    return int(image.shape[2]), int(image.shape[1])


# --- masks ------------------------------------------------------------------------------------


def _as_mask_batch(mask) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor):
        raise InputError(f"mask must be a MASK tensor, got {type(mask).__name__}")
    if mask.ndim == 2:
        mask = mask.unsqueeze(0)
    if mask.ndim == 4 and mask.shape[-1] == 1:  # [B,H,W,1] from some custom nodes
        mask = mask[..., 0]
    elif mask.ndim == 3 and mask.shape[-1] == 1 and mask.shape[1] > 1:
        mask = mask[..., 0].unsqueeze(0)  # [H,W,1]: one mask with a channel axis, not H masks one pixel wide
    if mask.ndim != 3 or 0 in mask.shape:
        raise InputError(
            f"mask must have shape [batch, height, width] or [height, width] (a MASK); got {list(mask.shape)}"
        )
    if mask.is_floating_point() and not _all_finite(mask):
        raise InputError("mask contains NaN or infinite values; MASK values must be finite numbers from 0 to 1")
    return mask


def fit_masks(mask, batch: int, width: int, height: int) -> np.ndarray | None:
    """MASK -> uint8 [batch,H,W] at the image's size (255 = edit), or None for "no mask".

    One mask serves a whole batch; otherwise the batch sizes must agree. A mask of another size
    is resized when its shape is the image's scaled, refused when its aspect ratio differs.
    """
    if mask is None:
        return None
    masks = _as_mask_batch(mask)
    if tuple(masks.shape[1:]) == (64, 64) and not bool(masks.any()):
        return None  # LoadImage's stand-in for "this image has no alpha": a 64x64 mask of zeros
    masks = masks.detach().to("cpu", torch.float32)
    if masks.shape[0] not in (1, batch):
        raise InputError(
            f"the mask batch has {masks.shape[0]} masks but the image batch has {batch} images; "
            "give one mask for all images or one per image"
        )
    mh, mw = int(masks.shape[1]), int(masks.shape[2])
    if (mw, mh) != (width, height):
        if abs(mw / mh - width / height) > 0.02 * (width / height):
            raise InputError(
                f"the mask is {mw}x{mh} but the image is {width}x{height}; their aspect ratios differ, "
                "so the mask cannot be resized to fit -- make the mask from this image"
            )
        masks = torch.nn.functional.interpolate(
            masks.unsqueeze(1), size=(height, width), mode="bilinear", align_corners=False
        )[:, 0]
    out = masks.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8).numpy()
    if out.shape[0] == 1 and batch > 1:
        out = np.broadcast_to(out, (batch, height, width))
    return out


def mask_to_alpha_png(edit: np.ndarray) -> bytes:
    """uint8 HxW (255 = edit) -> RGBA PNG whose alpha is 0 where the mask edits (the Images API's form)."""
    height, width = edit.shape
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    rgba[..., 3] = 255 - edit
    return encode_array(rgba, "png")


# --- an edit's inputs, as a provider takes them ------------------------------------------------


@dataclass
class EditInputs:
    images: list  # PNG bytes or data URLs: every batch item of the first input, then the other inputs'
    masks: list | None  # as ``Uploads.masks`` says, in the same form; None: no mask (or an empty one)
    width: int  # of the first input
    height: int


def encode_edit_inputs(image, mask=None, *, how: Uploads, more: Mapping[str, Any] | None = None) -> EditInputs:
    """Check an edit's IMAGE (and MASK) and encode them as the provider declares (``how``).

    ``more``: further IMAGE inputs by name (None: not connected), sent after the first one's
    images. The mask is fit to the first input's size (one mask serves a whole batch)."""
    files = encode_images(image)
    width, height = image_size(image)
    for name, extra in (more or {}).items():
        if extra is not None:
            files += encode_images(extra, what=name)
    masks = None
    if how.masks:
        edit = fit_masks(mask, image.shape[0], width, height)
        if edit is not None:
            masks = _parallel_map(mask_to_alpha_png, list(edit[:1] if how.masks == "first" else edit))
    if how.data_url:
        files = [data_url(blob) for blob in files]
        masks = [data_url(blob) for blob in masks] if masks is not None else None
    return EditInputs(files, masks, width, height)


# --- bytes -> tensors -------------------------------------------------------------------------


def open_image(data: bytes) -> Image.Image:
    """Open result bytes by their magic bytes; refuse non-images and decompression bombs."""
    fmt = sniff_format(data)
    if fmt is None:
        raise RemoteImageError(f"the reply is not an image (it starts with {_quote_start(data)})")
    if ImageFile.LOAD_TRUNCATED_IMAGES and _cut_short(data, fmt):
        raise RemoteImageError(f"the result image is damaged or truncated (the {fmt} file ends early)")
    try:
        picture = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError:
        raise _bomb_error(_header_size(data)) from None
    except Exception as exc:  # noqa: BLE001 -- PIL raises many types for broken files
        raise RemoteImageError(f"the {fmt} image could not be read ({type(exc).__name__}: {exc})") from None
    width, height = picture.size
    if width * height > MAX_PIXELS:
        raise _bomb_error((width, height))
    return picture


def preview_picture(data: bytes, max_side: int) -> Image.Image:
    """A streamed partial image as a live preview: RGB (what a JPEG preview holds; transparency
    over white), its longest side at most ``max_side``. Decoded in the caller's thread, so
    ComfyUI's event loop only encodes a small picture."""
    picture = open_image(data)
    picture.draft("RGB", (max_side, max_side))  # JPEG: decode at a fraction of the size
    picture = ImageOps.exif_transpose(picture)
    picture.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return picture.convert("RGB")


class ResultNotDecoded(RemoteImageError):
    """Results that could not be decoded: ``index`` is the failing one (0-based), or None when
    all of them were refused together (over the pixel budget)."""

    def __init__(self, error: RemoteImageError, index: int | None):
        super().__init__(error.message, status=error.status, trace_id=error.trace_id, hint=error.hint)
        self.index = index


def _cut_short(data: bytes, fmt: str) -> bool:
    """True when a file visibly ends early. PIL raises for that itself, unless another node pack has
    set ``ImageFile.LOAD_TRUNCATED_IMAGES``: then it fills the missing part with black."""
    tail = data[-1024:]
    if fmt == "PNG":
        return b"IEND" not in tail
    if fmt == "JPEG":
        return b"\xff\xd9" not in tail
    if fmt == "WEBP":
        return int.from_bytes(data[4:8], "little") + 8 > len(data)
    return not data.rstrip(b"\0").endswith(b";")  # GIF's trailer


def _header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG header, for messages about pictures PIL refused to open."""
    if data.startswith(b"\x89PNG") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return None


def _bomb_error(size) -> RemoteImageError:
    what = f"{size[0]}x{size[1]} pixels" if size else "too many pixels"
    return RemoteImageError(
        f"the result image has {what}, more than the {MAX_PIXELS // 1_000_000} megapixel limit; "
        "it was refused as a possible decompression bomb"
    )


def _quote_start(data: bytes) -> str:
    if not data:
        return "nothing: the body is empty"
    text = data[:80].decode("utf-8", "replace")
    return repr(clip(text, 80) if text.isprintable() else data[:16])


def _to_rgb_and_alpha(picture: Image.Image) -> tuple[np.ndarray, np.ndarray | None, float]:
    """(HxWx3 pixels, HxW alpha or None, scale) where value/scale is 0..1."""
    try:
        if getattr(picture, "is_animated", False):
            picture.seek(0)  # first frame of a GIF/WebP animation
        orientation = picture.getexif().get(0x0112, 1)
        if orientation not in (1, None):
            picture = ImageOps.exif_transpose(picture)
        mode = picture.mode
        if mode in ("I;16", "I;16B", "I;16L", "I"):
            grey = np.asarray(picture).astype(np.float32)
            return np.repeat(grey[..., None], 3, axis=2), None, 65535.0
        if mode == "F":
            grey = np.asarray(picture, dtype=np.float32)
            return np.repeat(grey[..., None], 3, axis=2), None, 1.0
        if mode == "P" or mode == "PA":
            picture = picture.convert("RGBA" if ("transparency" in picture.info or mode == "PA") else "RGB")
        elif mode == "L" and "transparency" in picture.info:
            picture = picture.convert("RGBA")
        elif mode == "LA":
            picture = picture.convert("RGBA")
        elif mode not in ("RGB", "RGBA"):
            picture = picture.convert("RGB")  # CMYK, YCbCr, L, 1, RGBX, ...
        pixels = np.asarray(picture)
    except RemoteImageError:
        raise
    except Exception as exc:  # noqa: BLE001 -- truncated or corrupt data surfaces here
        raise RemoteImageError(f"the result image is damaged or truncated ({type(exc).__name__}: {exc})") from None
    if pixels.shape[-1] == 4:
        alpha = pixels[..., 3]
        return pixels[..., :3], (alpha if alpha.min() < 255 else None), 255.0
    return pixels, None, 255.0


def decode_images(blobs: Iterable[bytes]) -> tuple[torch.Tensor, torch.Tensor]:
    """Result files -> (IMAGE [B,H,W,3], MASK [B,H,W]); sizes that differ are fit to the first.

    Every header is read first (PIL opens lazily) and the sizes it claims are checked against the
    limits before any pixel buffer is allocated; the interrupt flag is checked between images.
    A result that cannot be decoded raises ``ResultNotDecoded`` naming it.
    """
    blobs = list(blobs)
    if not blobs:
        raise RemoteImageError("the provider returned no images")
    pictures = []
    for index, blob in enumerate(blobs):
        try:
            pictures.append(open_image(blob))
        except RemoteImageError as exc:
            raise _not_decoded(exc, index, len(blobs)) from None
    first = pictures[0].size[0] * pictures[0].size[1]  # the batch takes the first one's size
    claimed = max(sum(p.size[0] * p.size[1] for p in pictures), len(pictures) * first)
    if claimed > PIXEL_BUDGET:
        error = RemoteImageError(
            f"the {len(pictures)} results come to {claimed / 1e6:.0f} megapixels, more than the "
            f"{PIXEL_BUDGET // 1_000_000} megapixel budget of one node run, so none was decoded"
        )
        raise ResultNotDecoded(error, None)
    images: torch.Tensor | None = None
    masks: torch.Tensor | None = None
    for index, picture in enumerate(pictures):
        comfy.raise_if_interrupted()
        try:
            pixels, alpha, scale = _to_rgb_and_alpha(picture)
        except RemoteImageError as exc:
            raise _not_decoded(exc, index, len(blobs)) from None
        height, width = pixels.shape[:2]  # upright: EXIF orientation may have swapped the sides
        if images is None:
            images = torch.empty((len(blobs), height, width, 3), dtype=torch.float32)
            # numpy's zeros come from calloc: the pages stay unmapped (no time, no RSS) unless a
            # result has alpha, where torch.zeros would write the whole mask up front.
            masks = torch.from_numpy(np.zeros((len(blobs), height, width), dtype=np.float32))
        target_h, target_w = images.shape[1], images.shape[2]
        if (height, width) != (target_h, target_w):
            pixels, alpha, scale = _resize(pixels, alpha, scale, target_w, target_h)
        slot = images[index]
        slot.copy_(_tensor(pixels))
        slot.mul_(1.0 / scale)
        if alpha is not None:
            masks[index].copy_(_tensor(alpha)).mul_(-1.0 / 255.0).add_(1.0)
    return images, masks


def _not_decoded(error: RemoteImageError, index: int, total: int) -> ResultNotDecoded:
    if total > 1:
        error.message = f"result {index + 1} of {total}: {error.message}"
    return ResultNotDecoded(error, index)


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A zero-copy view of PIL's read-only buffer; we only read from it (copy_ into our tensor)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(np.ascontiguousarray(array))


def _resize(pixels, alpha, scale, width, height):
    """Fit a result of another size to the batch's size, so the batch can be one tensor."""
    if scale != 255.0:
        pixels = (np.clip(pixels / scale, 0, 1) * 255).round().astype(np.uint8)
    picture = Image.fromarray(pixels).resize((width, height), Image.Resampling.LANCZOS)
    resized_alpha = None
    if alpha is not None:
        resized_alpha = np.asarray(Image.fromarray(alpha).resize((width, height), Image.Resampling.BILINEAR))
    return np.asarray(picture), resized_alpha, 255.0
