"""Tables of the duplicate and story stages (appended to marsad.store.sqlite.MIGRATIONS).

dedup_articles   one row per processed article: its group of copies, what it matched, its
                 exact fingerprints and LSH band keys (so a restart resumes without
                 re-hashing the corpus; the in-memory index is reloaded from these rows)
stories          one row per story: representative title, first/last seen, size, outlets;
                 a merged story keeps its row with `merged_into` set, so its id still resolves
story_articles   article -> story, with the vector and terms the clusterer used
story_merges     every merge: which story went into which, and how close they were
story_links      stories that were close but not merged (for related articles)
story_state      the processing watermark and bookkeeping
"""

from __future__ import annotations

MIGRATION = """
    CREATE TABLE dedup_articles (
        article_pk  INTEGER PRIMARY KEY REFERENCES articles(pk) ON DELETE CASCADE,
        group_pk    INTEGER NOT NULL,
        match_pk    INTEGER,
        kind        TEXT,
        score       REAL,
        text_fp     INTEGER NOT NULL DEFAULT 0,
        titled_fp   INTEGER NOT NULL DEFAULT 0,
        bands       BLOB
    );
    CREATE INDEX dedup_articles_group ON dedup_articles(group_pk);
    CREATE TABLE stories (
        pk            INTEGER PRIMARY KEY,
        id            TEXT NOT NULL UNIQUE,
        title         TEXT NOT NULL,
        lead_pk       INTEGER,
        first_seen    REAL NOT NULL,
        last_seen     REAL NOT NULL,
        article_count INTEGER NOT NULL,
        outlets       TEXT NOT NULL DEFAULT '[]',
        merged_into   INTEGER,
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX stories_recent ON stories(merged_into, last_seen);
    CREATE TABLE story_articles (
        article_pk  INTEGER PRIMARY KEY REFERENCES articles(pk) ON DELETE CASCADE,
        story_pk    INTEGER NOT NULL,
        similarity  REAL NOT NULL,
        seen_at     REAL NOT NULL,
        vector      TEXT NOT NULL,
        terms       TEXT NOT NULL
    );
    CREATE INDEX story_articles_story ON story_articles(story_pk, seen_at);
    CREATE INDEX story_articles_seen ON story_articles(seen_at);
    CREATE TABLE story_merges (
        pk          INTEGER PRIMARY KEY,
        from_story  INTEGER NOT NULL,
        into_story  INTEGER NOT NULL,
        similarity  REAL NOT NULL,
        article_pk  INTEGER,
        at          REAL NOT NULL
    );
    CREATE TABLE story_links (
        story_a  INTEGER NOT NULL,
        story_b  INTEGER NOT NULL,
        score    REAL NOT NULL,
        PRIMARY KEY (story_a, story_b)
    ) WITHOUT ROWID;
    CREATE INDEX story_links_b ON story_links(story_b);
    CREATE TABLE story_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
