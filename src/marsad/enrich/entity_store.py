"""SQLite tables and queries for entities and their mentions (the SQLiteStore methods call these).

Kept beside the enrichment code, as marsad.search.index keeps the search tables: the store
owns the connection and the transaction, this module owns the SQL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone

from ..errors import NotFound
from .records import EntityDetail, EntityRef, EntitySummary, Enrichment, StoredMention

MIGRATION = """
CREATE TABLE entities (
    id          INTEGER PRIMARY KEY,
    type        TEXT NOT NULL,
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    country     TEXT,
    place_kind  TEXT,
    place_id    TEXT,
    latitude    REAL,
    longitude   REAL,
    UNIQUE (type, key)
);
CREATE INDEX entities_country ON entities(country);
CREATE TABLE mentions (
    article_pk  INTEGER NOT NULL REFERENCES articles(pk) ON DELETE CASCADE,
    field       TEXT NOT NULL,
    char_start  INTEGER NOT NULL,
    char_end    INTEGER NOT NULL,
    text        TEXT NOT NULL,
    type        TEXT NOT NULL,
    entity_id   INTEGER NOT NULL REFERENCES entities(id),
    PRIMARY KEY (article_pk, field, char_start)
) WITHOUT ROWID;
CREATE INDEX mentions_entity ON mentions(entity_id, article_pk);
CREATE TABLE entity_aliases (
    type       TEXT NOT NULL,
    alias      TEXT NOT NULL,
    entity_id  INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    seen       INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (type, alias, entity_id)
) WITHOUT ROWID;
CREATE TABLE enrichments (
    article_pk    INTEGER PRIMARY KEY REFERENCES articles(pk) ON DELETE CASCADE,
    version_hash  TEXT NOT NULL,
    model         TEXT NOT NULL,
    auto_tags     TEXT NOT NULL DEFAULT '[]',
    enriched_at   TEXT NOT NULL
);
CREATE TABLE tag_entities (
    tag        TEXT PRIMARY KEY,
    entity_id  INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE
);
"""

_SUMMARY = """
    SELECT e.*, count(m.entity_id) AS mention_count, count(DISTINCT m.article_pk) AS article_count,
           min(a.published_at) AS first_seen, max(a.published_at) AS last_seen
    FROM entities e
    JOIN mentions m ON m.entity_id = e.id
    JOIN articles a ON a.pk = m.article_pk
