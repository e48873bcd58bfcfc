-- Smaller LSH band index (dedup issue 4, fetch-cycle issue 7). Every entry adds 24 band
-- keys, so this index is the largest random-write target of a fetch and its lookups
-- miss the page cache once it outgrows it. Three changes, measured in BENCHMARKS.md:
--   * 31-bit band keys (SQLite stores them in 4 bytes instead of 8). They are the old
--     63-bit keys shifted right by 32, so existing keys carry over unchanged in meaning.
--     More collisions only add candidates, which are verified exactly anyway.
--   * No secondary index on story_id: it doubled the index's size and write work. The
--     hourly prune of stories older than the matching window scans the table instead,
--     and a merge of two stories re-adds the moved entries' keys for the survivor.
--   * No foreign key: deleting a story (a merge, `sources remove --purge`) can leave its
--     keys behind until they age out of the window. A key pointing at a missing or
--     different story only adds a candidate, and candidates are verified against their
--     entries' text, so it can never merge two stories.
CREATE TABLE lsh_bands (
    band     INTEGER NOT NULL,
    story_id INTEGER NOT NULL,
    PRIMARY KEY (band, story_id)
) STRICT, WITHOUT ROWID;
INSERT OR IGNORE INTO lsh_bands (band, story_id)
    SELECT band >> 32, story_id FROM story_bands ORDER BY 1, 2;
DROP TABLE story_bands;
