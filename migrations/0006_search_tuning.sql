-- Full-text index tuning for bulk ingest (issue 7). FTS5 writes its pending postings to
-- a new segment at each commit and whenever they pass 1 MiB; `automerge` (default 4)
-- then merged those small segments again and again during a fetch cycle. Merging 16 at
-- a time cuts that work (1 000-feed cold cycle 7.9 s -> 7.6 s) for a few more segments
-- to read per query. A larger `hashsize` was measured too and not kept: it saved a
-- little more time for a few MiB of peak memory. Stored in the index's config table.
INSERT INTO entries_fts (entries_fts, rank) VALUES ('automerge', 16);
