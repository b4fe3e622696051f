"""The retry policy: what is sent again, and after how long. Pure: ``send`` is any function.

- connection refused / connect timeout: nothing reached the provider, so retrying is free;
- 429: the provider asked us to wait -- we wait ``Retry-After`` (capped) a few times;
- 502/503/504: a gateway in front of the model failed; a couple of retries with backoff;
- but a 429 that means "out of quota" and a 503 that means "no route to this model" fail at once:
  waiting does not fix billing or routing;
- anything else, and above all a read timeout or a connection dropped after the request went
  out, is never retried: the provider may have run (and billed) the call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import Unanswered
from .payloads import retry_after_seconds


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


@dataclass
class Policy:
    """Timeouts and retry limits; every figure can be tuned through an environment variable."""

    connect_timeout: float = field(default_factory=lambda: _env_float("HOSTED_IMAGES_CONNECT_TIMEOUT", 15))
    read_timeout: float = field(default_factory=lambda: _env_float("HOSTED_IMAGES_READ_TIMEOUT", 300))
    max_wait: float = field(default_factory=lambda: _env_float("HOSTED_IMAGES_MAX_RETRY_WAIT", 60))
    backoff: float = field(default_factory=lambda: _env_float("HOSTED_IMAGES_RETRY_BACKOFF", 1.0))
    rate_limit_retries: int = 3
    gateway_retries: int = 2
    connect_retries: int = 2
    # the provider's reading of a 429 or 503 that waiting cannot fix (``Provider.lasting_refusal``)
    lasting: Callable[[int, Any], str] | None = None


@dataclass
class Tries:
    """The retries one request has used so far, per cause."""

    connect: int = 0
    rate_limited: int = 0
    gateway: int = 0


def connect_wait(failure: Unanswered, tries: Tries, policy: Policy) -> float | None:
    """Seconds before trying again a request that never reached the provider; None: give up."""
    if failure.how != Unanswered.NEVER_CONNECTED or tries.connect >= policy.connect_retries:
        return None
    tries.connect += 1
    return policy.backoff * 2 ** (tries.connect - 1)


def rate_limit_wait(reply, tries: Tries, policy: Policy) -> float | None:
    """Seconds to wait out a 429 (what the provider asks, else backoff); None when the retries are
    used up or the wait is longer than the cap (the error then says when to try again)."""
    if tries.rate_limited >= policy.rate_limit_retries:
        return None
    wait = retry_after_seconds(reply.headers)
    if wait is None:
        wait = policy.backoff * 2**tries.rate_limited
    if wait > policy.max_wait:
        return None
    tries.rate_limited += 1
    return wait


def gateway_wait(reply, tries: Tries, policy: Policy) -> float | None:
    """Seconds before trying again after a failed gateway (502/503/504), capped; None: give up."""
    if tries.gateway >= policy.gateway_retries:
        return None
    tries.gateway += 1
    wait = retry_after_seconds(reply.headers)
    return min(wait if wait is not None else policy.backoff * 2 ** (tries.gateway - 1), policy.max_wait)


def retry_wait(outcome: Any, tries: Tries, policy: Policy) -> tuple[float, str] | None:
    """(seconds to wait, why) before sending again after ``outcome`` -- a reply (``status``,
    ``headers``, parsed ``body``) or an ``Unanswered`` -- or None when it is final."""
    if isinstance(outcome, Unanswered):
        wait = connect_wait(outcome, tries, policy)
        return None if wait is None else (wait, "could not connect")
    status = outcome.status
    if status in (429, 503) and policy.lasting and policy.lasting(status, outcome.readable_body):
        return None  # out of quota, or no route to the model: waiting will not help
    if status == 429:
        wait = rate_limit_wait(outcome, tries, policy)
        if wait is not None:
            return wait, "rate limited"
    if status in (502, 503, 504):
        wait = gateway_wait(outcome, tries, policy)
        if wait is not None:
            return wait, f"HTTP {status}"
    return None


def send_with_retries(send: Callable[[], Any], policy: Policy, sleep: Callable[[float, str], None]) -> Any:
    """Send until the outcome is final: return that reply (whatever its status), or raise the last
    ``Unanswered``. ``sleep(seconds, why)`` waits between tries."""
    tries = Tries()
    while True:
        try:
            outcome = send()
        except Unanswered as failure:
            outcome = failure
        wait = retry_wait(outcome, tries, policy)
        if wait is None:
            if isinstance(outcome, Unanswered):
                raise outcome
            return outcome
        sleep(*wait)
