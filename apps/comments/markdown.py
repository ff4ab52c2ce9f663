"""Markdown → safe HTML for comments.

Guarantees: the output of `render` contains only the tags and attributes in ALLOWED_TAGS /
ALLOWED_ATTRIBUTES, links only with http, https or mailto schemes (rel="noopener
noreferrer nofollow ugc"), no raw HTML from the source (markdown-it's html option is off,
and nh3 — the Rust ammonia sanitizer — cleans whatever markdown-it emits anyway), so
scripts, event handlers, `javascript:` URLs, styles and iframes render inert.

Not guaranteed: that the text is polite; mentions are plain `@handle` text, resolved and
linked nowhere (the mention list is stored beside the comment).
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    *("p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote"),
    *("ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6"),
    *("table", "thead", "tbody", "tr", "th", "td"),
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}

# commonmark + tables + strikethrough; raw HTML is escaped, links are not auto-detected
# beyond what CommonMark does (linkify needs another dependency).
_md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])


def render(source: str) -> str:
    return nh3.clean(
        _md.render(source),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
    )
