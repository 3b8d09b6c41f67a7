"""HTML bodies as plain text, with the standard library's ``html.parser``."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from app.mail.problems import Problems

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "center", "dd", "div", "dl", "dt",
        "fieldset", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "tfoot",
        "thead", "tr", "ul",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_SKIPPED_TAGS = frozenset({"script", "style", "title", "template"})


def html_to_text(markup: str, *, where: str, problems: Problems) -> str:
    """The text of HTML ``markup``; what html.parser cannot read is stripped crudely instead."""
    converter = _HTMLToText()
    try:
        converter.feed(markup)
    except Exception as exc:  # html.parser gives up on some garbage (AssertionError)
        name = type(exc).__name__
        problems.add(f"HTML in {where} unparseable ({name}); tags stripped instead")
        return _tidy(re.sub(r"[^\S\n]+", " ", _strip_tags(markup)))
    if "<" in converter.rawdata:
        problems.add(f"unterminated HTML markup at the end of {where}")
    converter.finish()
    return converter.text()


class _HTMLToText(HTMLParser):
    """Text of an HTML body: scripts and styles dropped, entities decoded, blocks on lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._chunks: list[str] = []
        self._skipping: str | None = None
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping:
            return
        if tag in _SKIPPED_TAGS:
            self._skipping = tag
        elif tag == "pre":
            self._pre += 1
            self._chunks.append("\n")
        elif tag in _BLOCK_TAGS:
            self._chunks.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._skipping and tag in _BLOCK_TAGS:
            self._chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag == self._skipping:
                self._skipping = None
            return
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
            self._chunks.append("\n")
        elif tag in _BLOCK_TAGS:
            self._chunks.append("\n")
        elif tag in _CELL_TAGS:
            self._chunks.append(" ")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._pre:
            self._chunks.append(data)
        else:
            self._chunks.append(re.sub(r"\s+", " ", data))

    def finish(self) -> None:
        """Ends the text, instead of close(): what feed() left unparsed is an unterminated
        construct (a tag without ">", a comment without "-->"), and close() would rescan the
        rest once per "<" in it, which takes minutes on a hostile message of a few 100 KB."""
        rest, self.rawdata = self.rawdata, ""
        if self._skipping or rest.lstrip().startswith("<!--"):
            return  # inside a script or style, or a comment: hidden to the end, as in browsers
        self.handle_data(_strip_tags(rest))

    def text(self) -> str:
        return _tidy("".join(self._chunks))


def _tidy(text: str) -> str:
    """Lines stripped, no more than one blank line in a row, no-break spaces made plain."""
    lines = [line.strip() for line in text.replace("\xa0", " ").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _strip_tags(markup: str) -> str:
    """A crude, linear-time fallback: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^<>]*>", " ", markup))
