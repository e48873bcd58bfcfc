-- The search index is brought up to date when it is used, not while feeds are stored
-- (fetch-cycle issue 7). Tokenising every new entry's title and summary for FTS5 was
-- about a sixth of a cold fetch cycle, on the one thread that writes the database.
-- Entries with ids up to `indexed_upto` are in the index; newer ones are added, in id
-- order, by `Store::update_search_index` (which `roundup search`, the daemon after
-- each digest, and the integrity check call). An edit of an entry already indexed
-- still replaces its postings in the edit's own transaction.
CREATE TABLE search_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_upto INTEGER NOT NULL
) STRICT;
INSERT INTO search_state (id, indexed_upto)
    VALUES (1, (SELECT COALESCE(max(id), 0) FROM entries));

-- Deleting an entry removes its postings only if it was indexed: removing postings an
-- entry never had would corrupt an external-content index.
DROP TRIGGER entries_fts_delete;
CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries
    WHEN old.id <= (SELECT indexed_upto FROM search_state WHERE id = 1)
BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, title, summary)
        VALUES ('delete', old.id, old.title, old.summary);
END;
