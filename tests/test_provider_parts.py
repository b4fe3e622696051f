"""Every registered provider has every part that docs/development.md "Adding a provider" lists.

The per-provider test lists are made from the registered providers and nodes, so a provider
that forgets a part would otherwise just be left out of those tests. Each check here fails naming
the part and where it goes. (Per node, the help page, translations, example workflow and node-id
snapshot are asked by test_frontend_assets, test_locales and test_pack.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT, load_pack, mod
from provider_table import BY_PROVIDER, provider_modules, registered_ids

catalogue = mod("nodes.providers.catalogue")
PROVIDERS = registered_ids()


def descriptor(provider_id: str):
    return mod("nodes.core.provider").registered_provider(provider_id)


def headings(page: str) -> list[str]:
    return re.findall(r"^##+ (.+)$", (ROOT / page).read_text(encoding="utf-8"), re.M)


def test_every_provider_the_pack_knows_is_registered():
    """The parts below are asked of the registered providers: a provider module that forgets to
    register its descriptor would escape them all."""
    for provider_id, module in provider_modules().items():
        assert provider_id in PROVIDERS, f"nodes/providers/{Path(module.__file__).name}: register(PROVIDER) missing"


@pytest.mark.parametrize("provider_id", PROVIDERS)
def test_the_provider_has_nodes(provider_id):
    nodes = [n for n, cls in load_pack().NODE_CLASS_MAPPINGS.items() if cls.PROVIDER.id == provider_id]
    assert nodes, f"{provider_id}: no node module -- nodes/<provider>.py with a NODES table naming PROVIDER"


@pytest.mark.parametrize("provider_id", PROVIDERS)
def test_the_provider_has_a_dated_catalogue(provider_id):
    module = provider_modules().get(provider_id)
    assert module is not None, f"{provider_id}: no provider module in nodes/providers/ declares it as PROVIDER"
    assert isinstance(getattr(module, "CATALOGUE", None), catalogue.Catalogue), (
        f"{provider_id}: no catalogue -- CATALOGUE in nodes/providers/{Path(module.__file__).name}"
    )


@pytest.mark.parametrize("provider_id", PROVIDERS)
def test_the_provider_has_an_emulator(provider_id):
    declared = {emulator.api.name for emulator in mod("nodes.emulator").emulators()}
    assert provider_id in declared, (
        f"{provider_id}: no emulator -- nodes/emulator/<provider>.py with an EmulatedAPI named {provider_id!r} "
        "and EMULATOR = Emulator(...)"
    )


@pytest.mark.parametrize("provider_id", PROVIDERS)
def test_the_provider_has_a_row_in_the_provider_table(provider_id):
    assert provider_id in BY_PROVIDER, f"{provider_id}: no provider-table row -- a Target in tests/provider_table.py"


@pytest.mark.parametrize("provider_id", PROVIDERS)
def test_the_provider_is_documented_for_users_and_maintainers(provider_id):
    provider = descriptor(provider_id)
    assert provider.key_env in (ROOT / "README.md").read_text(encoding="utf-8"), (
        f"{provider_id}: no row in the README's key table naming {provider.key_env}"
    )
    nodes = [n for n, cls in load_pack().NODE_CLASS_MAPPINGS.items() if cls.PROVIDER.id == provider_id]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [n for n in nodes if f"web/docs/{n}.md" not in readme]
    assert not missing, f"{provider_id}: the README's node table does not link {missing}"
    for page, what in (("docs/providers-guide.md", "a users' section"), ("docs/providers.md", "a contract section")):
        assert any(provider.label in heading for heading in headings(page)), (
            f"{provider_id}: {what} in {page} -- a heading naming {provider.label!r}"
        )
