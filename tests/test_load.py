"""Load: 50 node calls at once against a rate-limited local IONOS server.

Every call must end, with its own images or a clear rate-limit error; no result may reach the
wrong call; and the server must see exactly the requests the retry policy allows: one per call,
plus one per 429 that was waited out, at most three waits per call.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import numpy as np

from conftest import assert_no_secret, journal_lines, mod
from provider_table import BY_NAME, api_calls, mount, picture, slot_server  # noqa: F401 -- fixtures

errors = mod("nodes.core.errors")
synth = mod("nodes.emulator.synth")
ionos_emulator = mod("nodes.emulator.ionos")

CALLS = 50
RATE_LIMIT_RETRIES = mod("nodes.core.transport").Policy.rate_limit_retries


def test_fifty_concurrent_calls_against_a_rate_limited_server(mount, pack_logs):
    target = BY_NAME["ionos"]
    app = mount(target)
    app.bucket = ionos_emulator.ImageBucket(per_minute=600, burst=10)  # 10 at once, then 10 a second
    granted, lock, take = Counter(), threading.Lock(), app.bucket.take

    def counted_take(amount: int) -> float:  # the server's decisions: an image, or a 429
        wait = take(amount)
        with lock:
            granted["ok" if wait == 0 else "429"] += 1
        return wait

    app.bucket.take = counted_take

    prompts = [f"load test call {index}" for index in range(CALLS)]
    outcomes: dict[str, object] = {}
    black = picture(value=0.0)  # the emulator's edit gives round(prompt colour / 2) on black

    def one(prompt: str) -> None:
        try:
            outcomes[prompt] = target.run(image=black, prompt=prompt)
        except Exception as exc:  # noqa: BLE001 -- judged below
            outcomes[prompt] = exc

    threads = [threading.Thread(target=one, args=(p,), name=f"load-{i}") for i, p in enumerate(prompts)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.1, 20 - (time.monotonic() - started)))
    assert not any(thread.is_alive() for thread in threads), "a call hung"
    elapsed = time.monotonic() - started

    per_prompt = Counter(request.form()["prompt"] for request in api_calls(app, target))
    # besides the image calls, one read of the model list that the fifty auto models share
    assert [r.path for r in app.requests if target.api_path not in r.path] == ["/v1/models"]
    assert set(per_prompt) == set(prompts) and sum(per_prompt.values()) == len(app.requests) - 1
    succeeded = failed = 0
    for prompt in prompts:
        result, sent = outcomes[prompt], per_prompt[prompt]
        assert 1 <= sent <= 1 + RATE_LIMIT_RETRIES, f"{prompt}: {sent} requests, more than the policy allows"
        if isinstance(result, Exception):
            failed += 1
            assert isinstance(result, errors.RemoteImageError) and result.status == 429, repr(result)
            text = str(result)
            attempts = f"after {1 + RATE_LIMIT_RETRIES} attempt(s)"
            assert "IONOS image edit" in text and "image rate limit exceeded" in text and attempts in text
            assert sent == 1 + RATE_LIMIT_RETRIES, "a call gave up before the policy's last retry"
            assert_no_secret(text)
        else:
            succeeded += 1
            (image,) = result
            expected = np.round(np.array(synth.prompt_colour(prompt)) / 2)
            got = (image[0].reshape(-1, 3).median(0).values * 255).numpy()  # median: the caption is small
            assert np.abs(got - expected).max() <= 1, f"{prompt} got another call's image"
    # Exactly the requests the policy allows: every granted image is a success, every refusal a 429
    # that was either waited out (one more request) or was a call's last.
    assert granted["ok"] == succeeded and succeeded + failed == CALLS
    assert sum(per_prompt.values()) == CALLS + granted["429"] - failed
    assert granted["429"] > 0, "the server never rate-limited: the test tested nothing"
    # The spend journal: one line per call, its retries as attempts, saying how it ended
    lines = [line for line in journal_lines() if line["event"] == "call" and line["operation"] != "model list"]
    assert len(lines) == CALLS
    assert sum(line["attempts"] for line in lines) == len(app.requests) - 1
    ok = [line for line in lines if line["outcome"] == "ok"]
    refused = [line for line in lines if line["outcome"] == "failed"]
    assert len(ok) == succeeded and len(refused) == failed
    assert all(line["images_asked"] == line["images_returned"] == 1 and line["status"] == 200 for line in ok)
    assert all(
        line["status"] == 429 and line["failure"] == "refused" and line["attempts"] == 1 + RATE_LIMIT_RETRIES
        for line in refused
    )
    assert {(line["provider"], line["operation"]) for line in lines} == {("ionos", "image edit")}
    print(f"{succeeded} images, {failed} rate-limit errors, {sum(per_prompt.values())} requests, {elapsed:.1f}s")
    assert_no_secret(pack_logs.text)
