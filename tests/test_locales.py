"""The translations under locales/: every node, input and output of the pack has one, in each language.

ComfyUI serves locales/<lang>/nodeDefs.json under "nodeDefs" and main.json at the top level of its
translations (docs.comfy.org/custom-nodes/i18n); the frontend looks labels up by node id, input name
and output index. This file holds no translated text (it stays Windows-encodable): every comparison
is against the JSON files.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT, load_pack

LOCALES = ROOT / "locales"
LANGS = ("zh", "ja")
# What the web extension shows (web/hosted_images.js), by the key it is translated under.
EXTENSION_STRINGS = {
    "refreshModels": "refresh models",
    "typeModelId": "(type a model id\u2026)",
    "checkProviders": "Check providers",
    "sidebarTitle": "Hosted Images",
    "savedResults": "Saved results of failed or cancelled runs",
}
# The widget ComfyUI adds after an INT input with control_after_generate; the frontend labels it
# from nodeDefs like an input.
CONTROL_WIDGET = "control_after_generate"
# Hiragana, katakana, CJK ideographs: a translated sentence has at least one.
CJK = re.compile("[\u3040-\u30ff\u3400-\u9fff]")
BACKTICKED = re.compile(r"`([^`]+)`")
ALL_CAPS_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
URL = re.compile(r"https?://[^\s,;)]+[^\s,;).]")
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./+\-\[\]]*[A-Za-z0-9\]]")
NUMBER = re.compile(r"\d+")
# Names kept as they are: acronyms and all-caps words (API, PNG, FLUX, WIDTHxHEIGHT), CamelCase and
# camelCase identifiers (LoadImage, FileContent, aigneHubCredits), URL paths (/models) and option
# values in quotes ('image+text').
NAMES = (
    re.compile(r"\b[A-Z]{2,}[A-Za-z0-9]*\b"),
    re.compile(r"\b[A-Z][a-z]+[A-Z][A-Za-z]*\b"),
    re.compile(r"\b[a-z]+[A-Z][A-Za-z]*\b"),
    re.compile(r"(?<![\w/.])/[a-z][\w/.-]*[\w]"),
    re.compile(r"(?<![A-Za-z])'([a-z0-9+]+)'"),
)
# Capitals the English uses for emphasis ("the NAME of the environment variable"): translated by meaning.
EMPHASIS = {"NAME"}


def _load(path):
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), f"{path}: no byte order mark"
    return json.loads(raw.decode("utf-8"))


def _node_defs(lang):
    return _load(LOCALES / lang / "nodeDefs.json")


def _main(lang):
    return _load(LOCALES / lang / "main.json")


def _inputs(cls):
    """Every input a user sees (required and optional, not hidden): name -> options."""
    spec = cls.INPUT_TYPES()
    found = {}
    for section in ("required", "optional"):
        for name, value in (spec.get(section) or {}).items():
            found[name] = value[1] if len(value) > 1 and isinstance(value[1], dict) else {}
    return found


def _output_tooltips(cls):
    return list(getattr(cls, "OUTPUT_TOOLTIPS", None) or [None] * len(cls.RETURN_TYPES))


def _facts(english):
    """What a translation must carry over verbatim: backticked text, variable names, URLs, identifiers
    (snake_case, or letters and digits joined by - or /, like model ids), the NAMES above, and numbers."""
    facts = set(BACKTICKED.findall(english)) | set(ALL_CAPS_NAME.findall(english)) | set(URL.findall(english))
    for pattern in NAMES:
        facts.update(pattern.findall(english))
    for word in WORD.findall(english):
        has_letter = any(c.isalpha() for c in word)
        has_digit = any(c.isdigit() for c in word)
        if "_" in word or (has_letter and has_digit and ("-" in word or "/" in word)):
            facts.add(word)
    return facts - EMPHASIS, set(NUMBER.findall(english))


def _english_texts(cls):
    """(where, English text) for the description and every tooltip of a node class."""
    yield "description", cls.DESCRIPTION
    for name, options in _inputs(cls).items():
        if options.get("tooltip"):
            yield f"inputs.{name}.tooltip", options["tooltip"]
    for index, tooltip in enumerate(_output_tooltips(cls)):
        if tooltip:
            yield f"outputs.{index}.tooltip", tooltip


def _lookup(entry, where):
    value = entry
    for key in where.split("."):
        value = (value or {}).get(key)
    return value


NODE_IDS = sorted(load_pack().NODE_CLASS_MAPPINGS)


def test_every_locale_file_is_utf8_json():
    files = sorted(LOCALES.rglob("*.json"))
    assert {path.relative_to(LOCALES).as_posix() for path in files} >= {
        f"{lang}/{name}" for lang in LANGS for name in ("nodeDefs.json", "main.json")
    }
    for path in files:
        assert isinstance(_load(path), dict), f"{path}: a JSON object"


@pytest.mark.parametrize("lang", LANGS)
def test_every_node_is_translated(pack, lang):
    defs = _node_defs(lang)
    assert set(defs) == set(pack.NODE_CLASS_MAPPINGS), "entries for exactly the pack's nodes"
    for node_id in NODE_IDS:
        entry = defs[node_id]
        assert set(entry) <= {"display_name", "description", "inputs", "outputs"}, node_id
        for field in ("display_name", "description"):
            text = entry.get(field)
            assert isinstance(text, str) and text.strip(), f"{lang}: {node_id}.{field}"
            assert CJK.search(text), f"{lang}: {node_id}.{field} is not translated: {text!r}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_input_is_translated(pack, lang):
    defs = _node_defs(lang)
    for node_id in NODE_IDS:
        inputs = _inputs(pack.NODE_CLASS_MAPPINGS[node_id])
        translated = defs[node_id].get("inputs") or {}
        controlled = [name for name, options in inputs.items() if options.get("control_after_generate")]
        expected = set(inputs) | ({CONTROL_WIDGET} if controlled else set())
        assert set(translated) == expected, f"{lang}: {node_id} inputs"
        for name in expected:
            entry = translated[name]
            label = entry.get("name")
            assert isinstance(label, str) and label.strip(), f"{lang}: {node_id}.inputs.{name}.name"
            assert CJK.search(label), f"{lang}: {node_id}.inputs.{name}.name is not translated: {label!r}"
            assert len(label.split()) <= 4 and len(label) <= 16, f"{lang}: {node_id}.inputs.{name}: a short label"
            if name == CONTROL_WIDGET:
                continue
            tooltip = entry.get("tooltip")
            assert isinstance(tooltip, str) and tooltip.strip(), f"{lang}: {node_id}.inputs.{name}.tooltip"
            assert CJK.search(tooltip), f"{lang}: {node_id}.inputs.{name}.tooltip is not translated"


@pytest.mark.parametrize("lang", LANGS)
def test_every_output_is_translated(pack, lang):
    defs = _node_defs(lang)
    for node_id in NODE_IDS:
        cls = pack.NODE_CLASS_MAPPINGS[node_id]
        translated = defs[node_id].get("outputs") or {}
        assert set(translated) == {str(i) for i in range(len(cls.RETURN_TYPES))}, f"{lang}: {node_id} outputs"
        for index, english_tooltip in enumerate(_output_tooltips(cls)):
            entry = translated[str(index)]
            name = entry.get("name")
            assert isinstance(name, str) and name.strip(), f"{lang}: {node_id}.outputs.{index}.name"
            assert CJK.search(name), f"{lang}: {node_id}.outputs.{index}.name is not translated: {name!r}"
            if english_tooltip:
                tooltip = entry.get("tooltip")
                assert isinstance(tooltip, str) and CJK.search(tooltip), f"{lang}: {node_id}.outputs.{index}.tooltip"


@pytest.mark.parametrize("lang", LANGS)
def test_translations_keep_the_facts(pack, lang):
    """Variable names, model ids, URLs, paths and numbers of the English text are in the translation."""
    defs = _node_defs(lang)
    missing = []
    for node_id in NODE_IDS:
        for where, english in _english_texts(pack.NODE_CLASS_MAPPINGS[node_id]):
            translated = _lookup(defs[node_id], where) or ""
            facts, numbers = _facts(english)
            lost = sorted(fact for fact in facts if fact not in translated)
            lost += sorted(numbers - set(NUMBER.findall(translated)))
            if lost:
                missing.append(f"{node_id}.{where}: {lost}")
    assert not missing, f"{lang}: " + "\n".join(missing)


@pytest.mark.parametrize("lang", LANGS)
def test_tooltips_name_the_buttons_as_the_extension_shows_them(pack, lang):
    """A tooltip that names an extension button uses the same translation as the button."""
    strings = _main(lang)["hostedImages"]
    defs = _node_defs(lang)
    for node_id in NODE_IDS:
        for where, english in _english_texts(pack.NODE_CLASS_MAPPINGS[node_id]):
            for key in ("refreshModels", "typeModelId"):
                if EXTENSION_STRINGS[key] in english:
                    assert strings[key] in _lookup(defs[node_id], where), f"{lang}: {node_id}.{where}: {key}"


@pytest.mark.parametrize("lang", LANGS)
def test_categories_and_extension_strings_are_translated(pack, lang):
    main = _main(lang)
    categories = main.get("nodeCategories") or {}
    segments = {segment for cls in pack.NODE_CLASS_MAPPINGS.values() for segment in cls.CATEGORY.split("/")}
    assert segments <= set(categories), f"{lang}: untranslated categories {sorted(segments - set(categories))}"
    assert set(categories) <= segments, f"{lang}: categories the pack does not have"
    assert all(isinstance(text, str) and text.strip() for text in categories.values())
    strings = main.get("hostedImages") or {}
    assert set(strings) == set(EXTENSION_STRINGS), f"{lang}: hostedImages keys"
    for key, text in strings.items():
        assert isinstance(text, str) and CJK.search(text), f"{lang}: hostedImages.{key} is not translated"


def test_the_languages_translate_the_same_things():
    for name in ("nodeDefs.json", "main.json"):
        shapes = []
        for lang in LANGS:
            data = _load(LOCALES / lang / name)
            shapes.append(json.dumps(_shape(data), sort_keys=True))
        assert len(set(shapes)) == 1, f"{name}: the same keys in every language"


def _shape(value):
    return {key: _shape(item) for key, item in value.items()} if isinstance(value, dict) else None


def test_the_extension_translates_exactly_these_strings():
    """web/hosted_images.js keeps its English words in one table, looked up by these keys: a key
    the translations have and the script does not (or the reverse) would show English."""
    script = (ROOT / "web" / "hosted_images.js").read_text(encoding="utf-8")
    table = re.search(r"\nconst S = \{\n(.*?)\n\};", script, re.S)
    assert table, "the strings table in web/hosted_images.js"
    found = dict(re.findall(r'^\s+(\w+): "([^"]*)",?$', table.group(1), re.M))
    assert found == EXTENSION_STRINGS
    code = re.sub(r"(^|\s)//[^\n]*", "", script)  # comments may name the words
    for english in EXTENSION_STRINGS.values():  # every use goes through the table
        # (the button's name stays English: checks and saved layouts find the widget by it)
        assert code.count(f'"{english}"') == (2 if english == "refresh models" else 1), english
