"""The starting reply templates, read from ``templates/replies/*.j2``.

Each file opens with Jinja comments holding its metadata, then the template itself::

    {# name: Where is my order #}
    {# category: shipping #}
    Hello{% if customer_name %} {{ customer_name }}{% endif %},
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.paths import TEMPLATES_DIR
from app.replies.render import template_problems

SEED_DIRECTORY: Path = TEMPLATES_DIR / "replies"

_METADATA_LINE = re.compile(r"\{#\s*(?P<key>[a-z_]+)\s*:\s*(?P<value>.*?)\s*#\}[ \t]*(?:\n|$)")
_REQUIRED = ("name", "category")


@dataclass(frozen=True)
class SeedTemplate:
    slug: str  # the file stem
    name: str
    category: str
    body: str  # the file text without the metadata lines


def load_seed_templates(directory: Path) -> list[SeedTemplate]:
    """Every ``*.j2`` file in ``directory``, sorted by name. A file without a name or category,
    or whose template has problems, raises ValueError naming the file."""
    seeds = [_read(path) for path in sorted(directory.glob("*.j2"))]
    return sorted(seeds, key=lambda seed: seed.name.casefold())


def _read(path: Path) -> SeedTemplate:
    text = path.read_text(encoding="utf-8")
    metadata: dict[str, str] = {}
    position = 0
    while match := _METADATA_LINE.match(text, position):
        metadata[match["key"]] = match["value"]
        position = match.end()
    missing = [key for key in _REQUIRED if not metadata.get(key)]
    if missing:
        raise ValueError(
            f"reply template {path}: missing {' and '.join(missing)}; start the file with "
            f"lines like '{{# name: Where is my order #}}' and '{{# category: shipping #}}'"
        )
    problems = template_problems(text)  # the whole file, so line numbers are the file's
    if problems:
        raise ValueError(f"reply template {path}: {'; '.join(problems)}")
    return SeedTemplate(
        slug=path.stem, name=metadata["name"], category=metadata["category"], body=text[position:]
    )
