"""The retry policy on its own: a fake ``send`` and a recording ``sleep``, no sockets, no clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from conftest import mod

retries = mod("nodes.core.retries")
errors = mod("nodes.core.errors")
Unanswered = errors.Unanswered


@dataclass
class FakeReply:
    status: int
    headers: dict = field(default_factory=dict)
    readable_body: object = None  # what the exchange's Reply gives the policy


def policy(**changes):
    lasting = mod("nodes.providers.openai_wire").lasting_refusal  # what the providers' descriptors set
    settings = {"connect_timeout": 1, "read_timeout": 1, "max_wait": 60, "backoff": 1.0, "lasting": lasting}
    return retries.Policy(**{**settings, **changes})


def run(outcomes: list, **policy_changes):
    """Send through the policy; each send takes the next outcome (a reply, or an Unanswered to raise).
    -> (what came back or was raised, sends made, sleeps as (seconds, why))"""
    sent, slept = [], []

    def send():
        outcome = outcomes[len(sent)]
        sent.append(outcome)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    try:
        result = retries.send_with_retries(send, policy(**policy_changes), lambda *wait: slept.append(wait))
    except Unanswered as failure:
        result = failure
    return result, len(sent), slept


def refused() -> Unanswered:
    return Unanswered(Unanswered.NEVER_CONNECTED, "127.0.0.1:9", "connection refused")


def test_a_success_is_sent_once():
    reply = FakeReply(200)
    assert run([reply]) == (reply, 1, [])


def test_an_error_status_that_waiting_cannot_fix_is_returned_at_once():
    for status in (400, 401, 402, 403, 404, 413, 422, 500):
        reply = FakeReply(status)
        assert run([reply, FakeReply(200)]) == (reply, 1, []), status


def test_never_connected_is_retried_with_backoff_then_given_up():
    failures = [refused(), refused(), refused(), FakeReply(200)]
    result, sends, slept = run(failures)
    assert result is failures[2] and sends == 3
    assert slept == [(1.0, "could not connect"), (2.0, "could not connect")]


def test_never_connected_then_a_reply_returns_the_reply():
    reply = FakeReply(200)
    assert run([refused(), reply]) == (reply, 2, [(1.0, "could not connect")])


@pytest.mark.parametrize("how", [Unanswered.READ_TIMEOUT, Unanswered.DROPPED, Unanswered.TLS, Unanswered.NOT_A_URL])
def test_a_request_that_may_have_been_sent_is_never_retried(how):
    failure = Unanswered(how, "example.com", "reason")
    assert run([failure, FakeReply(200)]) == (failure, 1, [])


def test_429_waits_what_the_provider_asks_three_times_then_gives_up():
    limited = FakeReply(429, {"Retry-After": "7"})
    result, sends, slept = run([limited] * 5)
    assert result is limited and sends == 4
    assert slept == [(7.0, "rate limited")] * 3


def test_429_without_a_wait_backs_off_exponentially():
    result, sends, slept = run([FakeReply(429)] * 3 + [FakeReply(200)])
    assert result.status == 200 and sends == 4
    assert [seconds for seconds, _ in slept] == [1.0, 2.0, 4.0]


def test_429_asking_for_more_than_the_cap_is_returned_at_once():
    limited = FakeReply(429, {"Retry-After": "120"})
    assert run([limited, FakeReply(200)], max_wait=60) == (limited, 1, [])


def test_429_out_of_quota_is_not_retried():
    quota = FakeReply(
        429, readable_body={"error": {"code": "insufficient_quota", "message": "You exceeded your quota"}}
    )
    assert run([quota, FakeReply(200)]) == (quota, 1, [])


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_failed_gateway_is_retried_twice(status):
    failed = FakeReply(status)
    result, sends, slept = run([failed] * 4)
    assert result is failed and sends == 3
    assert slept == [(1.0, f"HTTP {status}"), (2.0, f"HTTP {status}")]


def test_a_gateway_wait_is_what_the_provider_asks_but_capped():
    result, sends, slept = run([FakeReply(503, {"Retry-After": "600"}), FakeReply(200)], max_wait=30)
    assert result.status == 200 and slept == [(30, "HTTP 503")]


def test_503_no_route_to_the_model_is_not_retried():
    no_route = FakeReply(
        503, readable_body={"error": {"message": "No allowed providers are available for the selected model."}}
    )
    assert run([no_route, FakeReply(200)]) == (no_route, 1, [])


def test_each_cause_has_its_own_count():
    outcomes = [refused(), FakeReply(429), FakeReply(502), refused(), FakeReply(429), FakeReply(502), FakeReply(200)]
    result, sends, slept = run(outcomes)
    assert result.status == 200 and sends == 7
    assert [why for _, why in slept] == ["could not connect", "rate limited", "HTTP 502"] * 2


def test_retry_wait_is_none_for_a_final_outcome_and_counts_nothing():
    tries = retries.Tries()
    assert retries.retry_wait(FakeReply(200), tries, policy()) is None
    assert retries.retry_wait(FakeReply(404), tries, policy()) is None
    assert tries == retries.Tries()