"""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(row: sqlite3.Row) -> EntitySummary:
    return EntitySummary(
        id=row["id"], type=row["type"], key=row["key"], name=row["name"],
        mentions=row["mention_count"], articles=row["article_count"], country=row["country"],
        place_kind=row["place_kind"], place_id=row["place_id"], latitude=row["latitude"],
        longitude=row["longitude"], first_seen=row["first_seen"], last_seen=row["last_seen"],
    )


def _entity_id(conn: sqlite3.Connection, ref: EntityRef, cache: dict[tuple[str, str], int]) -> int:
    """The id of (type, key), creating the entity on first sight (its first name and place stay)."""
    ident = (ref.type, ref.key)
    if ident in cache:
        return cache[ident]
    row = conn.execute("SELECT id FROM entities WHERE type = ? AND key = ?", ident).fetchone()
    if row is None:
        entity_id = conn.execute(
            """INSERT INTO entities (type, key, name, country, place_kind, place_id, latitude, longitude)
               VALUES (?,?,?,?,?,?,?,?)""",
            (ref.type, ref.key, ref.name, ref.country, ref.place_kind, ref.place_id, ref.latitude, ref.longitude),
        ).lastrowid
    else:
        entity_id = row[0]
    cache[ident] = entity_id
    return entity_id


def save_enrichments(conn: sqlite3.Connection, items: Iterable[Enrichment]) -> int:
    """Replace the mentions, auto tags and tag links of each enriched article; returns how many."""
    cache: dict[tuple[str, str], int] = {}
    saved = 0
    now = _now()
    for item in items:
        row = conn.execute("SELECT pk, version_hash FROM articles WHERE id = ?", (item.article_id,)).fetchone()
        if row is None:
            continue
        pk, version = row
        conn.execute("DELETE FROM mentions WHERE article_pk = ?", (pk,))
        conn.executemany(
            """INSERT OR REPLACE INTO mentions (article_pk, field, char_start, char_end, text, type, entity_id)
               VALUES (?,?,?,?,?,?,?)""",
            [(pk, m.field, m.start, m.end, m.text, m.type, _entity_id(conn, m.entity, cache)) for m in item.mentions],
        )
        for kind, alias, full_key in item.aliases:
            target = conn.execute("SELECT id FROM entities WHERE type = ? AND key = ?", (kind, full_key)).fetchone()
            if target:
                conn.execute(
                    """INSERT INTO entity_aliases (type, alias, entity_id) VALUES (?,?,?)
                       ON CONFLICT(type, alias, entity_id) DO UPDATE SET seen = seen + 1""",
                    (kind, alias, target[0]),
                )
        for tag, ref in item.tag_entities.items():
            conn.execute("INSERT OR REPLACE INTO tag_entities (tag, entity_id) VALUES (?,?)",
                         (tag, _entity_id(conn, ref, cache)))
        conn.execute(
            """INSERT OR REPLACE INTO enrichments (article_pk, version_hash, model, auto_tags, enriched_at)
               VALUES (?,?,?,?,?)""",
            (pk, version, item.model, json.dumps(item.auto_tags, ensure_ascii=False), now),
        )
        saved += 1
    return saved


def pending_article_ids(conn: sqlite3.Connection, model: str, *, limit: int | None = None) -> list[str]:
    """Articles never enriched, enriched by another model, or changed since (text, title or tags)."""
    sql = """SELECT a.id FROM articles a LEFT JOIN enrichments n ON n.article_pk = a.pk
             WHERE n.article_pk IS NULL OR n.model != ? OR n.version_hash != a.version_hash ORDER BY a.pk"""
    params: list = [model]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [r[0] for r in conn.execute(sql, params)]


def known_aliases(conn: sqlite3.Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(type, short key) -> the key of the full name it was most often seen with."""
    found: dict[tuple[str, str], str] = {}
    for kind, alias in set(keys):
        row = conn.execute(
            """SELECT e.key FROM entity_aliases x JOIN entities e ON e.id = x.entity_id
               WHERE x.type = ? AND x.alias = ? ORDER BY x.seen DESC, e.id LIMIT 1""",
            (kind, alias),
        ).fetchone()
        if row:
            found[(kind, alias)] = row[0]
    return found


def article_mentions(conn: sqlite3.Connection, article_id: str) -> list[StoredMention]:
    """An article's mentions in reading order (title first), with their entities."""
    rows = conn.execute(
        """SELECT m.*, e.name, e.key FROM mentions m JOIN articles a ON a.pk = m.article_pk
           JOIN entities e ON e.id = m.entity_id WHERE a.id = ?
           ORDER BY m.field = 'text', m.char_start""",
        (article_id,),
    )
    return [StoredMention(r["field"], r["char_start"], r["char_end"], r["text"], r["type"], r["entity_id"],
                          r["name"], r["key"]) for r in rows]


def article_auto_tags(conn: sqlite3.Connection, article_id: str) -> list[str] | None:
    """The tags suggested for an article, or None if it was never enriched."""
    row = conn.execute(
        "SELECT n.auto_tags FROM enrichments n JOIN articles a ON a.pk = n.article_pk WHERE a.id = ?",
        (article_id,),
    ).fetchone()
    return json.loads(row[0]) if row else None


def tag_entities(conn: sqlite3.Connection, tags: Iterable[str]) -> dict[str, int]:
    """Publisher tag -> the id of the entity it names, for the tags that name one."""
    found = {}
    for tag in tags:
        row = conn.execute("SELECT entity_id FROM tag_entities WHERE tag = ?", (tag,)).fetchone()
        if row:
            found[tag] = row[0]
    return found


