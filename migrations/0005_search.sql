-- Full-text search over stored entries (`roundup search`): an FTS5 index of each
-- entry's title and plain-text summary, external-content over `entries`, kept in sync
-- by triggers inside the same transaction as the entry writes. unicode61 folds case in
-- every script (Latin, Cyrillic, Perso-Arabic) and, with remove_diacritics 2, Latin
-- diacritics.
CREATE VIRTUAL TABLE entries_fts USING fts5(
    title,
    summary,
    content = 'entries',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO entries_fts (entries_fts) VALUES ('rebuild');

CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts (rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;
CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, title, summary)
        VALUES ('delete', old.id, old.title, old.summary);
END;
CREATE TRIGGER entries_fts_update AFTER UPDATE OF title, summary ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, title, summary)
        VALUES ('delete', old.id, old.title, old.summary);
    INSERT INTO entries_fts (rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;
