"""Image core: tensors <-> files, masks, sniffing, bombs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from conftest import mod

images = mod("nodes.core.images")
payloads = mod("nodes.core.payloads")
errors = mod("nodes.core.errors")


def png(picture: Image.Image, **kw) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", **kw)
    return buffer.getvalue()


def as_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels.astype(np.float32) / 255.0)


# --- round trips (property tests) --------------------------------------------------------------

uint8_batches = st.integers(1, 3).flatmap(
    lambda b: st.tuples(st.integers(1, 24), st.integers(1, 24)).flatmap(
        lambda hw: arrays(np.uint8, (b, hw[0], hw[1], 3))
    )
)


@settings(max_examples=60, deadline=None)
@given(uint8_batches)
def test_png_round_trip_is_exact_for_every_batch_item(pixels):
    blobs = images.encode_images(as_tensor(pixels), "png")
    assert len(blobs) == pixels.shape[0]
    decoded, mask = images.decode_images(blobs)
    assert decoded.shape == pixels.shape and decoded.dtype == torch.float32
    assert np.array_equal(images.to_uint8(decoded), pixels)
    assert not mask.any()


@settings(max_examples=40, deadline=None)
@given(uint8_batches, st.sampled_from(["png", "jpeg", "webp"]))
def test_base64_and_data_url_round_trip(pixels, fmt):
    blob = images.encode_images(as_tensor(pixels), fmt)[0]
    url = payloads.data_url(blob)
    assert url.startswith(
        {"png": "data:image/png;base64,", "jpeg": "data:image/jpeg;base64,", "webp": "data:image/webp;base64,"}[fmt]
    )
    mime, back = payloads.split_data_url(url)
    assert back == blob == payloads.b64decode(payloads.b64encode(blob))


@settings(max_examples=30, deadline=None)
@given(st.floats(-2, 3, allow_nan=False), st.floats(0, 1))
def test_values_are_clamped_and_rounded(low, value):
    tensor = torch.tensor([[[[low, value, 1.7]]]], dtype=torch.float32)
    out = images.to_uint8(tensor)[0, 0, 0]
    assert out[0] == int(round(min(max(low, 0), 1) * 255))
    assert out[1] == int(np.round(np.float32(value) * np.float32(255)))
    assert out[2] == 255


def test_to_uint8_matches_torch_across_chunks_layouts_and_dtypes():
    """The chunked numpy conversion gives exactly mul(255).clamp(0, 255).round() of torch."""
    generator = torch.Generator().manual_seed(1)
    tensor = torch.rand((2, 300, 500, 3), generator=generator) * 1.4 - 0.2  # 900k values: several chunks
    tensor.view(-1)[:6] = torch.tensor([0.5 / 255, 1.5 / 255, 2.5 / 255, 254.5 / 255, 1e30, -1e30])
    for variant in (tensor, tensor.permute(0, 2, 1, 3), tensor[:, ::2], tensor.half(), tensor.double()):
        expected = variant.to(torch.float32).mul(255.0).clamp(0.0, 255.0).round().to(torch.uint8).numpy()
        assert np.array_equal(images.to_uint8(variant), expected)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_one_bad_value_in_a_large_image_is_found(bad):
    tensor = torch.rand(1, 512, 512, 3)
    tensor[0, 300, 7, 2] = bad
    with pytest.raises(errors.InputError, match="NaN or infinite"):
        images.check_image(tensor)
    images.check_image(torch.full((1, 64, 64, 3), 3e38))  # finite, though the sum overflows
    images.check_image(torch.rand(1, 512, 512, 3).half())  # a half-precision sum would overflow


@pytest.mark.parametrize("fmt,tolerance", [("jpeg", 12), ("webp", 12)])
def test_lossy_formats_stay_close(fmt, tolerance):
    y, x = np.mgrid[0:64, 0:96]
    pixels = np.stack([x * 2, y * 3, (x + y)], axis=-1).astype(np.uint8)[None]
    decoded, _ = images.decode_images(images.encode_images(as_tensor(pixels), fmt))
    assert np.abs(images.to_uint8(decoded).astype(int) - pixels).mean() < tolerance


# --- decoding modes ------------------------------------------------------------------------------


def test_rgba_result_gives_rgb_image_and_mask_from_alpha():
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba[1, 2, 3] = 0  # fully transparent -> mask 1
    rgba[3, 4, 3] = 51  # alpha 0.2 -> mask 0.8
    image, mask = images.decode_images([png(Image.fromarray(rgba, "RGBA"))])
    assert image.shape == (1, 4, 5, 3)
    assert mask.shape == (1, 4, 5)
    assert mask[0, 1, 2] == 1.0 and mask[0, 0, 0] == 0.0
    assert mask[0, 3, 4] == pytest.approx(0.8, abs=1e-6)


def test_grey_with_alpha_palette_and_sixteen_bit_and_cmyk():
    la = Image.fromarray(np.dstack([np.full((3, 3), 100, np.uint8), np.full((3, 3), 0, np.uint8)]), "LA")
    image, mask = images.decode_images([png(la)])
    assert image[0, 0, 0].tolist() == pytest.approx([100 / 255] * 3) and mask.min() == 1.0

    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.info["transparency"] = 0
    palette.putpixel((0, 0), 0)
    image, mask = images.decode_images([png(palette, transparency=0)])
    assert image[0, 1, 1].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert mask[0, 0, 0] == 1.0 and mask[0, 1, 1] == 0.0

    sixteen = Image.fromarray(np.full((2, 2), 65535 // 2, np.uint16))
    assert sixteen.mode.startswith("I;16")
    image, _ = images.decode_images([png(sixteen)])
    assert image[0, 0, 0, 0].item() == pytest.approx(0.5, abs=1e-4)

    cmyk = Image.new("CMYK", (3, 2), (0, 255, 255, 0))  # red
    buffer = io.BytesIO()
    cmyk.save(buffer, "JPEG", quality=100)
    image, _ = images.decode_images([buffer.getvalue()])
    assert image.shape == (1, 2, 3, 3)
    assert image[0, 0, 0, 0] > 0.9 and image[0, 0, 0, 1] < 0.1

    grey = Image.fromarray(np.full((2, 3), 77, np.uint8), "L")
    image, _ = images.decode_images([png(grey)])
    assert image.shape == (1, 2, 3, 3) and image[0, 0, 0, 2].item() == pytest.approx(77 / 255)


def test_exif_orientation_is_applied():
    pixels = np.zeros((2, 4, 3), np.uint8)
    pixels[0, 0] = (255, 0, 0)  # red top-left in a 4 wide x 2 high picture
    picture = Image.fromarray(pixels)
    exif = picture.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", exif=exif)
    image, _ = images.decode_images([buffer.getvalue()])
    assert image.shape == (1, 4, 2, 3)  # displayed upright: 2 wide, 4 high
    assert image[0, 0, 1, 0] > 0.9  # red ends top-right


def test_gif_first_frame_and_magic_bytes_whatever_the_name():
    frames = [Image.new("RGB", (3, 3), c) for c in ((0, 0, 255), (255, 0, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    image, _ = images.decode_images([buffer.getvalue()])
    assert image[0, 1, 1, 2] > 0.9 and image[0, 1, 1, 0] < 0.1


@pytest.mark.parametrize(
    "data,expected",
    [
        (b"", "empty"),
        (b'{"error": "nope"}', "not an image"),
        (b"<html><body>Bad gateway</body></html>", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "could not be read"),
    ],
)
def test_non_images_are_refused_clearly(data, expected):
    with pytest.raises(errors.RemoteImageError, match=expected):
        images.decode_images([data])


def test_truncated_image_is_an_error_not_a_partial_picture():
    blob = images.encode_array(np.full((64, 64, 3), 128, np.uint8), "png")
    with pytest.raises(errors.RemoteImageError, match="damaged or truncated|could not be read"):
        images.decode_images([blob[: len(blob) // 2]])


def test_decompression_bomb_is_refused_before_decoding():
    bomb = Image.new("1", (20_000, 20_000))  # a 20000x20000 picture compresses to a few kB
    blob = png(bomb)
    assert len(blob) < 200_000
    with pytest.raises(errors.RemoteImageError, match="20000x20000 pixels.*decompression bomb"):
        images.decode_images([blob])


def test_results_of_different_sizes_are_fit_to_the_first():
    first = images.encode_array(np.zeros((8, 8, 3), np.uint8))
    second = images.encode_array(np.full((16, 4, 3), 255, np.uint8))
    image, mask = images.decode_images([first, second])
    assert image.shape == (2, 8, 8, 3) and mask.shape == (2, 8, 8)
    assert image[1].min() > 0.99


def test_no_results_is_an_error():
    with pytest.raises(errors.RemoteImageError, match="no images"):
        images.decode_images([])


@pytest.mark.parametrize("text", ["!!!!", "aGVsbG8=x", "a"])
def test_invalid_base64_is_refused(text):
    with pytest.raises(errors.RemoteImageError, match="not valid base64"):
        payloads.b64decode(text)


def test_base64_tolerates_line_breaks_missing_padding_and_urlsafe():
    assert payloads.b64decode("aGVs\nbG8") == b"hello"
    assert (
        payloads.b64decode(payloads.b64encode(b"\xfb\xff").replace("+", "-").replace("/", "_").rstrip("="))
        == b"\xfb\xff"
    )


# --- input checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tensor,message",
    [
        (torch.zeros(1, 8, 8, 1), "1 channels"),
        (torch.zeros(1, 8, 8, 2), "2 channels"),
        (torch.zeros(1, 8, 8, 4), "4 channels"),
        (torch.zeros(0, 8, 8, 3), "empty"),
        (torch.zeros(8, 8, 3), "shape"),
        (torch.full((1, 2, 2, 3), float("nan")), "NaN"),
        (torch.full((1, 2, 2, 3), float("inf")), "infinite"),
    ],
)
def test_bad_image_tensors_are_refused(tensor, message):
    with pytest.raises(errors.InputError, match=message):
        images.encode_images(tensor)


# --- masks (golden pixels) ---------------------------------------------------------------------


def decode_png(blob: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(blob)))


def test_mask_becomes_alpha_zero_where_the_mask_is_one():
    mask = torch.zeros(1, 2, 3)
    mask[0, 0, 1] = 1.0
    mask[0, 1, 2] = 0.5
    edit = images.fit_masks(mask, 1, 3, 2)
    rgba = decode_png(images.mask_to_alpha_png(edit[0]))
    assert rgba.shape == (2, 3, 4)
    assert rgba[0, 1, 3] == 0  # mask 1 -> transparent -> edited
    assert rgba[0, 0, 3] == 255  # mask 0 -> opaque -> kept
    assert rgba[1, 2, 3] == 127  # 0.5 -> round(127.5) = 128 masked -> alpha 127


def test_loadimage_placeholder_means_no_mask():
    assert images.fit_masks(torch.zeros(1, 64, 64), 1, 512, 512) is None
    assert images.fit_masks(None, 1, 512, 512) is None
    painted = torch.zeros(1, 64, 64)
    painted[0, 10, 10] = 1
    assert images.fit_masks(painted, 1, 64, 64) is not None


def test_mask_is_resized_to_its_image_and_shared_across_the_batch():
    mask = torch.zeros(32, 32)
    mask[:16] = 1.0  # top half
    edit = images.fit_masks(mask, 3, 128, 128)
    assert edit.shape == (3, 128, 128)
    assert edit[2, 10, 64] == 255 and edit[2, 120, 64] == 0


def test_mask_with_another_aspect_or_batch_is_refused():
    with pytest.raises(errors.InputError, match="100x50 but the image is 512x512"):
        images.fit_masks(torch.ones(1, 50, 100), 1, 512, 512)
    with pytest.raises(errors.InputError, match="2 masks but the image batch has 3"):
        images.fit_masks(torch.ones(2, 8, 8), 3, 8, 8)
    with pytest.raises(errors.InputError, match="NaN"):
        images.fit_masks(torch.full((1, 8, 8), float("nan")), 1, 8, 8)
