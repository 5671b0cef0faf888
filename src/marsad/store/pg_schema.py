"""PostgreSQL schema: ordered, append-only migrations, recorded one row per version in `schema_migrations`.

They follow marsad.store.sqlite.MIGRATIONS one for one (version N here is version N
there), so a database of either kind at version N holds the same tables and
`marsad migrate` can copy between them. Add new migrations at the end; never edit
one that has shipped.

Differences from SQLite, on purpose:
* article dates are `timestamptz` (crawler tables keep SQLite's ISO text); ids are `COLLATE "C"` so id-prefix lookups are byte ranges;
* search is a `tsvector` column on `articles` (marsad's analysed terms, title weight A)
  with a GIN index, instead of an FTS5 table;
* source and entity names get pg_trgm GIN indexes for fuzzy lookups.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: articles, sources, tags, links
    """
    CREATE TABLE sources (
        name      TEXT PRIMARY KEY,
        homepage  TEXT,
        feeds     JSONB NOT NULL DEFAULT '[]',
        language  TEXT,
        country   TEXT,
        aliases   JSONB NOT NULL DEFAULT '[]'
    );
    CREATE TABLE articles (
        pk              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id              TEXT COLLATE "C" NOT NULL UNIQUE,
        url             TEXT,
        canonical_url   TEXT,
        source          TEXT,
        source_inferred BOOLEAN NOT NULL DEFAULT false,
        title           TEXT NOT NULL,
        text            TEXT NOT NULL,
        published_at    TIMESTAMPTZ,
        date_precision  TEXT,
        language        TEXT,
        author          TEXT,
        fetched_at      TIMESTAMPTZ,
        origin          TEXT NOT NULL DEFAULT '',
        content_hash    TEXT NOT NULL,
        version_hash    TEXT NOT NULL,
        stored_at       TIMESTAMPTZ NOT NULL,
        updated_at      TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX articles_published_at ON articles(published_at);
    CREATE INDEX articles_source ON articles(source, published_at);
    CREATE INDEX articles_content_hash ON articles(content_hash);
    CREATE INDEX articles_canonical_url ON articles(canonical_url);
    CREATE TABLE article_tags (
        article_pk BIGINT NOT NULL REFERENCES articles(pk) ON DELETE CASCADE,
        position   INTEGER NOT NULL,
        tag        TEXT NOT NULL,
        PRIMARY KEY (article_pk, position)
    );
    CREATE INDEX article_tags_tag ON article_tags(tag);
    CREATE TABLE links (
        from_id TEXT COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        to_id   TEXT COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        kind    TEXT NOT NULL,
        PRIMARY KEY (from_id, to_id, kind)
    );
    CREATE INDEX links_to ON links(to_id);
    """,
    # 2: full-text search: analysed terms as a tsvector (marsad.search.postgres), GIN-indexed
    """
    ALTER TABLE articles ADD COLUMN search_tsv tsvector;
    CREATE INDEX articles_search ON articles USING gin (search_tsv);
    CREATE TABLE search_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO search_state (key, value)
        SELECT 'analyzer', CASE WHEN EXISTS (SELECT 1 FROM articles) THEN 'stale' ELSE '' END;
    """,
    # 3: crawler: per-source switches, feeds with their crawl state, the entry frontier, raw responses
    """
    ALTER TABLE sources ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sources ADD COLUMN added_at TEXT;
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX sources_name_trgm ON sources USING gin (name gin_trgm_ops);
    CREATE TABLE feeds (
        url             TEXT PRIMARY KEY,
        source          TEXT NOT NULL REFERENCES sources(name) ON DELETE CASCADE,
        kind            TEXT NOT NULL DEFAULT 'feed',
        title           TEXT,
        etag            TEXT,
        last_modified   TEXT,
        content_hash    TEXT,
        last_fetched    TEXT,
        last_new        TEXT,
        next_due        TEXT,
        interval_s      INTEGER NOT NULL DEFAULT 1800,
        fetches         INTEGER NOT NULL DEFAULT 0,
        unchanged       INTEGER NOT NULL DEFAULT 0,
        entries_seen    INTEGER NOT NULL DEFAULT 0,
        error_count     INTEGER NOT NULL DEFAULT 0,
        errors_total    INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        last_error_kind TEXT,
        disabled        INTEGER NOT NULL DEFAULT 0,
        added_at        TEXT NOT NULL
    );
    CREATE INDEX feeds_due ON feeds(disabled, next_due);
    CREATE INDEX feeds_source ON feeds(source);
    CREATE TABLE frontier (
        url           TEXT PRIMARY KEY,
        source        TEXT,
        feed_url      TEXT,
        entry         TEXT NOT NULL,
        state         TEXT NOT NULL DEFAULT 'pending',
        attempts      INTEGER NOT NULL DEFAULT 0,
        next_try      TEXT,
        error_kind    TEXT,
        last_error    TEXT,
        article_id    TEXT,
        discovered_at TEXT NOT NULL,
        done_at       TEXT
    );
    CREATE INDEX frontier_state ON frontier(state, next_try);
    CREATE INDEX frontier_source ON frontier(source);
    CREATE TABLE raw_responses (
        url         TEXT PRIMARY KEY,
        final_url   TEXT NOT NULL,
        status      INTEGER NOT NULL,
        headers     TEXT NOT NULL,
        codec       TEXT NOT NULL,
        body        BYTEA NOT NULL,
        size        INTEGER NOT NULL,
        source      TEXT,
        article_id  TEXT,
        fetched_at  TEXT NOT NULL
    );
    CREATE INDEX raw_responses_article ON raw_responses(article_id);
    """,
    # 4: named entities, their mentions, learnt aliases, auto tags (marsad.enrich)
    """
    CREATE TABLE entities (
        id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        type        TEXT NOT NULL,
        key         TEXT NOT NULL,
        name        TEXT NOT NULL,
        country     TEXT,
        place_kind  TEXT,
        place_id    TEXT,
        latitude    DOUBLE PRECISION,
        longitude   DOUBLE PRECISION,
        UNIQUE (type, key)
    );
    CREATE INDEX entities_country ON entities(country);
    CREATE INDEX entities_name_trgm ON entities USING gin (name gin_trgm_ops);
    CREATE TABLE mentions (
        article_pk  BIGINT NOT NULL REFERENCES articles(pk) ON DELETE CASCADE,
        field       TEXT NOT NULL,
        char_start  INTEGER NOT NULL,
        char_end    INTEGER NOT NULL,
        text        TEXT NOT NULL,
        type        TEXT NOT NULL,
        entity_id   BIGINT NOT NULL REFERENCES entities(id),
        PRIMARY KEY (article_pk, field, char_start)
    );
    CREATE INDEX mentions_entity ON mentions(entity_id, article_pk);
    CREATE TABLE entity_aliases (
        type       TEXT NOT NULL,
        alias      TEXT NOT NULL,
        entity_id  BIGINT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
        seen       INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (type, alias, entity_id)
    );
    CREATE TABLE enrichments (
        article_pk    BIGINT PRIMARY KEY REFERENCES articles(pk) ON DELETE CASCADE,
        version_hash  TEXT NOT NULL,
        model         TEXT NOT NULL,
        auto_tags     TEXT NOT NULL DEFAULT '[]',
        enriched_at   TEXT NOT NULL
    );
    CREATE TABLE tag_entities (
        tag        TEXT PRIMARY KEY,
        entity_id  BIGINT NOT NULL REFERENCES entities(id) ON DELETE CASCADE
    );
    """,
    # 5: duplicate groups with LSH band keys, stories, their members, merges and links (marsad.stories,
    # which runs here through PostgresStore.transaction(); marsad.backfill also fills dedup_articles)
    """
    CREATE TABLE dedup_articles (
        article_pk  BIGINT PRIMARY KEY REFERENCES articles(pk) ON DELETE CASCADE,
        group_pk    BIGINT NOT NULL,
        match_pk    BIGINT,
        kind        TEXT,
        score       DOUBLE PRECISION,
        text_fp     BIGINT NOT NULL DEFAULT 0,
        titled_fp   BIGINT NOT NULL DEFAULT 0,
        bands       BYTEA
    );
    CREATE INDEX dedup_articles_group ON dedup_articles(group_pk);
    CREATE TABLE stories (
        pk            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        id            TEXT COLLATE "C" NOT NULL UNIQUE,
        title         TEXT NOT NULL,
        lead_pk       BIGINT,
        first_seen    DOUBLE PRECISION NOT NULL,
        last_seen     DOUBLE PRECISION NOT NULL,
        article_count INTEGER NOT NULL,
        outlets       TEXT NOT NULL DEFAULT '[]',
        merged_into   BIGINT,
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX stories_recent ON stories(merged_into, last_seen);
    CREATE TABLE story_articles (
        article_pk  BIGINT PRIMARY KEY REFERENCES articles(pk) ON DELETE CASCADE,
        story_pk    BIGINT NOT NULL,
        similarity  DOUBLE PRECISION NOT NULL,
        seen_at     DOUBLE PRECISION NOT NULL,
        vector      TEXT NOT NULL,
        terms       TEXT NOT NULL
    );
    CREATE INDEX story_articles_story ON story_articles(story_pk, seen_at);
    CREATE INDEX story_articles_seen ON story_articles(seen_at);
    CREATE TABLE story_merges (
        pk          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        from_story  BIGINT NOT NULL,
        into_story  BIGINT NOT NULL,
        similarity  DOUBLE PRECISION NOT NULL,
        article_pk  BIGINT,
        at          DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE story_links (
        story_a  BIGINT NOT NULL,
        story_b  BIGINT NOT NULL,
        score    DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (story_a, story_b)
    );
    CREATE INDEX story_links_b ON story_links(story_b);
    CREATE TABLE story_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 6: SQLite's search index gained exact-form columns with a new analyzer. PostgreSQL ranks
    # with ts_rank over the stems alone, so its tsvector keeps its shape; like SQLite's index it
    # waits for `marsad reindex`.
    """
    UPDATE search_state SET value = 'stale' WHERE key = 'analyzer' AND EXISTS (SELECT 1 FROM articles);
    """,
    # 7: newest-first pages (sort=date, filter-only queries). The plain published_at index cannot give
    # DESC NULLS LAST order, so a common word sorted by date was a sequential scan reading every row's
    # tsvector (3.5 s at 1,000,000 articles); with this index, 0.2 ms.
    """
    CREATE INDEX IF NOT EXISTS articles_newest ON articles (published_at DESC NULLS LAST, pk DESC);
    """,
    # 8: SQLite's full-text index got a larger pending-terms buffer (an FTS5 setting). Nothing here.
    "SELECT 1;",
    # 9: that buffer grown with ingest's batches. Nothing here either.
    "SELECT 1;",
]
