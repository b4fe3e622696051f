"""The pack's one exception type.

Every failure a user can meet -- a refused input, a provider's error reply, a network fault, an
undecodable result -- is a ``RemoteImageError`` whose message says which provider and operation
failed, the HTTP status, the provider's own words, its trace id and what to do about it.
(``Unanswered`` never reaches users: the transport words it as a ``RemoteImageError``.)
"""

from __future__ import annotations


class RemoteImageError(Exception):
    """A remote image call (or the checks before it) failed; ``str()`` is the user-facing text."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        operation: str = "",
        model: str = "",
        status: int | None = None,
        trace_id: str = "",
        hint: str = "",
        retry_after: float | None = None,
        json_reply: bool = False,
    ):
        self.message = message
        self.provider = provider
        self.operation = operation
        self.model = model
        self.status = status
        self.trace_id = trace_id
        self.hint = hint
        self.retry_after = retry_after
        self.json_reply = json_reply  # the provider's error reply was JSON (its envelope), not a page
        super().__init__(message)

    def add_context(self, *, provider: str = "", operation: str = "", model: str = "") -> RemoteImageError:
        """Fill in where the error happened, for errors raised by code that does not know."""
        self.provider = self.provider or provider
        self.operation = self.operation or operation
        self.model = self.model or model
        return self

    def __str__(self) -> str:
        where = " ".join(part for part in (self.provider, self.operation) if part)
        head = f"{where} failed" if where else "Request failed"
        details = []
        if self.model:
            details.append(f"model {self.model}")
        if self.status is not None:
            details.append(f"HTTP {self.status}")
        if details:
            head += f" ({', '.join(details)})"
        text = f"{head}: {self.message}"
        if self.trace_id:
            text += f" [trace id: {self.trace_id}]"
        if self.hint:
            text += f"\nHint: {self.hint}"
        return text


class InputError(RemoteImageError):
    """An input was refused before any request was sent."""

    def __init__(self, message: str, *, provider: str = "", operation: str = "", model: str = ""):
        super().__init__(message, provider=provider, operation=operation, model=model)

    def __str__(self) -> str:
        where = " ".join(part for part in (self.provider, self.operation) if part)
        prefix = f"{where}: " if where else ""
        return f"{prefix}invalid input (nothing was sent): {self.message}"


class OptionRefused(InputError):
    """An option the chosen model does not take (or a value it does not allow): ``auto`` may pick
    another model that takes it; any other InputError is the input's own fault."""


class Unanswered(Exception):
    """A request that got no complete reply, as the exchange saw it; ``failures`` words it for
    users and the retry policy reads ``how``."""

    NEVER_CONNECTED = "never connected"  # nothing reached the provider, so a retry is free
    READ_TIMEOUT = "read timeout"  # sent, and no reply in time: it may have been billed
    TLS = "TLS error"
    NOT_A_URL = "not a URL"
    DROPPED = "dropped"  # sent, and the connection ended before the reply was complete

    def __init__(self, how: str, host: str, reason: str):
        super().__init__(f"{how}: {host}: {reason}")
        self.how = how
        self.host = host
        self.reason = reason
