-- A small table in front of the LSH band index (dedup issue 4, fetch-cycle issue 7).
-- Every entry adds 24 band keys at random places of `lsh_bands`, so each commit wrote
-- most of that index's pages to the WAL again (about 200 µs per entry in the dedup
-- bench). New keys now go to `lsh_recent`, a few hundred pages that stay in the cache;
-- when it holds enough keys, the store moves them into `lsh_bands` in key order in one
-- pass, which writes each page of the large index once for thousands of entries.
-- Candidates are looked up in both tables.
CREATE TABLE lsh_recent (
    band     INTEGER NOT NULL,
    story_id INTEGER NOT NULL,
    PRIMARY KEY (band, story_id)
) STRICT, WITHOUT ROWID;
