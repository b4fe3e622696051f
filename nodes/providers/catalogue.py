"""The dated model catalogue: one small, typed format for what each provider's models accept.

Each provider has a data module (``<provider>_models.py``) that lists every model it knows, with
one "checked on" date and the sources. The provider modules read every per-model rule from it --
sizes, qualities and other options, the range of every number (``n`` and the like), prompt
limits, which operations a model can do, its shutdown date and successor -- so keeping up with a
provider is a data change in one place. Models a catalogue does not know are another server's
(or newer than the catalogue): they are sent with the options the user set, unchecked, within the
endpoint's own rules (``Catalogue.endpoint``, in the same format), so known and unknown models go
through the same checks.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..core import clock
from ..core import validation as check
from ..core.errors import InputError
from ..core.provider import EDIT, GENERATE  # noqa: F401 -- the operations the catalogue's rules are keyed by

# the rules of one model's operation, part of the one format: data and provider modules import them from here
from .rules import ANY, AUTO, ONE, Estimate, Operation, Price, Range, SizeRule, parse_size, size_text  # noqa: F401

OPERATION_NAMES = {GENERATE: "image generation", EDIT: "image edits"}
CUSTOM = "custom"  # the size combo's entry that means "width x height below"
WARN_DAYS = 30  # a shutdown this close is announced on the node


def today() -> datetime.date:
    """The date the catalogue is judged on: the pack's one clock (``core.clock``)."""
    return clock.today()


@dataclass(frozen=True)
class Model:
    id: str
    operations: Mapping[str, Operation]  # GENERATE and/or EDIT; empty for a model only kept to refuse it
    shutdown: datetime.date | None = None  # the provider stops (or stopped) serving it that day
    successor: str = ""
    source: str = ""  # where its facts come from
    aliases: tuple[str, ...] = ()  # other ids for the same model (dated snapshots, bare names)
    output_modalities: tuple[str, ...] = ()  # chat gateways: what it answers in
    note: str = ""
    text_only: bool = False  # a text model (e.g. a doc page's example): never sent to an image operation
    price: Price | None = None  # its public price; None: the catalogue's ``prices`` says why there is none

    def can(self, operation: str) -> bool:
        return operation in self.operations


