"""What today's ComfyUI shows of the pack besides its inputs: search aliases, help pages, the icon."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT, load_pack

PACK = load_pack()
SECTIONS = ("## What it sends", "## Inputs", "## Outputs", "## Costs and limits", "## Example")


@pytest.mark.parametrize("node_id", sorted(PACK.NODE_CLASS_MAPPINGS))
def test_node_has_search_aliases(node_id):
    """Newer ComfyUI's node search matches SEARCH_ALIASES (e.g. "dall-e" finds the OpenAI nodes)."""
    aliases = PACK.NODE_CLASS_MAPPINGS[node_id].__dict__.get("SEARCH_ALIASES")
    assert aliases, f"{node_id} has no SEARCH_ALIASES of its own"
    assert all(isinstance(alias, str) and alias == alias.strip().lower() and alias for alias in aliases)
    assert len(set(aliases)) == len(aliases)


@pytest.mark.parametrize("node_id", sorted(PACK.NODE_CLASS_MAPPINGS))
def test_node_has_a_help_page_that_explains_every_input(node_id):
    """The frontend's node-help panel fetches /extensions/<pack folder>/docs/<NodeId>.md."""
    page = ROOT / "web" / "docs" / f"{node_id}.md"
    assert page.is_file(), f"{node_id} has no help page"
    text = page.read_text(encoding="utf-8")
    assert text.startswith(f"# {PACK.NODE_DISPLAY_NAME_MAPPINGS[node_id]}\n")
    headings = re.findall(r"^## .*$", text, flags=re.M)
    assert [h for h in headings if h in SECTIONS] == list(SECTIONS), f"{node_id}: sections {headings}"
    cls = PACK.NODE_CLASS_MAPPINGS[node_id]
    inputs = cls.INPUT_TYPES()
    for name in [*inputs.get("required", {}), *inputs.get("optional", {})]:
        assert f"`{name}`" in text, f"{node_id}'s help page does not explain {name}"
    for name in getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES):
        assert f"`{name}`" in text, f"{node_id}'s help page does not explain the output {name}"


def test_no_help_page_for_a_node_that_does_not_exist():
    pages = {path.stem for path in (ROOT / "web" / "docs").glob("*.md")}
    assert pages == set(PACK.NODE_CLASS_MAPPINGS)


def test_the_icon_pyproject_names_exists_and_is_an_svg():
    import xml.etree.ElementTree as ElementTree

    icon = re.search(r'^Icon = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), flags=re.M).group(1)
    path = ROOT / icon.split("/main/", 1)[1]
    assert path.is_file(), f"pyproject.toml names {icon}, which is not in the repository"
    root = ElementTree.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox")
