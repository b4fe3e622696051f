"""OpenRouter's published OpenAPI document (the Agnic gateway follows it) as schema validators.

The file lives outside the repository (``conftest.SPECS``); tests that
need it skip, saying why, when it is absent. It is large, so it is parsed once per session.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS31Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from conftest import SPECS

FILE = "openrouter-openapi.yaml"
URI = "urn:openrouter-openapi"


def spec_path() -> Path | None:
    path = SPECS / FILE
    return path if path.is_file() else None


def require_spec() -> None:
    if spec_path() is None:
        pytest.skip(f"{FILE} not found in {SPECS}: set HOSTED_IMAGES_SPECS to the folder of the published specs")


@lru_cache(maxsize=1)
def _registry() -> Registry:
    with open(spec_path(), encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return Registry().with_resource(URI, DRAFT202012.create_resource(document))


@cache
def validator(schema: str) -> OAS31Validator:
    """A validator for ``components/schemas/<schema>`` with every $ref resolved in the document."""
    return OAS31Validator({"$ref": f"{URI}#/components/schemas/{schema}"}, registry=_registry())


def errors(schema: str, instance) -> list[str]:
    """Why ``instance`` does not match the schema ([] when it does), deepest reasons included."""
    found = []
    for error in validator(schema).iter_errors(instance):
        where = "/".join(map(str, error.absolute_path)) or "(root)"
        causes = "; ".join(sorted({c.message[:160] for c in error.context or []}))[:600]
        found.append(f"{where}: {error.message[:300]}" + (f" [{causes}]" if causes else ""))
    return found
