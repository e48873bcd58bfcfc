-- New exact keys go to a small table first (fetch-cycle issue 7). `story_key_hashes`
-- (migration 0015) is one B-tree keyed by a hash, so every new key lands on a random
-- leaf page, and each leaf page a write transaction changes is one more page in the
-- write-ahead log. Once the table outgrew the keys a transaction adds (about 1 600
-- leaf pages at 10 000 feeds), nearly every new key cost a page of its own: the
-- 10 000-feed cold cycle wrote 7.1 GB for a database of 1 GB, 4.2 GB of it for these
-- keys. `story_key_recent` holds the keys added since the last fold, a few dozen pages
-- that every transaction rewrites anyway; the store moves them into
-- `story_key_hashes` in hash order when it holds `KEYS_RECENT_MAX` rows (src/store/
-- entries.rs), so that a leaf page of the large table is written once per fold, not
-- once per key. A key is in one of the two tables, never both; a lookup reads both.
CREATE TABLE story_key_recent (
    hash     INTEGER PRIMARY KEY,
    story_id INTEGER NOT NULL
) STRICT;
