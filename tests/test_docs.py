"""The README and docs stay true to the pack: every relative link and anchor leads somewhere, every
`python -m` command names a module the pack has, and every HOSTED_IMAGES_ variable is both
documented and read by the code (a renamed variable or a moved page breaks a user's setup)."""

from __future__ import annotations

import importlib.util
import re

import pytest

from conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "web" / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.M)
VARIABLE = re.compile(r"HOSTED_IMAGES_[A-Z0-9_]*[A-Z0-9]")
PROVIDER_SUFFIXES = ("_AGNIC", "_AIGNE", "_IONOS", "_OPENAI", "_OVH")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _code_text() -> str:
    files = [*ROOT.glob("nodes/**/*.py"), *ROOT.glob("*.py"), *ROOT.glob("tests/*.py")]
    files.append(ROOT / "web" / "hosted_images.js")
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_lead_somewhere(page):
    text = page.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} does not exist"
        if anchor and linked.suffix == ".md":
            anchors = {_slug(h) for h in HEADING.findall(linked.read_text(encoding="utf-8"))}
            assert anchor in anchors, f"{page.name}: no heading for #{anchor} in {linked.name}"


def test_every_python_m_command_names_a_module_of_the_pack():
    named = {m for page in PAGES for m in re.findall(r"python -m ([\w.]+)", page.read_text(encoding="utf-8"))}
    ours = {m for m in named if m.startswith("nodes")}
    assert {"nodes.emulator", "nodes.cli.headless", "nodes.cli.doctor"} <= ours
    for module in ours:
        assert (ROOT / (module.replace(".", "/") + ".py")).exists() or (
            ROOT / module.replace(".", "/") / "__main__.py"
        ).exists(), module
    assert named - ours <= {"pytest"}, named - ours
    assert importlib.util.find_spec("pytest")


def test_every_variable_the_code_reads_is_documented_and_every_documented_one_is_read():
    docs = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    code = _code_text()
    pack_code = "\n".join(p.read_text(encoding="utf-8") for p in [*ROOT.glob("nodes/**/*.py"), *ROOT.glob("*.py")])
    undocumented = sorted(set(VARIABLE.findall(pack_code)) - set(VARIABLE.findall(docs)))
    assert not undocumented, f"read by the pack but in no README or docs page: {undocumented}"
    read = set(VARIABLE.findall(code))
    for variable in sorted(set(VARIABLE.findall(docs))):
        base = next((variable[: -len(s)] for s in PROVIDER_SUFFIXES if variable.endswith(s)), variable)
        assert variable in read or base in read, f"documented but read nowhere: {variable}"
