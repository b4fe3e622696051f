"""Where keys and base URLs come from, and where a key may go.

Order for each provider: its environment variable, then the optional credentials file (an INI
file outside ComfyUI's user folder, because ComfyUI serves that folder to any client). Nothing
here ever returns a key to the node layer: ``transport`` asks for it when it builds a request.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import re
import stat
from pathlib import Path
from urllib.parse import urlsplit

from . import comfy
from .errors import InputError, RemoteImageError
from .provider import Anonymous, Provider
from .redaction import clip, remember_secret, shown_path

log = logging.getLogger("hosted_images")

CREDENTIALS_ENV = "HOSTED_IMAGES_CREDENTIALS"
DEFAULT_CREDENTIALS_FILE = Path("~/.config/comfyui-hosted-image-apis/credentials.ini")
TRUSTED_HOSTS_ENV = "HOSTED_IMAGES_TRUSTED_HOSTS"  # hosts a key may go to besides the configured one
KEY_VARIABLES_ENV = "HOSTED_IMAGES_KEY_VARIABLES"  # variables a node's api_key_env may name


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
            f"credentials file {shown_path(path)} is readable by other users (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {shown_path(path)}"
        )
    return ""


def _served_by_comfyui(path: Path) -> bool:
    """True when ComfyUI would hand ``path`` to any client: it lies in (or links into) one of the
    folders ComfyUI serves (user settings through /userdata, input, output and temp through /view)."""
    places = {path.absolute(), path.resolve()}
    for folder in comfy.served_directories():
        roots = {Path(folder).absolute(), Path(folder).resolve()}
        if any(place == root or root in place.parents for place in places for root in roots):
            return True
    return False


def _credentials_file(provider_label: str = ""):
    """The parsed credentials file (a ConfigParser), or None when there is none."""
    path = credentials_path()
    if not path.is_file():
        return None
    if _served_by_comfyui(path):
        raise RemoteImageError(
            f"the credentials file {shown_path(path)} is inside a folder ComfyUI serves to any client (user, input, "
            "output or temp), so it was not read and nothing was sent",
            provider=provider_label,
            hint=f"move it outside ComfyUI's folders (e.g. {DEFAULT_CREDENTIALS_FILE}), point {CREDENTIALS_ENV} at "
            "it, then restart ComfyUI; consider the keys in it exposed and replace them",
        )
    warning = credentials_file_warning(path)
    if warning:
        log.warning(warning)
    import configparser  # only when there is a file: most set-ups have none, and it is slow to import

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError) as exc:
        raise RemoteImageError(
            f"cannot read the credentials file {shown_path(path)}: {type(exc).__name__}",
            provider=provider_label,
            hint="it is an INI file with one [section] per provider, named by its id, with api_key = …",
        ) from None
    return parser


def _file_value(provider: Provider, option: str) -> str:
    parser = _credentials_file(provider.label)
    return parser.get(provider.id, option, fallback="").strip() if parser is not None else ""


# --- what the rest of the pack asks for ------------------------------------------------------


def api_key(provider: Provider) -> tuple[str, str]:
    """(key, where it came from). The key is '' when none is configured."""
    value = os.environ.get(provider.key_env, "").strip() if provider.key_env else ""
    source = f"environment variable {provider.key_env}"
    if not value:
        value = _file_value(provider, "api_key")
        source = f"credentials file {shown_path(credentials_path())} [{provider.id}]"
    if not value:
        return "", ""
    remember_secret(value)
    _check_key_characters(provider, value, source)
    return value, source


def _check_key_characters(provider: Provider, key: str, source: str) -> None:
    """A key travels in an HTTP header: a line break or a space inside it would break the request
    (or smuggle a header), so it is refused before sending -- without ever quoting it."""
    bad = next((i for i, char in enumerate(key) if not "!" <= char <= "~"), None)
    if bad is None:
        return
    char = key[bad]
    what = "a line break" if char in "\r\n" else "a space" if char == " " else f"the character U+{ord(char):04X}"
    raise RemoteImageError(
        f"the key in {source} contains {what} (character {bad + 1} of {len(key)}), which cannot be sent in "
        "an HTTP header, so nothing was sent",
        provider=provider.label,
        hint=(
            "set the key again as one line of printable characters (copy it from the provider's page), "
            "then restart ComfyUI"
        ),
    )


def require_key(provider: Provider, operation: str = "") -> str:
    key, _ = api_key(provider)
    if not key and provider.key_required:
        where = (
            f"set the environment variable {provider.key_env} before starting ComfyUI, or add "
            if provider.key_env
            else "add "
        )
        raise RemoteImageError(
            "no API key is configured, so nothing was sent",
            provider=provider.label,
            operation=operation,
            hint=f"{where}api_key under [{provider.id}] in {shown_path(credentials_path())}",
        )
    return key


def key_status(provider: Provider) -> dict:
    """Whether a key is configured and from where -- never the value; a key from the credentials
    file is named by its section, not the file's path (the sidebar shows this to any client)."""
    try:
        key, source = api_key(provider)
    except RemoteImageError as exc:
        return {"configured": False, "source": "", "error": str(exc)}
    from_file = source.startswith("credentials file")
    if from_file:
        source = f"credentials file, section [{provider.id}]"
    status = {"configured": bool(key), "source": source, "required": provider.key_required}
    warning = credentials_file_warning()
    if warning and from_file:
        status["warning"] = warning
    return status


