-- The LSH band index stores its keys packed in blobs (fetch-cycle issue 7, dedup
-- issue 4); see src/store/bands.rs. With one row per key, writing them cost about as
-- much as the rest of an entry's write: 24 inserts per new story into `lsh_recent`,
-- and 48 000 more into `lsh_runs` every time the recent keys were written out.
--   * `lsh_recent` becomes `lsh_pending`: one row per text stored, its story and its
--     new keys as big-endian 4-byte integers (band keys are 31 bits since 0008).
--   * `lsh_runs` becomes `lsh_blocks`: a run is written as rows of up to 320 sorted
--     (band, story) pairs, 12 bytes each (4-byte band, 8-byte story id, big-endian).
--     A row's id is the run number times 2^32 plus the block number.
-- Every stored key becomes pending here, one per row; the next write folds them into
-- one run.
CREATE TABLE lsh_pending (
    story_id INTEGER NOT NULL,
    bands    BLOB NOT NULL
) STRICT;
INSERT INTO lsh_pending (story_id, bands)
    SELECT story_id, unhex(printf('%08x', band)) FROM lsh_recent
    WHERE band BETWEEN 0 AND 2147483647;
INSERT INTO lsh_pending (story_id, bands)
    SELECT story_id, unhex(printf('%08x', band)) FROM lsh_runs
    WHERE band BETWEEN 0 AND 2147483647;
DROP TABLE lsh_recent;
DROP TABLE lsh_runs;

CREATE TABLE lsh_blocks (
    id    INTEGER PRIMARY KEY,
    pairs BLOB NOT NULL
) STRICT;
