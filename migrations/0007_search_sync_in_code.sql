-- Full-text index kept in sync by the store instead of by row triggers (issue 4/7).
-- With a trigger on every entry INSERT/UPDATE, the index joined the transaction at the
-- first entry, and from then on every statement that opens a statement journal (any
-- write with a trigger or a foreign key) made FTS5 flush its pending postings to a new
-- segment: one tiny segment per entry, merged again and again. The store now writes the
-- new and edited entries' postings at the end of each write transaction, so FTS5 flushes
-- once per commit. Deleting entries (`sources remove --purge`) is rare and keeps its
-- trigger.
DROP TRIGGER entries_fts_insert;
DROP TRIGGER entries_fts_update;