def list_entities(conn: sqlite3.Connection, *, type: str | None = None, country: str | None = None,
                  key_prefix: str | None = None, since: str | None = None, source: str | None = None,
                  limit: int = 50, offset: int = 0) -> list[EntitySummary]:
    """Entities by number of articles naming them, optionally of a type, in a country, from a date or outlet."""
    where, params = [], []
    if type:
        where.append("e.type = ?")
        params.append(type)
    if country:
        where.append("e.country = ?")
        params.append(country)
    if key_prefix:
        where.append("e.key >= ? AND e.key < ?")
        params += [key_prefix, key_prefix + "\uffff"]
    if since:
        where.append("a.published_at >= ?")
        params.append(since)
    if source:
        where.append("a.source = ?")
        params.append(source)
    sql = _SUMMARY + (" WHERE " + " AND ".join(where) if where else "")
    sql += " GROUP BY e.id ORDER BY article_count DESC, mention_count DESC, e.id LIMIT ? OFFSET ?"
    return [_summary(r) for r in conn.execute(sql, params + [limit, offset])]


def get_entity(conn: sqlite3.Connection, entity_id: int) -> EntitySummary:
    """One entity with its counts; raises NotFound."""
    row = conn.execute(_SUMMARY + " WHERE e.id = ? GROUP BY e.id", (entity_id,)).fetchone()
    if row is None:
        exists = conn.execute("SELECT * FROM entities WHERE id = ?", (entity_id,)).fetchone()
        if exists is None:
            raise NotFound("no such entity", subject=str(entity_id))
        return EntitySummary(id=exists["id"], type=exists["type"], key=exists["key"], name=exists["name"],
                             country=exists["country"], place_kind=exists["place_kind"],
                             place_id=exists["place_id"], latitude=exists["latitude"], longitude=exists["longitude"])
    return _summary(row)


def find_entities(conn: sqlite3.Connection, keys: Iterable[str], *, type: str | None = None) -> list[EntitySummary]:
    """Entities whose matching key is one of *keys* (see marsad.enrich.entities.name_key)."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    sql = _SUMMARY + f" WHERE e.key IN ({marks})" + (" AND e.type = ?" if type else "")
    sql += " GROUP BY e.id ORDER BY article_count DESC"
    return [_summary(r) for r in conn.execute(sql, keys + ([type] if type else []))]


def entity_detail(conn: sqlite3.Connection, entity_id: int, *, limit: int = 20) -> EntityDetail:
    """An entity page's data: spellings, mentions a day, outlets, co-occurring entities, latest articles."""
    entity = get_entity(conn, entity_id)
    spellings = [(r[0], r[1]) for r in conn.execute(
        "SELECT text, count(*) FROM mentions WHERE entity_id = ? GROUP BY text ORDER BY count(*) DESC, text LIMIT ?",
        (entity_id, limit))]
    timeline = [(r[0], r[1]) for r in conn.execute(
        """SELECT substr(a.published_at, 1, 10) AS day, count(*) FROM mentions m JOIN articles a ON a.pk = m.article_pk
           WHERE m.entity_id = ? AND a.published_at IS NOT NULL GROUP BY day ORDER BY day""", (entity_id,))]
    outlets = [(r[0], r[1]) for r in conn.execute(
        """SELECT coalesce(a.source, ''), count(DISTINCT a.pk) FROM mentions m JOIN articles a ON a.pk = m.article_pk
           WHERE m.entity_id = ? GROUP BY a.source ORDER BY count(DISTINCT a.pk) DESC, a.source""", (entity_id,))]
    company = conn.execute(
        """SELECT other.entity_id, count(DISTINCT other.article_pk) AS shared
           FROM mentions mine JOIN mentions other ON other.article_pk = mine.article_pk
           WHERE mine.entity_id = ? AND other.entity_id != ?
           GROUP BY other.entity_id ORDER BY shared DESC, other.entity_id LIMIT ?""",
        (entity_id, entity_id, limit)).fetchall()
    cooccurring = [(get_entity(conn, r[0]), r[1]) for r in company]
    articles = [r[0] for r in conn.execute(
        """SELECT a.id FROM articles a WHERE a.pk IN (SELECT article_pk FROM mentions WHERE entity_id = ?)
           ORDER BY a.published_at DESC, a.pk DESC LIMIT ?""", (entity_id, limit))]  # portable: no DISTINCT + ORDER BY
    return EntityDetail(entity, spellings, timeline, outlets, cooccurring, articles)


