"""auditor.escape on any text: nothing that could act on a terminal, in Markdown or in XML survives."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.escape import markdown_safe, terminal_safe, xml_safe

CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
HOSTILE = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(
            ["\x1b", "[", "]", "\x07", "\x9b", "@", "<", ">", "|", "\n", "\r", "&", "`", "\u202e"]
        ),
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(HOSTILE)
def test_terminal_safe_leaves_no_control_character(text):
    out = terminal_safe(text)
    assert not CONTROLS.search(out)
    assert terminal_safe(out) == out  # nothing left to remove


@settings(max_examples=200, deadline=None)
@given(HOSTILE)
def test_markdown_safe_is_one_inert_line(text):
    out = markdown_safe(text)
    assert "\n" not in out and "\r" not in out and not CONTROLS.search(out)
    assert "<" not in out and ">" not in out
    assert not re.search(r"(?<!\\)\|", out), out  # no pipe that could split a table cell
    assert not re.search(r"(?<![0-9A-Za-z_])@[0-9A-Za-z]", out), out  # no live @mention


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_xml_safe_text_always_parses(text):
    element = ET.Element("testcase", name=xml_safe(text))
    element.text = xml_safe(text)
    ET.fromstring(ET.tostring(element, encoding="unicode"))


def test_known_attacks():
    assert terminal_safe("gpt\x1b]0;pwned\x07-4o\x1b[2J\x1b[31m!") == "gpt-4o!"
    assert terminal_safe("a\tb\nc\rd") == "a\tb\ncd"
    assert markdown_safe("@octocat") == "@&#8203;octocat"
    assert markdown_safe("me@example.org outputs@start") == "me@example.org outputs@start"
    assert markdown_safe("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert\\(1\\)&gt;"
    assert markdown_safe("a | b\nc") == "a \\| b c"
    assert xml_safe("ok\x00\x1b\ufffe") == "ok"
