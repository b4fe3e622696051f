"""Reading event streams: the incremental parser (core/sse.py) and OpenAI's image events
(openai_wire.ImageStream), without a network. The same streams over real HTTP are in
test_streaming.py."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import mod

sse = mod("nodes.core.sse")
errors = mod("nodes.core.errors")
openai_wire = mod("nodes.providers.openai_wire")
synth = mod("nodes.emulator.synth")
ServerEvent = sse.ServerEvent
RemoteImageError = errors.RemoteImageError

STREAM = (
    b"\xef\xbb\xbf: OPENROUTER PROCESSING\n\n"  # a byte-order mark, a keep-alive comment and a blank line
    b"event: image_generation.partial_image\r\n"
    b'data: {"type":"image_generation.partial_image","partial_image_index":0}\r\n\r\n'
    b"id: 7\rretry: 100\r"  # CR alone ends lines too; id and retry are read and ignored
    b"data: first line\rdata:second line\r\r"
    b":\n"
    b"event: image_generation.completed\n"
    b"unknown-field: x\n"
    b"data\n"  # a field without a colon: an empty data line
    b'data: {"type":"image_generation.completed"}\n\n'
)
EXPECTED = [
    ServerEvent("image_generation.partial_image", '{"type":"image_generation.partial_image","partial_image_index":0}'),
    ServerEvent("message", "first line\nsecond line"),
    ServerEvent("image_generation.completed", '\n{"type":"image_generation.completed"}'),
]


def read(pieces, reader=None) -> list:
    reader = reader or sse.EventStreamReader()
    events = [event for piece in pieces for event in reader.feed(piece)]
    return events + reader.close()


def test_events_comments_and_every_line_ending():
    assert read([STREAM]) == EXPECTED


def test_a_stream_fed_a_byte_at_a_time_gives_the_same_events():
    assert read([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_however_the_bytes_are_split_the_events_are_the_same(cuts):
    bounds = [0, *sorted(cuts), len(STREAM)]
    assert read([STREAM[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]) == EXPECTED


def test_a_cr_at_the_end_of_a_piece_waits_for_a_possible_lf():
    reader = sse.EventStreamReader()
    assert reader.feed(b"data: a\r") == []
    assert reader.feed(b"\n\r") == []  # CRLF then a lone CR (not yet known to be alone)
    assert reader.feed(b"\n") == [ServerEvent("message", "a")]  # the CR was a CRLF: one blank line


def test_events_come_out_as_soon_as_they_are_complete():
    reader = sse.EventStreamReader()
    assert reader.feed(b"event: x\ndata: 1\n") == []
    assert reader.feed(b"\ndata: 2") == [ServerEvent("x", "1")]
    assert reader.feed(b"\n\n") == [ServerEvent("message", "2")]


def test_the_end_of_the_stream_keeps_a_whole_last_event_and_drops_a_cut_one():
    assert read([b"data: whole\n"]) == [ServerEvent("message", "whole")]  # only the closing blank line missing
    assert read([b'data: {"b64_json": "iVBO']) == []  # cut inside its line
    assert read([b"event: x\n"]) == []  # no data: nothing to dispatch


def test_an_event_larger_than_the_bound_is_refused_not_buffered():
    reader = sse.EventStreamReader(max_event_bytes=1000)
    reader.feed(b"data: " + b"x" * 500 + b"\n")
    with pytest.raises(RemoteImageError, match="an event of the stream is larger than 1,000 bytes"):
        reader.feed(b"data: " + b"y" * 500 + b"\n")


def test_a_line_without_end_is_refused_once_it_passes_the_bound():
    reader = sse.EventStreamReader(max_event_bytes=1000)
    for _ in range(9):
        assert reader.feed(b"z" * 100) == []
    with pytest.raises(RemoteImageError, match="larger than 1,000 bytes"):
        reader.feed(b"z" * 200)


def test_many_small_events_do_not_add_up_to_the_bound():
    reader = sse.EventStreamReader(max_event_bytes=100)
    events = [event for _ in range(1000) for event in reader.feed(b": keep-alive\n\ndata: 12345678\n\n")]
    assert len(events) == 1000


def test_a_long_line_in_small_pieces_is_scanned_once():
    """A 4 MB data line in 1 kB pieces: scanning the whole buffer for a line end at every piece
    would read about 8 GB; scanning only the new bytes reads 4 MB."""
    reader = sse.EventStreamReader()
    scanned = []
    find = bytearray.find

    class Counting(bytearray):
        def find(self, sub, start=0, end=None):
            stop = len(self) if end is None else end
            scanned.append(max(0, stop - start))
            return find(self, sub, start, stop)

    reader._buffer = Counting()
    piece = b"a" * 1024
    reader.feed(b"data: ")
    for _ in range(4096):
        reader.feed(piece)
    assert reader.feed(b"\n\n") == [ServerEvent("message", "a" * 4096 * 1024)]
    assert sum(scanned) < 3 * 4096 * 1024


# --- OpenAI's image events ---------------------------------------------------------------------

PNG = synth.generate("fox", 64, 64)
B64 = base64.b64encode(PNG).decode()
USAGE = {
    "input_tokens": 5,
    "output_tokens": 372,
    "total_tokens": 377,
    "input_tokens_details": {"text_tokens": 5, "image_tokens": 0},
}


def event(kind: str, **fields) -> SimpleNamespace:
    return SimpleNamespace(event=kind, data=json.dumps({"type": kind, **fields}))


def partial(index: int, b64: str = B64):
    return event("image_generation.partial_image", b64_json=b64, partial_image_index=index, size="1024x1024")


def completed(b64: str = B64, usage=USAGE):
    return event("image_generation.completed", b64_json=b64, size="1024x1024", quality="medium", usage=usage)


STREAMED = SimpleNamespace(content_type="text/event-stream")


def test_partials_are_shown_in_order_and_completed_images_kept():
    stream = openai_wire.ImageStream(count=2, partials=2)
    shown = []
    stream.show = lambda step, blob: shown.append((step, blob is not None))
    for item in (
        partial(0),
        partial(1),
        completed(),
        partial(0),
        completed(),
    ):  # the second image's last partial never came
        stream.take(item)
    result = stream.result(STREAMED)
    assert stream.steps == 6 and shown == [(1, True), (2, True), (3, False), (4, True), (6, False)]
    assert [image.data for image in result.images] == [PNG, PNG] and stream.completed == [PNG, PNG]
    assert result.info["usage"]["output_tokens"] == 744 and result.info["partial_images"] == 3
    assert result.info["quality"] == "medium" and "b64_json" not in result.info and "type" not in result.info


@pytest.mark.parametrize(
    "item",
    [
        SimpleNamespace(
            event="error",
            data='{"type":"error","error":{"message":"Upstream failed","type":"server_error","code":"x1"}}',
        ),
        SimpleNamespace(event="message", data='{"error":{"message":"Upstream failed","code":"x1"}}'),
        SimpleNamespace(
            event="message", data='{"type":"error","code":"x1","message":"Upstream failed"}'
        ),  # the Responses API's shape
    ],
    ids=["error-event", "error-object", "flat-error"],
)
def test_an_error_event_raises_with_the_providers_words(item):
    stream = openai_wire.ImageStream(count=2, partials=1)
    stream.take(completed())
    with pytest.raises(
        RemoteImageError, match=r"error in the stream after 1 of 2 images had completed: Upstream failed"
    ) as caught:
        stream.take(item)
    assert "x1" in caught.value.message
    assert stream.completed == [PNG]  # what was paid for is still at hand


def test_a_damaged_partial_image_shows_nothing_and_fails_nothing():
    stream = openai_wire.ImageStream(count=1, partials=1)
    shown = []
    stream.show = lambda step, blob: shown.append(blob)
    stream.take(partial(0, b64="@@not base64@@"))
    stream.take(completed())
    assert shown == [None, None] and len(stream.result(STREAMED).images) == 1


def test_other_events_and_the_done_marker_are_skipped():
    stream = openai_wire.ImageStream(count=1, partials=0)
    stream.take(SimpleNamespace(event="image_generation.in_progress", data='{"type":"image_generation.in_progress"}'))
    stream.take(completed())
    stream.take(SimpleNamespace(event="message", data="[DONE]"))
    assert len(stream.result(STREAMED).images) == 1


def test_an_event_that_is_not_json_is_an_error():
    with pytest.raises(RemoteImageError, match="event of the stream is not a JSON object"):
        openai_wire.ImageStream(count=1, partials=1).take(
            SimpleNamespace(event="image_generation.partial_image", data="{cut")
        )


def test_a_stream_that_ends_without_a_completed_image_is_an_error_that_may_have_been_billed():
    stream = openai_wire.ImageStream(count=1, partials=2)
    stream.take(partial(0))
    with pytest.raises(
        RemoteImageError, match=r"the stream ended without a completed image \(1 partial image\(s\) came\)"
    ) as caught:
        stream.result(STREAMED)
    assert "billed" in caught.value.hint


def test_a_plain_json_reply_is_read_as_always():
    """A server that ignores stream: true answers with the usual JSON."""
    reply = SimpleNamespace(content_type="application/json", json=lambda: {"data": [{"b64_json": B64}], "usage": USAGE})
    result = openai_wire.ImageStream(count=1, partials=2).result(reply)
    assert [image.data for image in result.images] == [PNG] and result.info["usage"] == USAGE
