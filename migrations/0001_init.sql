-- roundup schema, version 1. Append-only: never edit this file once shipped; add
-- migrations/0002_*.sql instead. Times are Unix seconds (UTC).

-- One row per configured outlet. Rows stay when a source leaves the config, so stored
-- entries and past digests keep their outlet name.
CREATE TABLE sources (
    id        TEXT PRIMARY KEY,
    url       TEXT NOT NULL,
    name      TEXT NOT NULL,
    region    TEXT NOT NULL,
    language  TEXT,
    added_at  INTEGER NOT NULL
) STRICT;

-- Conditional-GET validators and health, one row per source.
CREATE TABLE fetch_state (
    source_id            TEXT PRIMARY KEY REFERENCES sources(id) ON DELETE CASCADE,
    etag                 TEXT,
    last_modified        TEXT,
    last_fetch_at        INTEGER,
    last_success_at      INTEGER,
    last_status          INTEGER,
    last_error           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_fetch_at        INTEGER
) STRICT;

-- A story is one news report, whoever carries it.
CREATE TABLE stories (
    id         INTEGER PRIMARY KEY,
    first_seen INTEGER NOT NULL
) STRICT;
CREATE INDEX stories_first_seen ON stories(first_seen);

-- An entry is one item from one source; UNIQUE(source_id, entry_key) makes refetches
-- idempotent.
CREATE TABLE entries (
    id            INTEGER PRIMARY KEY,
    source_id     TEXT NOT NULL REFERENCES sources(id),
    entry_key     TEXT NOT NULL,
    story_id      INTEGER NOT NULL REFERENCES stories(id),
    title         TEXT NOT NULL,
    link          TEXT,
    canonical_url TEXT,
    published     INTEGER,
    updated       INTEGER,
    summary       TEXT NOT NULL,
    content_html  TEXT,
    content_hash  TEXT NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_changed  INTEGER NOT NULL,
    UNIQUE (source_id, entry_key)
) STRICT;
CREATE INDEX entries_story ON entries(story_id);

-- Keys under which a story is found again: kind 'url' (canonical URL) and 'text'
-- (fingerprint of normalised title + text). Near-duplicate LSH bands add more kinds.
CREATE TABLE story_keys (
    kind     TEXT NOT NULL,
    key      TEXT NOT NULL,
    story_id INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
    PRIMARY KEY (kind, key, story_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX story_keys_story ON story_keys(story_id);
