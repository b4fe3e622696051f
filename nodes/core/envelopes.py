"""Reading providers' error envelopes and odd bodies into a message. Pure: no sockets."""

from __future__ import annotations

import json
import re
from typing import Any

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def quote_body(content: bytes, limit: int = 300) -> str:
    """A short readable quote of a body: tags stripped, whitespace folded, cut at ``limit``."""
    text = content[: limit * 4].decode("utf-8", "replace")
    if "<" in text and ">" in text:
        text = _TAG.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    return (text[:limit] + "…") if len(text) > limit else text


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
