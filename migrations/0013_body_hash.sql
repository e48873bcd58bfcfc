-- A 200 answer that brings the same body as the last one parsed (a server that sends
-- no validators, or new validators for an unchanged feed) is recorded like a 304,
-- without parsing: the BLAKE3 of the last body parsed and stored, and that feed's
-- <ttl> in minutes, which the skipped parse would have read.
ALTER TABLE fetch_state ADD COLUMN body_hash BLOB;
ALTER TABLE fetch_state ADD COLUMN feed_ttl INTEGER;