def anonymous_mode(provider: Provider) -> Anonymous | None:
    """How calls of ``provider`` go without a key, when they do: its anonymous mode (note and
    hints), if it has one to tell and no key is configured; else None."""
    mode = provider.anonymous
    if mode is None or not (mode.note or mode.status_hints) or key_status(provider)["configured"]:
        return None
    return mode


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")  # by convention; a key is never all capitals


def _listed(variable: str) -> list[str]:
    """The comma- or space-separated entries of an environment variable."""
    return [item for item in re.split(r"[,\s]+", os.environ.get(variable, "")) if item]


def provider_with_key_from(provider: Provider, name: str) -> Provider:
    """``provider`` with its key taken from what a node input names ('' = send no key).

    A workflow may name only the provider's own variable, a variable the user listed in
    HOSTED_IMAGES_KEY_VARIABLES, or a section of the credentials file: never any other
    environment variable (a shared workflow could otherwise send e.g. a cloud secret as a key).
    """
    name = (name or "").strip()
    if name == provider.key_env:
        return provider
    own = provider.own_id  # the copies keep it: the journal and the limits name the provider itself
    if not name:
        return dataclasses.replace(
            provider, id=f"{provider.id}:anonymous", key_env="", anonymous=Anonymous(), base_id=own
        )
    if _ENV_NAME.match(name) and name in _listed(KEY_VARIABLES_ENV):
        return dataclasses.replace(provider, id=f"{provider.id}:{name}", key_env=name, base_id=own)
    parser = _credentials_file(provider.label)
    if parser is not None and parser.has_section(name):
        # the section's own base_url (else the provider's default endpoint) is where its key may go
        return dataclasses.replace(provider, id=name, key_env="", base_url_env="", anonymous=None, base_id=own)
    if not _ENV_NAME.match(name):
        raise InputError(
            "api_key_env must be the NAME of an environment variable (capital letters, digits and _, e.g. "
            f"{provider.key_env or 'MY_SERVER_KEY'}) or of a credentials-file section, never the key itself"
        )
    raise InputError(
        f"api_key_env names {name}, which a workflow may not use: it may name only "
        f"{provider.key_env or 'the provider’s variable'}, "
        f"a variable listed in {KEY_VARIABLES_ENV} (comma-separated, set before starting ComfyUI) or a section of the "
        f"credentials file {shown_path(credentials_path())}"
    )


