-- The LSH band index becomes a small log-structured index (dedup issue 4, fetch-cycle
-- issue 7); see src/store/bands.rs.
--   * `lsh_recent` loses its primary key: each connection now holds the recent keys in
--     memory (loaded from this table) and looks them up there, so the key only cost a
--     B-tree insert per band key and dirtied pages all over the table at every commit.
--   * `lsh_bands` becomes `lsh_runs`. Moving 48 000 recent keys into one large index
--     changed pages all over it (one B-tree insert per key, and most of its pages
--     written to the WAL again). Now they are written as a new run, sorted, under a new
--     run number: the primary key starts with the run, so a run is appended at the end
--     of the index, and a run whose stories have all left the matching window is
--     deleted as one range. Lookups test a Bloom filter per run, kept in memory, before
--     seeking it. Existing keys become run 1.
CREATE TABLE lsh_recent_log (
    band     INTEGER NOT NULL,
    story_id INTEGER NOT NULL
) STRICT;
INSERT INTO lsh_recent_log (band, story_id) SELECT band, story_id FROM lsh_recent;
DROP TABLE lsh_recent;
ALTER TABLE lsh_recent_log RENAME TO lsh_recent;

CREATE TABLE lsh_runs (
    run      INTEGER NOT NULL,
    band     INTEGER NOT NULL,
    story_id INTEGER NOT NULL,
    PRIMARY KEY (run, band, story_id)
) STRICT, WITHOUT ROWID;
INSERT INTO lsh_runs (run, band, story_id)
    SELECT 1, band, story_id FROM lsh_bands ORDER BY band, story_id;
DROP TABLE lsh_bands;
