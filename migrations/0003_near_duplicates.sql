-- Near-duplicate matching (dedup issue): LSH band keys of each story's MinHash
-- signatures. One row per (band key, story); an entry adds its 24 keys to its story.
-- Candidates for a new entry are the stories sharing any band key, looked up through
-- the primary key, so the cost does not grow with the number of stories.
CREATE TABLE story_bands (
    band     INTEGER NOT NULL,
    story_id INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
    PRIMARY KEY (band, story_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX story_bands_story ON story_bands(story_id);
