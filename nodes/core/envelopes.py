"""Reading providers' error envelopes and odd bodies into a message. Pure: no sockets."""

from __future__ import annotations

import json
import re
from typing import Any

from .credentials import clip

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")

INFO_LIMIT = 32_000  # characters of an info STRING output: it is kept in /history and in saved files
INFO_STRING_LIMIT = 8_000  # characters of any one text in it
INFO_ITEMS = 100  # entries of any one list or object in it
INFO_DEPTH = 8


def quote_body(content: bytes, limit: int = 300) -> str:
    """A short readable quote of a body: tags stripped, whitespace folded, keys redacted and
    terminal controls stripped, then cut at ``limit``."""
    text = content[: limit * 4].decode("utf-8", "replace")
    if "<" in text and ">" in text:
        text = _TAG.sub(" ", text)
    return clip(_SPACE.sub(" ", text).strip(), limit)


def bounded_json(value: Any) -> str:
    """Readable JSON of a reply's details, fit to keep: every text redacted and cut, lists and
    objects cut to their first entries, the whole bounded -- a reply field of 100 MB must not end
    up in /history."""
    return clip(json.dumps(_bounded(value, 0), indent=2, ensure_ascii=False, sort_keys=True), INFO_LIMIT)


def _bounded(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return clip(value, INFO_STRING_LIMIT)
    if isinstance(value, (dict, list, tuple)) and depth >= INFO_DEPTH:
        return "…"
    if isinstance(value, dict):
        items = {clip(str(name), 200): _bounded(item, depth + 1) for name, item in list(value.items())[:INFO_ITEMS]}
        if len(value) > INFO_ITEMS:
            items["…"] = f"{len(value) - INFO_ITEMS} more entries not shown"
        return items
    if isinstance(value, (list, tuple)):
        items = [_bounded(item, depth + 1) for item in value[:INFO_ITEMS]]
        if len(value) > INFO_ITEMS:
            items.append(f"… {len(value) - INFO_ITEMS} more entries not shown")
        return items
    return value


def lasting_refusal(status: int, body: Any) -> str:
    """A hint when a 429 or 503 means something waiting cannot fix, else ''.

    OpenAI answers 429 with code/type ``insufficient_quota`` when billing is exhausted, and
    OpenRouter-style gateways answer 503 "No allowed providers are available" when the account's
    routing settings leave no provider for the model: retrying only wastes the user's time.
    """
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    codes = {str(error.get(name) or "").lower() for name in ("code", "type")}
    if status == 429 and "insufficient_quota" in codes:
        return (
            "billing: the account is out of quota or credits. Add credits or raise the spending limit in the "
            "provider's billing settings; waiting will not help, so it was not retried"
        )
    if status == 503 and "no allowed providers" in str(error.get("message") or "").lower():
        return (
            "routing: no provider may serve this model under the account's provider settings (allowed or ignored "
            "providers, data policy). Change them or pick another model; waiting will not help, so it was not retried"
        )
    return ""


def default_error_message(body: Any) -> str:
    """The provider's own words from any of the envelopes we know, or ''."""
    if isinstance(body, dict):
        # IONOS: {"httpStatus": 401, "messages": [{"errorCode": "...", "message": "..."}]}
        messages = body.get("messages")
        if isinstance(messages, list) and messages:
            parts = []
            for item in messages:
                if isinstance(item, dict):
                    code = item.get("errorCode")
                    text = str(item.get("message") or "")
                    parts.append(f"{text} ({code})" if code else text)
                elif item:
                    parts.append(str(item))
            if any(parts):
                return "; ".join(p for p in parts if p)
        error = body.get("error")
        # OpenAI / OpenRouter: {"error": {"message": ..., "code": ..., "type": ...}}
        if isinstance(error, dict):
            text = str(error.get("message") or "")
            code = error.get("code") or error.get("type")
            if text and code and str(code) not in text:
                text = f"{text} ({code})"
            return text or json.dumps(error)[:300]
        # AIGNE Hub: {"error": "<string>"}; Agnic 401 adds error_description / message
        if isinstance(error, str) and error:
            extra = body.get("error_description") or body.get("message")
            return f"{error}: {extra}" if extra and extra != error else error
        for key in ("message", "detail", "error_description", "msg"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, list) and value:  # FastAPI-style validation details
                return "; ".join(str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value)
    return ""


def parse_json(content: bytes) -> Any:
    """The JSON value of a body, or None when it is not JSON (deep nesting counts as not JSON)."""
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
