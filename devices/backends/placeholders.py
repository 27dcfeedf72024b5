"""Job values rendered into a flow's texts and locators, escaped for where they land.

A caption is free text: it may hold both quote kinds, brackets and newlines. Pasted raw into
an XPath expression it breaks the expression (or changes what it means), and a verification
step that then fails to parse would read as "not posted". In an XPath locator a placeholder
stands for a whole string literal, `contains(@text, {caption})` or `contains(@text,
"{caption}")`, and is rendered as one (with `concat()` when the value holds both quote kinds).
Other locator kinds (id, accessibility id, class name) match the value literally.
"""

from __future__ import annotations

import re
from pathlib import Path

PLACEHOLDERS = ("caption", "caption_start", "account", "job_id", "video_name")
# How much of the caption `{caption_start}` keeps: apps cut long captions short on screen
# ("... more"), so a verification step looks for the start of the caption, not all of it.
CAPTION_START_CHARS = 30

_PLACEHOLDER = r"\{(?:" + "|".join(PLACEHOLDERS) + r")\}"
# An XPath string literal, or a placeholder outside one.
_XPATH_TOKEN = re.compile(r"(\"[^\"]*\"|'[^']*')|(" + _PLACEHOLDER + ")")
_QUOTED_PLACEHOLDER = re.compile(r"^([\"'])(" + _PLACEHOLDER + r")\1$")


def values_for(job_id: str, account: str, video_path: str, caption: str) -> dict[str, str]:
    """The value of each placeholder for one request."""
    first_line = caption.strip().splitlines()[0] if caption.strip() else ""
    return {
        "caption": caption,
        "caption_start": first_line[:CAPTION_START_CHARS],
        "account": account,
        "job_id": job_id,
        "video_name": Path(video_path).name,
    }


def render_text(template: str, values: dict[str, str]) -> str:
    """A text typed or a path: placeholders replaced as they are."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def render_locator(by: str, template: str, values: dict[str, str]) -> str:
    """A locator's value with the placeholders escaped for the locator's kind."""
    if by != "xpath":
        return render_text(template, values)

    def replace(match: re.Match) -> str:
        literal, bare = match.groups()
        if literal is not None:
            quoted = _QUOTED_PLACEHOLDER.match(literal)
            return xpath_literal(values[quoted.group(2)[1:-1]]) if quoted else literal
        return xpath_literal(values[bare[1:-1]])

    return _XPATH_TOKEN.sub(replace, template)


def xpath_problems(template: str) -> list[str]:
    """Why an XPath template cannot be rendered safely ([] when it can)."""
    problems = []
    for literal, _ in _XPATH_TOKEN.findall(template):
        if literal and re.search(_PLACEHOLDER, literal) and not _QUOTED_PLACEHOLDER.match(literal):
            problems.append(
                f"the string {literal} mixes a placeholder with other text; a placeholder must "
                f"be a whole string, e.g. contains(@text, {{caption}})"
            )
    return problems


def xpath_literal(value: str) -> str:
    """An XPath 1.0 string literal for any value (XPath has no escape character)."""
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    parts = value.split('"')
    pieces = []
    for i, part in enumerate(parts):
        if part:
            pieces.append(f'"{part}"')
        if i < len(parts) - 1:
            pieces.append("'\"'")
    return f"concat({', '.join(pieces)})" if len(pieces) > 1 else pieces[0]
