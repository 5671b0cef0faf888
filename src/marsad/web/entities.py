"""Read-side data for entity pages and the entity API: lists, one entity's page, its timeline and map point.

The SQL lives in marsad.enrich.entity_store (reached through the store); this module only
shapes it for the reader and the JSON API, so both show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cache

from ..enrich import EntityDetail, EntitySummary
from ..enrich import entity_detail as _entity_detail
from ..enrich import list_entities as _list_entities
from . import queries

ENTITY_TYPES = ("PERS", "LOC", "ORG", "MISC")
MAX_TIMELINE_DAYS = 120  # longer spans are drawn a month per bar
LAND_CELL = 2  # degrees: the offline world map marks each cell holding a gazetteer place


@dataclass
class MapPoint:
    """Where a place is, on an equirectangular world of 360 x 180 units (x east, y south)."""

    latitude: float
    longitude: float
    x: float
    y: float
    osm_url: str


@dataclass
class EntityView:
    """An entity page: the stored detail, teasers of its latest articles, a timeline to draw and a map point."""

    detail: EntityDetail
    latest: list[queries.Teaser] = field(default_factory=list)
    bars: list[tuple[str, int]] = field(default_factory=list)  # (YYYY-MM-DD or YYYY-MM, mentions), gaps filled
    by_month: bool = False
    peak: int = 0
    point: MapPoint | None = None
    country_name: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    def bar_dates(self) -> list[tuple[str, int, datetime]]:
        """The bars with the day (or the month's first day) each stands for, as a UTC datetime."""
        return [(key, n, datetime.fromisoformat(key if len(key) == 10 else key + "-01").replace(tzinfo=timezone.utc))
                for key, n in self.bars]


def country_name(code: str | None) -> str | None:
    """A country's Arabic name for an ISO code (the code when unknown)."""
    if not code:
        return None
    from ..enrich.places import country_name as name_of

    return name_of(code)


def entities(store, *, type: str | None = None, country: str | None = None, prefix: str | None = None,
             limit: int = 50, offset: int = 0) -> list[EntitySummary]:
    """Entities by the number of articles naming them (see marsad.enrich.list_entities)."""
    return _list_entities(store, type=type, country=country, prefix=prefix, limit=limit, offset=offset)


def index(store, *, per_type: int = 24) -> dict[str, list[EntitySummary]]:
    """The most named entities of each type, for the /entities page."""
    return {kind: entities(store, type=kind, limit=per_type) for kind in ENTITY_TYPES}


def map_point(latitude: float | None, longitude: float | None) -> MapPoint | None:
    """The point to draw for coordinates (None without them or when they are out of range)."""
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    url = (f"https://www.openstreetmap.org/?mlat={latitude:.4f}&mlon={longitude:.4f}"
           f"#map=6/{latitude:.4f}/{longitude:.4f}")
    return MapPoint(latitude, longitude, round(longitude + 180, 2), round(90 - latitude, 2), url)


@cache
def land_path() -> str:
    """An SVG path (360 x 180, equirectangular) of every LAND_CELL-degree cell holding a place of the
    gazetteer (marsad.enrich.places, GeoNames): a rough world outline drawn from data marsad ships."""
    from ..enrich.places import _places

    cells: set[tuple[int, int]] = set()
    for places in _places().values():
        for place in places:
            if place.latitude is not None and place.longitude is not None:
                cells.add((int((90 - place.latitude) // LAND_CELL), int((place.longitude + 180) // LAND_CELL)))
    parts = []
    for row in sorted({r for r, _ in cells}):
        columns = sorted(c for r, c in cells if r == row)
        start = previous = columns[0]
        for column in [*columns[1:], None]:
            if column is not None and column == previous + 1:
                previous = column
                continue
            width = (previous - start + 1) * LAND_CELL
            parts.append(f"M{start * LAND_CELL} {row * LAND_CELL}h{width}v{LAND_CELL}h-{width}z")
            start = previous = column
    return "".join(parts)


def timeline_bars(timeline: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], bool]:
    """Mentions per day with the quiet days filled in, or per month when the span is long; (bars, by_month)."""
    days = []
    for day, count in timeline:
        try:
            days.append((date.fromisoformat(day), count))
        except (TypeError, ValueError):
            continue
    if not days:
        return [], False
    first, last = days[0][0], days[-1][0]
    if (last - first).days < MAX_TIMELINE_DAYS:
        counts = dict(days)
        return [((first + timedelta(d)).isoformat(), counts.get(first + timedelta(d), 0))
                for d in range((last - first).days + 1)], False
    months: dict[str, int] = {}
    for day, count in days:
        months[day.isoformat()[:7]] = months.get(day.isoformat()[:7], 0) + count
    year, month = first.year, first.month
    bars = []
    while (year, month) <= (last.year, last.month):
        key = f"{year:04d}-{month:02d}"
        bars.append((key, months.get(key, 0)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return bars, True


def entity_view(store, entity_id: int, *, limit: int = 20) -> EntityView:
    """Everything an entity's page and API answer show; raises NotFound."""
    detail = _entity_detail(store, entity_id, limit=limit)
    bars, by_month = timeline_bars(detail.timeline)
    entity = detail.entity
    return EntityView(detail, queries.teasers(store, detail.articles), bars, by_month,
                      max((n for _, n in bars), default=0), map_point(entity.latitude, entity.longitude),
                      country_name(entity.country), _when(entity.first_seen), _when(entity.last_seen))


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=timezone.utc)
