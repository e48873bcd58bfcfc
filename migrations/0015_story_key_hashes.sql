-- Exact story keys stored as 64-bit hashes (issue 4: the merge's durable write).
-- story_keys held each key's text twice, in its primary key and in the story_id index,
-- so a copy's two keys dirtied about four pages at random places of two large B-trees,
-- each a WAL frame at the commit. One rowid B-tree keyed by the hash holds ~16 bytes a
-- key, and it has no story_id index and no foreign key (a cascade would scan without
-- one): a story folded into another re-points its keys by one scan (store/entries.rs,
-- `merge_stories`), which happens only when an entry's keys hit two stories.
-- roundup_key_hash is dedup::key_hash, registered on the connection (store/migrate.rs).
-- A key is one story's: where one was held by several (never after a fold), the oldest
-- keeps it.
CREATE TABLE story_key_hashes (
    hash     INTEGER PRIMARY KEY,
    story_id INTEGER NOT NULL
) STRICT;
INSERT OR IGNORE INTO story_key_hashes (hash, story_id)
    SELECT roundup_key_hash(kind, key), min(story_id) FROM story_keys
    GROUP BY kind, key ORDER BY 1;
DROP TABLE story_keys;
