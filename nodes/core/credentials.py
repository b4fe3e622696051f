"""Where keys and base URLs come from, and how they are kept out of every message.

Order for each provider: its environment variable, then the optional credentials file (an INI
file outside ComfyUI's user folder, because ComfyUI serves that folder to any client). Nothing
here ever returns a key to the node layer: ``transport`` asks for it when it builds a request.
"""

from __future__ import annotations

import configparser
import ipaddress
import logging
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import InputError, RemoteImageError

log = logging.getLogger("hosted_images")

CREDENTIALS_ENV = "HOSTED_IMAGES_CREDENTIALS"
DEFAULT_CREDENTIALS_FILE = Path("~/.config/comfyui-hosted-image-apis/credentials.ini")


@dataclass(frozen=True)
class Provider:
    """Static facts about one provider: its name, variables and default endpoint."""

    id: str  # section name in the credentials file, route names
    label: str  # what users read in messages
    key_env: str
    base_url_env: str
    default_base_url: str  # "" when the user must name one
    key_required: bool = True


# --- secrets and redaction -------------------------------------------------------------------

_secrets: set[str] = set()
_secrets_lock = threading.Lock()

# Shapes of credentials that must never be printed even if we did not issue them ourselves.
_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[^\s,;\"']+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]+){0,2}"),
    re.compile(r"agnic_tok_[A-Za-z0-9_-]+"),
    re.compile(r"sk-[A-Za-z0-9_-]{8,}"),
    re.compile(r"blocklet-[A-Za-z0-9_-]{8,}"),
]


def _remember_secret(value: str) -> None:
    if len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every known key, and anything shaped like one, replaced by ***."""
    if not text:
        return text
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


class RedactingFilter(logging.Filter):
    """Scrubs keys from every record that passes through the pack's logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


log.addFilter(RedactingFilter())
logging.getLogger("urllib3").addFilter(RedactingFilter())


# --- the credentials file --------------------------------------------------------------------


def credentials_path() -> Path:
    return Path(os.environ.get(CREDENTIALS_ENV) or DEFAULT_CREDENTIALS_FILE).expanduser()


def credentials_file_warning(path: Path | None = None) -> str:
    """A warning when the credentials file can be read by other users, else ''."""
    path = path or credentials_path()
    try:
        mode = path.stat().st_mode
    except OSError:
        return ""
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"credentials file {path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        )
    return ""


def _file_value(provider: Provider, option: str) -> str:
    path = credentials_path()
    if not path.is_file():
        return ""
    warning = credentials_file_warning(path)
    if warning:
        log.warning(warning)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError) as exc:
        raise RemoteImageError(
            f"cannot read the credentials file {path}: {type(exc).__name__}",
            provider=provider.label,
            hint="it is an INI file with one [section] per provider, e.g. [ionos] with api_key = …",
        ) from None
    return parser.get(provider.id, option, fallback="").strip()


# --- what the rest of the pack asks for ------------------------------------------------------


def api_key(provider: Provider) -> tuple[str, str]:
    """(key, where it came from). The key is '' when none is configured."""
    value = os.environ.get(provider.key_env, "").strip()
    if value:
        _remember_secret(value)
        return value, f"environment variable {provider.key_env}"
    value = _file_value(provider, "api_key")
    if value:
        _remember_secret(value)
        return value, f"credentials file {credentials_path()}"
    return "", ""


def require_key(provider: Provider, operation: str = "") -> str:
    key, _ = api_key(provider)
    if not key and provider.key_required:
        raise RemoteImageError(
            "no API key is configured, so nothing was sent",
            provider=provider.label,
            operation=operation,
            hint=f"set the environment variable {provider.key_env} before starting ComfyUI, or add "
            f"api_key under [{provider.id}] in {credentials_path()}",
        )
    return key


def key_status(provider: Provider) -> dict:
    """Whether a key is configured and from where -- never the value."""
    try:
        key, source = api_key(provider)
    except RemoteImageError as exc:
        return {"configured": False, "source": "", "error": str(exc)}
    status = {"configured": bool(key), "source": source, "required": provider.key_required}
    warning = credentials_file_warning()
    if warning and source.startswith("credentials file"):
        status["warning"] = warning
    return status


def is_loopback_host(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, what: str = "base URL") -> str:
    """Refuse anything but https, or plain http to a loopback host."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{what} {url!r} must start with https:// (or http:// for a loopback host)")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InputError(
            f"{what} {url!r} uses plain http to a non-loopback host; use https:// "
            "(plain http is allowed only for 127.0.0.1, ::1 and localhost)"
        )
    if parts.username or parts.password:
        raise InputError(f"{what} must not carry credentials; set the key through the environment")
    return url


def base_url(provider: Provider, override: str = "") -> str:
    """The endpoint to call: a node's own input, else the variable, else the file, else the default."""
    url = (override or "").strip() or os.environ.get(provider.base_url_env, "").strip()
    if not url:
        url = _file_value(provider, "base_url") or provider.default_base_url
    if not url:
        raise RemoteImageError(
            "no base URL is configured, so nothing was sent",
            provider=provider.label,
            hint=f"set {provider.base_url_env} to your endpoint (e.g. https://hub.example.com/app), "
            "or fill in the node's base_url input",
        )
    return check_url(url).rstrip("/")
