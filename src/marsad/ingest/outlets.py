"""Known outlets (codes, names, aliases) from `data/outlets.json`: per-site knowledge is data."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from ..models import Source
from ..normalize import fold


@cache
def _outlet_table() -> tuple[list[Source], dict[str, Source]]:
    raw = json.loads(resources.files("marsad").joinpath("data/outlets.json").read_text(encoding="utf-8"))
    sources, index = [], {}
    for entry in raw["outlets"]:
        source = Source(
            name=entry["name"],
            homepage=entry.get("homepage"),
            language=entry.get("language"),
            country=entry.get("country"),
            aliases=[entry["code"], *entry.get("aliases", [])],
        )
        sources.append(source)
        for key in (source.name, *source.aliases):
            index[fold(key).strip()] = source
    return sources, index


def known_outlets() -> list[Source]:
    """Every outlet marsad ships knowledge of."""
    return list(_outlet_table()[0])


def resolve_outlet(name: str | None) -> Source | None:
    """The known outlet that a code, name or alias refers to (spelling-insensitive), or None."""
    if not name:
        return None
    return _outlet_table()[1].get(fold(name).strip())
