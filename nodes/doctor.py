"""The doctor: what went stale, told without paying (docs/design.md, "No dependence on the day it
runs"). ``python -m nodes.cli.doctor`` prints it; the sidebar's "Check providers" button shows it.

For every provider with a key (or the bundled emulator): whether its endpoint answers and the key
is accepted -- with its model list, which costs nothing (a provider without one is said so) --,
what ``auto`` becomes for each operation, which models the bundled example workflows rely on and
whether they are served, retired or shutting down soon, and how old the pack's catalogue is. It
never sends a paid request and never shows a key. A finding is ``ok``, ``note``, ``warning``
(shutting down soon, an old catalogue) or ``problem`` (something a workflow relies on is broken).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .common import AUTO_MODEL, input_defaults
from .core import clock
from .core.credentials import base_url, key_status
from .core.errors import InputError, RemoteImageError
from .providers.catalogue import EDIT, GENERATE, OPERATION_NAMES, WARN_DAYS, host_of

EXAMPLES = Path(__file__).resolve().parent.parent / "example_workflows" / "api"
STALE_CATALOGUE_DAYS = 45  # a catalogue older than this is re-checked (docs/keeping-up.md)
LEVELS = ("ok", "note", "warning", "problem")


@dataclass
class Finding:
    level: str  # one of LEVELS
    topic: str  # endpoint, key, auto, example, catalogue
    text: str


@dataclass
class ProviderReport:
    id: str
    label: str
    key: str  # where the key comes from, or why there is none -- never the key
    endpoint: str  # scheme://host[:port], or ''
    findings: list[Finding] = field(default_factory=list)

    def add(self, level: str, topic: str, text: str) -> None:
        self.findings.append(Finding(level, topic, text))


def operations_by_provider(node_classes: Mapping) -> dict[str, list[str]]:
    """provider id -> the operations its nodes with a model input do, in a stable order."""
    found: dict[str, list[str]] = {}
    for cls in node_classes.values():
        required = cls.INPUT_TYPES().get("required", {})
        if "model" not in required:
            continue
        operation = EDIT if "image" in required else GENERATE
        operations = found.setdefault(cls.PROVIDER.id, [])
        if operation not in operations:
            operations.append(operation)
    return {provider: sorted(operations, key=(GENERATE, EDIT).index) for provider, operations in found.items()}


@dataclass(frozen=True)
class ExampleModel:
    file: str  # the API-format example
    provider: str  # provider id
    operation: str
    model: str  # as the example names it ("auto" included)
    options: dict  # the example's option inputs set away from the node's defaults


def example_models(node_classes: Mapping, folder: Path = EXAMPLES) -> list[ExampleModel]:
    """Every node of the pack in the bundled API-format examples that names a model."""
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            workflow = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for node in workflow.values() if isinstance(workflow, dict) else ():
            cls = node_classes.get(node.get("class_type")) if isinstance(node, dict) else None
            inputs = (node.get("inputs") or {}) if cls is not None else {}
            model = inputs.get("model")
            if isinstance(model, str):
                defaults = input_defaults(cls)
                operation = EDIT if "image" in cls.INPUT_TYPES().get("required", {}) else GENERATE
                options = {k: v for k, v in inputs.items() if k in defaults and k != "model" and v != defaults[k]}
                found.append(ExampleModel(path.name, cls.PROVIDER.id, operation, model, options))
    return found


def _endpoint(provider) -> tuple[str, str]:
    """(scheme://host[:port] of the configured endpoint, its host name); raises RemoteImageError."""
    url = base_url(provider)
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}", host_of(url)