def ip_of(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host name is written as (``[…]`` for IPv6; an IPv4-mapped IPv6 address as
    its IPv4 address), or None when it is a name."""
    try:
        ip = ipaddress.ip_address((text or "").strip("[]"))
    except ValueError:
        return None
    return getattr(ip, "ipv4_mapped", None) or ip


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 and exactly ``localhost`` -- not ``*.localhost``, which DNS may send anywhere."""
    if (host or "").strip("[]").lower() == "localhost":
        return True
    address = ip_of(host)
    return address is not None and address.is_loopback


def check_url(url: str, *, what: str = "base URL", plain_http_anywhere: bool = False) -> str:
    """Refuse anything but a well-formed https URL, or plain http to a loopback host (to any host
    with ``plain_http_anywhere``: result links, which never carry a key)."""
    url = (url or "").strip()
    if any(char.isspace() or ord(char) < 32 for char in url):
        raise InputError(f"{what} {clip(url, 200)!r} contains spaces or control characters; it is not a valid URL")
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise InputError(f"{what} {clip(url, 200)!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InputError(f"{what} {clip(url, 200)!r} must start with https:// (or http:// for a loopback host)")
    if parts.username or parts.password:
        raise InputError(f"{what} must not carry credentials; set the key through the environment")
    if parts.scheme == "http" and not is_loopback_host(host) and not plain_http_anywhere:
        raise InputError(
            f"{what} {url!r} uses plain http to a non-loopback host; use https:// "
            "(plain http is allowed only for 127.0.0.1, ::1 and localhost)"
        )
    return url


def configured_base_url(provider: Provider) -> str:
    """The endpoint set outside the workflow: the variable, else the file, else the default ('' = none)."""
    url = os.environ.get(provider.base_url_env, "").strip() if provider.base_url_env else ""
    return url or _file_value(provider, "base_url") or provider.default_base_url


def base_url(provider: Provider, override: str = "") -> str:
    """The endpoint to call: a node's own input, else the one configured outside the workflow."""
    url = (override or "").strip() or configured_base_url(provider)
    if not url:
        raise RemoteImageError(
            "no base URL is configured, so nothing was sent",
            provider=provider.label,
            hint=f"set {provider.base_url_env} to your endpoint (e.g. https://hub.example.com/app), "
            "or fill in the node's base_url input",
        )
    return check_url(url).rstrip("/")


def _origin(url: str) -> tuple[str, int | None]:
    """(host, port) of a URL; the port None when the URL names none."""
    try:
        parts = urlsplit(url)
        return (parts.hostname or "").lower(), parts.port
    except ValueError:
        return "", None


def _default_port(url: str) -> int:
    return 443 if url.lower().startswith("https:") else 80


def trusted_hosts() -> list[tuple[str, int | None]]:
    """HOSTED_IMAGES_TRUSTED_HOSTS as (host, port) -- port None: any port. Entries are exact host
    names or addresses, with an optional ``:port`` (``[::1]:8080`` for IPv6); wildcards are not
    supported: an entry with ``*`` is ignored, with a warning in the log."""
    found = []
    for item in _listed(TRUSTED_HOSTS_ENV):
        if "*" in item:
            log.warning("%s: %r is ignored: wildcards are not supported, list each host", TRUSTED_HOSTS_ENV, item)
            continue
        host, port = _origin(item if "://" in item else f"//{item}")
        if host:
            found.append((host, port))
    return found


def ignored_trusted_hosts() -> list[str]:
    """Entries of HOSTED_IMAGES_TRUSTED_HOSTS that are not honoured (wildcards)."""
    return [item for item in _listed(TRUSTED_HOSTS_ENV) if "*" in item]


def check_key_destination(provider: Provider, url: str) -> None:
    """Refuse to send a key anywhere the user did not choose outside the workflow.

    A key goes only to the endpoint configured outside the workflow (environment or credentials
    file, else the provider's default): its host, and its port too when that host is loopback --
    any local process may listen on another port --, or to hosts (with their port, when given)
    the user listed in HOSTED_IMAGES_TRUSTED_HOSTS. A shared workflow can never send it elsewhere.
    """
    host, port = _origin(url)
    port = port or _default_port(url)
    configured_url = configured_base_url(provider)
    configured, configured_port = _origin(configured_url)
    configured_port = configured_port or _default_port(configured_url)
    if host and host == configured and (port == configured_port or not is_loopback_host(host)):
        return
    if any(host == name and (wanted is None or wanted == port) for name, wanted in trusted_hosts()):
        return
    shown = f"{host}:{port}" if is_loopback_host(host) else host
    where = f"{provider.key_env}" if provider.key_env else f"[{provider.id}] of the credentials file"
    fix = f"set {provider.base_url_env} to it" if provider.base_url_env else f"set base_url in [{provider.id}]"
    raise InputError(
        f"the key from {where} would go to {shown or url}, which is not a trusted host (the endpoint configured "
        f"outside the workflow is {configured or 'not set'}); add {shown} to {TRUSTED_HOSTS_ENV} (comma-separated) "
        f"or {fix}, then restart ComfyUI -- a workflow alone cannot send a key to a new host or port"
    )