@dataclass(frozen=True)
class Catalogue:
    provider: str  # as messages name it
    checked: datetime.date  # the day every entry was last checked against its source
    models: tuple[Model, ...]
    source: str = ""
    # Where the shutdown dates refuse a model before sending (a retirement is a fact about a
    # host): None -- wherever the provider is reached (a hub that always calls the same upstream);
    # a tuple -- only at these API hosts (OpenAI's dates at api.openai.com; a relay, Azure or a
    # local server may serve any name), elsewhere the date is a line in ``info``; () -- nowhere
    # (a gateway that may keep routing an id after its maker shut the model down).
    shutdown_hosts: tuple[str, ...] | None = None
    # operation -> the models ``auto`` may become, best first (see ``auto``)
    preferred: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    retired_by: str = ""  # who retires its models, as messages name them ('' = the provider)
    # operation -> the endpoint's own rules (e.g. the most images a call may ask for), which bound a
    # model this catalogue does not know; a provider checks ``rules(...) or endpoint[operation]``
    endpoint: Mapping[str, Operation] = field(default_factory=dict)
    # where its prices come from, or why it has none (e.g. "no public price"), for the doctor and messages
    prices: str = "no public price"
    price_hosts: tuple[str, ...] | None = None  # where its prices apply (None: wherever it is reached)

    def estimate(self, model: str, images: int, *, size: str = ANY, quality: str = ANY, host: str = "") -> Estimate:
        """What ``images`` images of ``model`` at ``size`` and ``quality`` are expected to cost,
        from its public price (never a guess: no price, no figure)."""
        if self.price_hosts is not None and host not in self.price_hosts:
            return Estimate(f"no public price known for {host or 'this server'}")
        entry = self.find(model)
        price = entry.price if entry is not None else None
        if price is None:
            return Estimate(self.prices.partition(":")[0] if entry is not None else f"no price known for {model}")
        each = price.image(size, quality)
        if each is None:
            rate = price.per_million_tokens.get("output_tokens")
            words = f"priced by tokens (${rate:g} per million output tokens)" if rate else "no per-image price"
            return Estimate(f"{words}: its cost shows once the reply reports its usage", price=price)
        details = ", ".join(part for part in (size, quality) if part and part != ANY)
        what = f"{images} image{'' if images == 1 else 's'}" + (f" at {details}" if details else "")
        return Estimate(f"~${each * images:.3f} for {what}", each * images, each, price)

    def find(self, model: str) -> Model | None:
        wanted = (model or "").strip().lower()
        for entry in self.models:
            if wanted == entry.id.lower() or wanted in (alias.lower() for alias in entry.aliases):
                return entry
        return None

    def able(self, ids: list[str], operation: str) -> list[str]:
        """The ids of a live list that can do ``operation``: known models by their entry, the
        others (newer than the catalogue, or another server's) as they are."""
        return [i for i in ids if (entry := self.find(i)) is None or entry.can(operation)]

    def is_retired(self, entry: Model, on: datetime.date) -> bool:
        return entry.shutdown is not None and entry.shutdown <= on

    def dates_apply_at(self, host: str | None) -> bool:
        """Whether the shutdown dates refuse models at ``host`` (None: the provider's own endpoint)."""
        if self.shutdown_hosts is None:
            return True
        if not self.shutdown_hosts:
            return False
        return host is None or host.lower() in self.shutdown_hosts

    def served(self, operation: str, on: datetime.date | None = None) -> list[str]:
        """The ids of the models that do ``operation`` and are served on ``on`` (today)."""
        on = on or today()
        return [m.id for m in self.models if m.can(operation) and not self.is_retired(m, on)]

    def inputs_taken(self, operation: str, managed: Sequence[str]) -> dict[str, list[str]]:
        """For the web extension, which hides what the chosen model does not take: per model served
        today, which of the ``managed`` node inputs it takes (its options, and ``size`` with
        ``width``/``height`` unless it picks its own size); ``auto``: what any model it may become
        takes. A model not listed (another server's, or newer) takes everything."""

        def taken(rules: Operation) -> set[str]:
            names = set(rules.options)
            if rules.size_rule is not None or set(rules.sizes) - {AUTO}:
                names |= {"size", "width", "height"}
            return names

        on = today()
        found = {
            name: sorted(set(managed) & taken(entry.operations[operation]))
            for entry in self.models
            if entry.can(operation) and not self.is_retired(entry, on)
            for name in (entry.id, *entry.aliases)
        }
        auto: set[str] = set()
        for model in self.auto(operation, None, on) if self.preferred else ():
            auto |= set(found.get(model, ()))
        return {AUTO: sorted(auto), **found}

    def rules(
        self, model: str, operation: str, on: datetime.date | None = None, host: str | None = None
    ) -> Operation | None:
        """The model's rules for ``operation``; None for a model this catalogue does not know.

        A retired model (where the dates apply: see ``shutdown_hosts``) and a model that cannot do
        the operation are refused here, before anything is sent, naming what to use instead. At a
        host where the dates do not apply, a retired model keeps the rules it had -- none, when the
        catalogue kept it only to name its successor: it is sent as the user chose.
        """
        on = on or today()
        entry = self.find(model)
        if entry is None:
            return None
        if entry.text_only:
            served = ", ".join(self.served(operation, on))
            raise InputError(f"{entry.id} cannot be used for {OPERATION_NAMES[operation]}; use one of: {served}")
        if self.is_retired(entry, on):
            if self.dates_apply_at(host):
                instead = (
                    f"use {entry.successor}"
                    if entry.successor
                    else f"use one of: {', '.join(self.served(operation, on))}"
                )
                who = self.retired_by or self.provider
                raise InputError(f"{who} retired {entry.id} on {entry.shutdown.isoformat()}; {instead}")
            if not entry.operations:
                return None  # kept only to name its successor: what this host takes is its own
        if not entry.can(operation):
            served = ", ".join(self.served(operation, on))
            raise InputError(f"{entry.id} cannot be used for {OPERATION_NAMES[operation]}; use one of: {served}")
        return entry.operations[operation]

    def notice(
        self,
        model: str,
        on: datetime.date | None = None,
        live_shutdown: datetime.date | None = None,
        host: str | None = None,
    ) -> str:
        """A line for the node's progress text and ``info`` when the model shuts down soon, or
        already did where the date does not refuse it (another host; a gateway that may still
        route it); '' otherwise. ``live_shutdown`` is the server's own date from its model list,
        which wins over the catalogue's."""
        on = on or today()
        entry = self.find(model)
        date = live_shutdown or (entry.shutdown if entry else None)
        if date is None:
            return ""
        instead = f"; move to {entry.successor}" if entry and entry.successor else ""
        days = (date - on).days
        if days <= 0 and live_shutdown is None and self.dates_apply_at(host):
            return ""  # refused before sending from that day on
        if days < 0 and live_shutdown is None and self.shutdown_hosts:
            return (
                f"{self.provider} retired {model} on its own API on {date.isoformat()}; this server may still "
                f"serve it{instead}"
            )
        if days < 0:
            return f"{model} was shut down upstream on {date.isoformat()}{instead}"
        if days <= WARN_DAYS:
            when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
            return f"{model} shuts down on {date.isoformat()} ({when}){instead}"
        return ""

    def auto(self, operation: str, listed: Sequence[str] | None, on: datetime.date | None = None) -> list[str]:
        """What ``auto`` may become, best first: the preferred models for ``operation`` that are
        not retired and, where the provider's live list is at hand (``listed``), that the list
        carries -- as the list names them. Without a list, the catalogue's own. InputError when
        there is none, naming what the list holds."""
        on = on or today()
        candidates = [
            entry
            for entry in (self.find(i) for i in self.preferred.get(operation, ()))
            if entry is not None and entry.can(operation) and not self.is_retired(entry, on)
        ]
        if listed is None:
            if not candidates:
                raise InputError(f"{self.provider} has no model for {OPERATION_NAMES[operation]} that auto can pick")
            return [entry.id for entry in candidates]
        by_name = {i.lower(): i for i in listed}
        found = [
            next(by_name[name.lower()] for name in (entry.id, *entry.aliases) if name.lower() in by_name)
            for entry in candidates
            if any(name.lower() in by_name for name in (entry.id, *entry.aliases))
        ]
        if found:
            return found
        able = self.able([i for i in listed if (e := self.find(i)) is None or not self.is_retired(e, on)], operation)
        wanted = ", ".join(entry.id for entry in candidates) or "none"
        raise InputError(
            f"model auto: the server lists none of the models auto picks for {OPERATION_NAMES[operation]} "
            f"({wanted}); choose one it lists: {', '.join(able[:20]) or 'it lists none'}"
        )

    def unknown_model_hint(self, model: str, operation: str, live: Sequence[str] | None) -> str:
        """What to say when the provider answers "no such model": its successor if known, and the
        image models it serves now -- from its live list when we have one, else this catalogue."""
        entry = self.find(model)
        parts = []
        if entry is not None and entry.successor:
            parts.append(f"{entry.id} is retired; use {entry.successor}")
        shown, dropped = check.listable_model_ids(live or ())
        if shown:
            more = f" (and {dropped} that are not plain model ids)" if dropped else ""
            parts.append(f"image models the server lists now: {', '.join(shown[:60])}{more}")
        else:
            parts.append(
                f"{self.provider}'s image models as of {self.checked.isoformat()}: {', '.join(self.served(operation))}"
            )
        return "; ".join(parts)


