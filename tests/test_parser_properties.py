"""Property tests for the response readers: whatever JSON a provider sends, the result is images
or the pack's own error (RemoteImageError) -- never a KeyError, TypeError or the like."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import mod

errors = mod("nodes.core.errors")
payloads = mod("nodes.core.payloads")
failures = mod("nodes.core.failures")
payloads = mod("nodes.core.payloads")
images = mod("nodes.core.images")
openai_wire = mod("nodes.providers.openai_wire")
ionos = mod("nodes.providers.ionos")
aigne = mod("nodes.providers.aigne")
agnic = mod("nodes.providers.agnic")
openai_compat = mod("nodes.providers.openai_compat")
synth = mod("nodes.emulator.synth")

RemoteImageError = errors.RemoteImageError
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PNG = synth.generate("p", 16, 16)
B64 = base64.b64encode(PNG).decode()

# Keys every reader looks for, so generated objects often take the shapes the readers expect.
KEYS = [
    "data",
    "images",
    "b64_json",
    "base64",
    "b64Json",
    "url",
    "revised_prompt",
    "choices",
    "message",
    "content",
    "images",
    "image_url",
    "type",
    "text",
    "error",
    "finish_reason",
    "native_finish_reason",
    "refusal",
    "usage",
    "model",
    "id",
    "provider",
    "architecture",
    "output_modalities",
    "messages",
    "errorCode",
    "httpStatus",
    "metadata",
    "reasons",
    "provider_name",
    "raw",
    "link",
    "code",
    "detail",
    "error_description",
    "msg",
]
STRINGS = [
    B64,
    B64[: len(B64) // 2],
    "!!not base64!!",
    f"data:image/png;base64,{B64}",
    "data:image/png;base64,@@",
    "data:,plain",
    "data:",
    "http://127.0.0.1/x.png",
    "https://example.com/a.png",
    "ftp://x/y",
    "file:///etc/passwd",
    "",
    "image",
    "NOT_ENOUGH",
    "output modalities",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(STRINGS)
)
any_json = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=25,
)
# Biased towards the readers' own shapes: known keys at every level.
shaped_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    max_leaves=30,
)
bodies = any_json | shaped_json


def image_or_own_error(reader, body):
    """Run ``reader``; a pack error is fine, any other exception fails the test."""
    try:
        result = reader(body)
    except RemoteImageError as exc:
        assert str(exc)  # a message a user can read
        return None
    assert isinstance(result, payloads.ImageResult) and result.images
    for item in result.images:
        assert isinstance(item.data, bytes) or isinstance(item.url, str)
    json.loads(result.describe() or "{}")  # the STRING output is always valid JSON
    return result


READERS = {
    "ionos": ionos.parse_images,
    "openai_compat": openai_compat.parse_images,
    "aigne": aigne.parse_images,
    "agnic": agnic.parse_chat,
}


@SETTINGS
@given(body=bodies, reader=st.sampled_from(sorted(READERS)))
def test_image_readers_give_images_or_their_own_error(body, reader):
    image_or_own_error(READERS[reader], body)


@SETTINGS
@given(
    items=st.lists(shaped_json | st.sampled_from(STRINGS), min_size=1, max_size=3),
    key=st.sampled_from(["data", "images"]),
)
def test_openai_shaped_replies(items, key):
    for reader in (openai_wire.parse_images, aigne.parse_images):
        image_or_own_error(reader, {key: items, "usage": {"total_tokens": 0}})


@SETTINGS
@given(images_field=any_json, content=any_json, extra=shaped_json)
def test_chat_shaped_replies(images_field, content, extra):
    message = {"role": "assistant", "content": content, "images": images_field}
    body = {"choices": [{"message": message, "finish_reason": extra}], "model": "m"}
    image_or_own_error(agnic.parse_chat, body)


@SETTINGS
@given(body=bodies)
def test_model_list_readers_give_ids_or_their_own_error(body):
    for reader in (openai_wire.parse_model_ids, agnic.image_model_ids, ionos.parse_model_ids):
        try:
            ids = reader(body)
        except RemoteImageError:
            continue
        assert isinstance(ids, list) and all(isinstance(i, str) and i for i in ids)


@SETTINGS
@given(body=bodies)
def test_error_readers_always_give_text(body):
    readers = {provider.error_reader for provider in mod("nodes.core.provider").registered()} - {None}
    assert len(readers) >= 4
    for reader in (failures.plain_error_message, *readers):
        assert isinstance(reader(body), str)


@SETTINGS
@given(
    content=st.binary(max_size=200)
    | st.text(max_size=200).map(str.encode)
    | st.integers(1, 5000).map(lambda depth: b"[" * depth)
)
def test_body_parsing_never_raises(content):
    payloads.parse_json(content)
    assert isinstance(payloads.quote_body(content), str)


def test_deeply_nested_json_is_not_json_and_too_many_values_are_refused_unparsed():
    assert payloads.parse_json(b"[" * 50_000 + b"]" * 50_000) is None  # too deep for the parser
    with pytest.raises(payloads.TooManyValues, match="holds up to 100,001 JSON values"):
        payloads.parse_json(b"[" * 100_000 + b"]" * 100_000)


@SETTINGS
@given(text=st.text(max_size=80) | st.sampled_from(STRINGS))
def test_base64_and_data_urls_give_bytes_or_their_own_error(text):
    for reader in (payloads.b64decode, payloads.split_data_url):
        try:
            reader(text)
        except RemoteImageError:
            pass


MAGIC = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x10\x00\x00\x00WEBPVP8 ", b"GIF89a", b""]


@settings(max_examples=150, deadline=None)
@given(magic=st.sampled_from(MAGIC), rest=st.binary(max_size=300), cut=st.integers(0, len(PNG)))
def test_result_bytes_decode_to_an_image_or_the_packs_error(magic, rest, cut):
    for blob in (magic + rest, PNG[:cut]):
        try:
            image, mask = images.decode_images([blob])
        except RemoteImageError:
            continue
        assert image.ndim == 4 and image.shape[-1] == 3 and mask.shape == image.shape[:3]
