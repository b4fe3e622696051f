"""Checks requests and replies against OpenAI's published OpenAPI document (conftest.SPECS).

The document is OpenAPI 3.1 but still says ``nullable: true`` in places, so schemas are checked
with openapi-schema-validator's OAS 3.0 validator, taught 3.1's ``type: "null"``: it understands
``nullable`` and takes Python bytes for ``format: binary`` (multipart file parts). The 3 MB file
is parsed once per process.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

import pytest

from conftest import SPECS

SPEC_FILE = "openai-openapi.yaml"


def spec_path() -> Path | None:
    path = SPECS / SPEC_FILE
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def _document() -> dict:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(spec_path(), encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)


def require_spec() -> dict:
    """The parsed document, or a skip naming where it was looked for."""
    if spec_path() is None:
        pytest.skip(f"{SPEC_FILE} not found in {SPECS}: set HOSTED_IMAGES_SPECS to the folder of the published specs")
    pytest.importorskip(
        "openapi_schema_validator", reason="the spec checks need openapi-schema-validator (tests/requirements.txt)"
    )
    pytest.importorskip("yaml", reason="the spec checks need PyYAML (tests/requirements.txt)")
    return _document()


def schema(name: str) -> dict:
    return require_spec()["components"]["schemas"][name]


@lru_cache(maxsize=1)
def _validator_class():
    """OAS 3.0's validator (``nullable``, bytes for ``format: binary``) that also knows 3.1's
    ``type: "null"``, which the document uses 856 times next to 111 ``nullable: true``."""
    from jsonschema.validators import extend
    from openapi_schema_validator import OAS30Validator, _keywords

    def type_keyword(validator, data_type, instance, schema):
        if instance is None and data_type == "null":
            return
        yield from _keywords.type(validator, data_type, instance, schema)

    checker = OAS30Validator.TYPE_CHECKER.redefine("null", lambda _checker, instance: instance is None)
    return extend(OAS30Validator, validators={"type": type_keyword}, type_checker=checker)


@cache
def _validator(name: str):
    from openapi_schema_validator._format import oas30_format_checker

    components = require_spec()["components"]
    return _validator_class()(
        {"$ref": f"#/components/schemas/{name}", "components": components}, format_checker=oas30_format_checker
    )


def errors(name: str, instance) -> list[str]:
    """Every way ``instance`` breaks the schema ``name`` (empty when it is valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}"
        for e in _validator(name).iter_errors(instance)
    ]


def event_schema(union: str, event_type: str) -> str:
    """The member of a stream-event union (e.g. ImageGenStreamEvent) whose ``type`` is
    ``event_type``. The union's discriminator has no mapping, which the validator would read as
    a schema named after the type, so events are checked against their member directly."""
    for member in schema(union)["anyOf"]:
        name = member["$ref"].rsplit("/", 1)[-1]
        if event_type in schema(name)["properties"]["type"]["enum"]:
            return name
    raise AssertionError(f"{union} has no event of type {event_type!r}")


# The stored document (API version 2.3.0) predates gpt-image-2.5 (2026-09-08): its quality enum
# lacks the two tiers 2.5 and 2.6 added. A request using one is checked without that field; the
# values themselves come from the pack's catalogue and are checked by the emulator.
NEWER_THAN_SPEC = {"quality": {"xhigh", "max"}}


def check(name: str, instance) -> None:
    """Valid against ``name``, and every field one the schema declares (it allows extra ones)."""
    if isinstance(instance, dict):
        instance = {k: v for k, v in instance.items() if v not in NEWER_THAN_SPEC.get(k, ())}
    problems = errors(name, instance)
    undeclared = set(instance) - set(schema(name)["properties"]) if isinstance(instance, dict) else set()
    problems += [f"{field}: not a field of {name}" for field in sorted(undeclared)]
    assert not problems, f"{name} rejects the request:\n" + "\n".join(problems)


def form_instance(parts, schema_name: str = "CreateImageEditRequest") -> dict:
    """Multipart parts -> the object the schema describes: text parts decoded per the declared
    type, file parts as bytes, repeated ``name[]`` parts as one array. Refuses a text part for a
    binary field, a file part for any other, and a field sent twice."""
    properties = schema(schema_name)["properties"]
    instance: dict = {}
    for part in parts:
        name = part.name[:-2] if part.name.endswith("[]") else part.name
        declared = _resolved(properties.get(name, {}))
        binary = _is_binary(declared)
        if part.filename is not None:
            assert binary, f"{part.name} was sent as a file, but the schema's {name} is not binary"
            value = part.data
        else:
            assert not binary, f"{part.name} was sent as text, but the schema's {name} is a file"
            value = _decode_text(part.text, declared)
        if part.name.endswith("[]"):
            instance.setdefault(name, []).append(value)
        else:
            assert name not in instance, f"{name} was sent twice"
            instance[name] = value
    return instance


def _resolved(declared: dict) -> dict:
    """A property's schema with a ``$ref`` (e.g. partial_images -> PartialImages) followed."""
    while "$ref" in declared:
        declared = schema(declared["$ref"].rsplit("/", 1)[-1])
    return declared


def _is_binary(declared: dict) -> bool:
    options = [declared, *declared.get("anyOf", []), *declared.get("oneOf", [])]
    return any(o.get("format") == "binary" or o.get("items", {}).get("format") == "binary" for o in options)


def _decode_text(text: str, declared: dict):
    kinds = {declared.get("type"), *(o.get("type") for o in declared.get("anyOf", []))}
    if "integer" in kinds and text.lstrip("-").isdigit():
        return int(text)
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    return text
