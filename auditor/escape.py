"""Text from the data made safe for the medium it is written to: a terminal, Markdown, XML.

Judge names, rater names, slice names, item ids and case texts come from the user's files and may hold anything.
Each writer passes every data-derived string through the one function of its medium:

* :func:`terminal_safe` (the terminal summary of ``audit`` / ``report``, the gate table, error lines on stderr,
  GitHub workflow commands): escape sequences (CSI ``ESC [ ... m``, OSC ``ESC ] ... BEL`` that sets the window
  title or a hyperlink, other ``ESC x`` pairs), the remaining C0 / C1 control characters except newline and tab,
  DEL, and the bidirectional overrides / isolates (U+202A-U+202E, U+2066-U+2069) are removed;
* :func:`markdown_safe` (report.md, the gates' step summary / PR comment): HTML-special characters become entities
  (no live ``<img>`` or ``<script>``), Markdown punctuation is backslash-escaped (a ``|`` cannot split a table
  cell), line breaks become spaces (a newline cannot end a table row), ``@name`` (not inside a word: ``a@b.org`` and ``outputs@start`` stay) gets a zero-width space after the
  ``@`` (no one is notified when the text is posted as a comment), and terminal controls are removed as above;
* :func:`xml_safe` (the JUnit file): characters XML 1.0 does not allow (C0 controls other than tab / newline /
  carriage return, U+FFFE, U+FFFF, lone surrogates) are removed, so the file stays well-formed.

Each is linear in the text's length (one regular-expression pass without backtracking).

>>> terminal_safe("gpt\\x1b]0;pwned\\x07-4o\\x1b[2J")
'gpt-4o'
>>> markdown_safe("@octocat <img src=x> a|b")
'@&#8203;octocat &lt;img src=x&gt; a\\\\|b'
>>> xml_safe("judge\\x00\\x1b")
'judge'
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["markdown_safe", "terminal_safe", "xml_safe"]

_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, clearing the screen
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC / DCS / PM / APC strings
    r"|\x1b[ -/]*[0-~]"  # other two-character (or nF) escapes
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_MENTION = re.compile(
    r"(?<![0-9A-Za-z_])@(?=[0-9A-Za-z])"
)  # as GitHub: not inside a word or an e-mail address


def terminal_safe(text: Any) -> str:
    """``text`` without escape sequences and control characters (newline and tab kept)."""
    value = "" if text is None else str(text)
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", value))


def markdown_safe(text: Any) -> str:
    """Data text made inert in (GitHub-flavoured) Markdown, on one line: entities for ``& < >``, backslashes
    before Markdown punctuation (``|`` included), spaces for line breaks, ``@`` mentions broken, controls removed."""
    value = "" if text is None else str(text)
    value = _LINE_BREAK.sub(" ", value)
    value = terminal_safe(value).replace("\t", " ")
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", value)
    return _MENTION.sub("@&#8203;", value)


def xml_safe(text: Any) -> str:
    """``text`` without the characters XML 1.0 forbids (the caller's XML library escapes ``& < > "``)."""
    value = "" if text is None else str(text)
    return _XML_FORBIDDEN.sub("", value)