def check_provider(provider, live, operations: list[str], examples: list[ExampleModel]) -> ProviderReport:
    """Everything the doctor says about one provider; ``live``: its ``common.ModelList`` or None."""
    status = key_status(provider)
    report = ProviderReport(provider.id, provider.label, "", "")
    if status.get("error"):
        report.key = "unreadable"
        report.add("problem", "key", status["error"])
        return report
    if status["configured"]:
        report.key = status["source"]
    elif provider.key_required:
        report.key = f"none: set {provider.key_env}"
        report.add("note", "key", f"no key ({provider.key_env}): not checked, and its nodes cannot run")
        return report
    else:
        report.key = "none: anonymous calls"
    try:
        report.endpoint, host = _endpoint(provider)
    except RemoteImageError as exc:
        report.add("problem", "endpoint", exc.message)
        return report

    catalogue = provider.catalogue
    listed = None
    if live is None:
        report.add(
            "note",
            "endpoint",
            f"{provider.label} has no model list, the one call that costs nothing: its endpoint and key are "
            "checked only by a paid call, which the doctor never makes",
        )
    else:
        try:
            listed = live.fetch()
        except InputError as exc:
            report.add("problem", "endpoint", exc.message)
        except RemoteImageError as exc:
            if exc.status in (401, 403):
                report.add("ok", "endpoint", f"answers (its model list: HTTP {exc.status})")
                report.add("problem", "key", f"refused (HTTP {exc.status}): {exc.message}")
            elif exc.status is not None:
                report.add("problem", "endpoint", f"its model list answered HTTP {exc.status}: {exc.message}")
            else:
                report.add("problem", "endpoint", f"does not answer: {exc.message}")
        else:
            report.add("ok", "endpoint", f"answers: its model list holds {len(listed)} image models")
            if status["configured"]:
                public = getattr(live, "public", False)
                report.add(
                    "note" if public else "ok",
                    "key",
                    "not checked: the model list needs no key, and no other call is free"
                    if public
                    else "accepted (the model list needs it)",
                )

    for operation in operations:
        try:
            chosen = catalogue.auto(operation, listed)[0]
        except InputError as exc:
            report.add("problem", "auto", f"{OPERATION_NAMES[operation]}: {exc.message}")
        else:
            source = "of the models it lists" if listed is not None else "from the catalogue (no list at hand)"
            report.add("ok", "auto", f"{OPERATION_NAMES[operation]}: auto -> {chosen} ({source})")

    for example in (e for e in examples if e.provider == provider.id):
        level, text = _example_model(catalogue, example, listed, host)
        report.add(level, "example", f"{example.file}: {text}")

    age = (clock.today() - catalogue.checked).days
    level = "warning" if age > STALE_CATALOGUE_DAYS else "ok"
    advice = "; re-check it (docs/keeping-up.md)" if level == "warning" else ""
    report.add(level, "catalogue", f"checked {catalogue.checked.isoformat()} ({age} days ago){advice}")
    priced = {entry.price.source: entry.price.checked for entry in catalogue.models if entry.price is not None}
    sources = "; ".join(f"{source} (checked {day.isoformat()})" for source, day in priced.items())
    report.add("ok" if priced else "note", "prices", f"{catalogue.prices}" + (f": {sources}" if sources else ""))
    return report


def _example_model(catalogue, example: ExampleModel, listed, host: str) -> tuple[str, str]:
    operation, model = example.operation, example.model
    if model.strip().lower() == AUTO_MODEL:
        known = {name for entry in catalogue.models for rules in entry.operations.values() for name in rules.options}
        options = {name: value for name, value in example.options.items() if name in known}
        try:
            candidates = catalogue.auto(operation, listed)
        except InputError as exc:
            return "problem", exc.message
        for candidate in candidates:
            rules = catalogue.find(candidate).operations[operation]
            if all(n in rules.options and (not rules.options[n] or v in rules.options[n]) for n, v in options.items()):
                return "ok", f"auto -> {candidate}"
        return "problem", f"auto: none of {', '.join(candidates)} takes {options}"
    entry = catalogue.find(model)
    retired = upcoming = ""
    if entry is not None and entry.shutdown is not None:
        days = (entry.shutdown - clock.today()).days
        instead = f"; use {entry.successor}" if entry.successor else ""
        if days <= 0 and catalogue.dates_apply_at(host):
            return "problem", f"{model} was retired on {entry.shutdown.isoformat()}{instead}"
        if days <= 0:
            retired = f"{model} was retired upstream on {entry.shutdown.isoformat()}{instead}"
        elif days <= WARN_DAYS:
            upcoming = f"{model} shuts down on {entry.shutdown.isoformat()} (in {days} days){instead}"
    if listed is not None:
        names = {name.lower() for name in listed}
        ids = (entry.id, *entry.aliases) if entry else (model,)
        if not any(name.lower() in names for name in ids):
            return "problem", f"{model} is not among the models the endpoint lists now" + (
                f" ({retired})" if retired else ""
            )
    if retired or upcoming:
        return "warning", retired or upcoming
    return "ok", f"{model} is served" if listed is not None else f"{model} (not checked: no model list)"


def check(providers: Mapping, model_lists: Mapping, node_classes: Mapping, examples_folder: Path = EXAMPLES) -> dict:
    """The whole report as JSON-ready data: per provider its findings, and the counts."""
    operations = operations_by_provider(node_classes)
    examples = example_models(node_classes, examples_folder)
    reports = [
        check_provider(provider, model_lists.get(provider_id), operations.get(provider_id, []), examples)
        for provider_id, provider in providers.items()
    ]
    findings = [finding for report in reports for finding in report.findings]
    return {
        "date": clock.today().isoformat(),
        "providers": [
            {
                "id": report.id,
                "label": report.label,
                "key": report.key,
                "endpoint": report.endpoint,
                "findings": [finding.__dict__ for finding in report.findings],
            }
            for report in reports
        ],
        "problems": sum(finding.level == "problem" for finding in findings),
        "warnings": sum(finding.level == "warning" for finding in findings),
    }