def entity_article_ids(conn: sqlite3.Connection, entity_ids: Iterable[int]) -> list[str]:
    """Ids of the articles that mention any of these entities (newest first): a search filter."""
    ids = list(entity_ids)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return [r[0] for r in conn.execute(
        f"""SELECT a.id FROM articles a WHERE a.pk IN (SELECT article_pk FROM mentions WHERE entity_id IN ({marks}))
            ORDER BY a.published_at DESC, a.pk DESC""", ids)]


def entity_facets(conn: sqlite3.Connection, article_ids: Iterable[str], *, type: str | None = None,
                  limit: int = 20) -> list[tuple[EntitySummary, int]]:
    """The entities most often named in a set of articles (a search result's facet), with counts."""
    ids = list(article_ids)
    if not ids:
        return []
    counts: dict[int, int] = {}
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        marks = ",".join("?" * len(part))
        sql = f"""SELECT m.entity_id, count(DISTINCT m.article_pk) FROM mentions m JOIN articles a ON a.pk = m.article_pk
                  {"JOIN entities e ON e.id = m.entity_id" if type else ""}
                  WHERE a.id IN ({marks}) {"AND e.type = ?" if type else ""} GROUP BY m.entity_id"""
        for entity_id, count in conn.execute(sql, part + ([type] if type else [])):
            counts[entity_id] = counts.get(entity_id, 0) + count
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [(get_entity(conn, entity_id), count) for entity_id, count in top]


# -- search: entity: and type: filters, entity and place facets (marsad.search.engine) ------------


def resolve_entity(conn: sqlite3.Connection, name: str, types: Iterable[str] = ()) -> list[int]:
    """Ids of the entities a written name (or "#id") means, by the canonicaliser's rules, of *types* if given.

    The name goes through the same steps as a mention (marsad.enrich.entities): clitics off,
    spelling folded, the alias files (أمريكا -> الولايات المتحدة), and for people and
    organisations the full name that a lone surname was paired with in earlier articles.
    """
    types = [t for t in dict.fromkeys(types) if t]
    type_sql = f" AND type IN ({','.join('?' * len(types))})" if types else ""
    name = name.strip()
    if name.startswith("#") and name[1:].isdecimal():
        return [r[0] for r in conn.execute(f"SELECT id FROM entities WHERE id = ?{type_sql}", [int(name[1:]), *types])]
    from .entities import alias_table, clean_name, name_key

    key = clean_name(name)[0]
    keys = [k for k in (key, name_key(name)) if k]
    for k in list(keys):
        alias = alias_table().get(k)
        if alias and (not types or alias[0] in types or (alias[2] and {"LOC", "ORG"} & set(types))):
            keys.append(name_key(alias[1]))
    keys = list(dict.fromkeys(keys))
    if not keys:
        return []
    found = [r[0] for r in conn.execute(
        f"SELECT id FROM entities WHERE key IN ({','.join('?' * len(keys))}){type_sql} ORDER BY id", [*keys, *types])]
    learnt = known_aliases(conn, [(t, k) for t in (types or ["PERS", "ORG"]) if t in ("PERS", "ORG") for k in keys])
    for (kind, _), full_key in sorted(learnt.items()):
        row = conn.execute("SELECT id FROM entities WHERE type = ? AND key = ?", (kind, full_key)).fetchone()
        if row and row[0] not in found:
            found.append(row[0])
    return found


def resolve_filters(conn: sqlite3.Connection, entities: Iterable[str], types: Iterable[str] = ()
                    ) -> dict[str, tuple[int, ...]]:
    """Each `entity:` value -> the ids it means (empty: no such entity), restricted to `type:` values."""
    types = tuple(types)
    return {value: tuple(resolve_entity(conn, value, types)) for value in dict.fromkeys(entities)}