def chosen_options(model: str, rules: Operation | None, options: Mapping, unset: Mapping) -> dict:
    """The options to send: those set away from their unset value (``unset[name]``, else AUTO),
    each allowed for the model when the catalogue knows it."""
    chosen = {}
    for name, value in options.items():
        away = unset.get(name, AUTO)
        if value == away:
            continue
        if rules is not None:
            rules.check_option(model, name, value, away)
        chosen[name] = value
    return chosen


def refuse_transparent_jpeg(model: str, chosen: Mapping) -> None:
    """GPT image models: a transparent background cannot be a JPEG."""
    if chosen.get("background") == "transparent" and chosen.get("output_format") == "jpeg":
        raise InputError(f"a transparent background needs output_format png or webp for {model}, not jpeg")


def refuse_compression_without_format(model: str, chosen: Mapping) -> None:
    """GPT image models: output_compression applies only to a jpeg or webp output_format."""
    if "output_compression" in chosen and chosen.get("output_format") not in ("jpeg", "webp"):
        raise InputError(
            f"output_compression applies only to jpeg and webp output; set output_format to one of them for {model}"
        )


def chosen_size(size: str, width: int, height: int) -> str:
    """The size combo's value, or ``WIDTHxHEIGHT`` from the width and height inputs for custom."""
    size = (size or "").strip() or AUTO
    return f"{width}x{height}" if size == CUSTOM else size


def host_of(url: str) -> str:
    """The host name of a base URL, for ``Catalogue.shutdown_hosts``."""
    return (urlsplit(url).hostname or "").lower()


def size_choices(catalogue: Catalogue, operation: str) -> list[str]:
    """A size combo's entries: auto, every preset of the served models in catalogue order, custom."""
    seen: list[str] = [AUTO]
    for entry in catalogue.models:
        if entry.can(operation) and not catalogue.is_retired(entry, today()):
            seen += [text for text in map(size_text, entry.operations[operation].sizes) if text not in seen]
    return [*seen, CUSTOM]