def search_facets(conn: sqlite3.Connection, matched: str, params: list, *, per_type: int = 10,
                  countries: int = 20) -> tuple[list[tuple[str, int, str, int]], list[tuple[str, int]]]:
    """Entity and place facets over a set of articles.

    *matched* is a ``WITH m AS (...)`` clause whose rows carry the articles' pks as `pk`
    (with *params* bound). Returns ((type, entity id, name, articles) for the *per_type*
    entities of each type named in most of the articles, PERS, LOC, ORG then MISC) and
    ((ISO country, articles naming a place in it)), largest first.
    """
    entities = conn.execute(
        f"""{matched}, c AS MATERIALIZED (
                SELECT mn.entity_id AS id, count(DISTINCT mn.article_pk) AS n
                FROM m JOIN mentions mn ON mn.article_pk = m.pk GROUP BY mn.entity_id)
            SELECT type, id, name, n FROM (
                SELECT e.type, e.id, e.name, c.n, row_number() OVER (PARTITION BY e.type ORDER BY c.n DESC, e.id) AS r
                FROM c JOIN entities e ON e.id = c.id) ranked
            WHERE r <= ? ORDER BY CASE type WHEN 'PERS' THEN 0 WHEN 'LOC' THEN 1 WHEN 'ORG' THEN 2 ELSE 3 END,
                                  type, r""",
        [*params, per_type]).fetchall()
    places = conn.execute(
        f"""{matched}, loc AS MATERIALIZED (
                SELECT id, country FROM entities WHERE type = 'LOC' AND country IS NOT NULL)
            SELECT loc.country, count(DISTINCT mn.article_pk) AS n
            FROM m JOIN mentions mn ON mn.article_pk = m.pk JOIN loc ON loc.id = mn.entity_id
            GROUP BY loc.country ORDER BY n DESC, loc.country LIMIT ?""",
        [*params, countries]).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in entities], [(r[0], r[1]) for r in places]


class EntityQueries:
    """The entity reads of a store, for both backends: each runs this module's SQL on `self.conn`
    (sqlite3's connection, or PostgreSQL's `SQLiteStyle` that takes the same dialect)."""

    conn: sqlite3.Connection

    def pending_enrichment(self, model: str, *, limit: int | None = None) -> list[str]:
        """Ids of articles never enriched, changed since (text, title or tags), or enriched by another model."""
        return pending_article_ids(self.conn, model, limit=limit)

    def known_entity_aliases(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(type, short name key) -> key of the full name earlier articles paired it with."""
        return known_aliases(self.conn, keys)

    def article_mentions(self, article_id: str) -> list:
        """An article's entity mentions in reading order."""
        return article_mentions(self.conn, article_id)

    def article_auto_tags(self, article_id: str) -> list[str] | None:
        """Tags suggested for an article; None if it was never enriched."""
        return article_auto_tags(self.conn, article_id)

    def tag_entities(self, tags: Iterable[str]) -> dict[str, int]:
        """Publisher tag -> id of the entity it names."""
        return tag_entities(self.conn, tags)

    def list_entities(self, **filters) -> list:
        """Entities (EntitySummary) by article count; filters: type, country, key_prefix, since, source, limit, offset."""
        return list_entities(self.conn, **filters)

    def find_entities(self, keys: Iterable[str], *, type: str | None = None) -> list:
        """Entities whose matching key is one of *keys*."""
        return find_entities(self.conn, keys, type=type)

    def entity_detail(self, entity_id: int, *, limit: int = 20):
        """An entity page's data (EntityDetail); raises NotFound."""
        return entity_detail(self.conn, entity_id, limit=limit)

    def entity_article_ids(self, entity_ids: Iterable[int]) -> list[str]:
        """Ids of articles mentioning any of these entities, newest first."""
        return entity_article_ids(self.conn, entity_ids)

    def entity_facets(self, article_ids: Iterable[str], *, type: str | None = None, limit: int = 20) -> list:
        """(EntitySummary, article count) for the entities most named in these articles."""
        return entity_facets(self.conn, article_ids, type=type, limit=limit)
