-- Politeness state kept across restarts (daemon issue).
-- retry_after_until: no request to the source before this time (429/503 Retry-After).
-- moved_*: a permanent redirect (301/308 on every hop) seen on consecutive fetches of
--   the configured URL `moved_from`; after enough sightings roundup fetches `moved_to`.
ALTER TABLE fetch_state ADD COLUMN retry_after_until INTEGER;
ALTER TABLE fetch_state ADD COLUMN moved_from TEXT;
ALTER TABLE fetch_state ADD COLUMN moved_to TEXT;
ALTER TABLE fetch_state ADD COLUMN moved_seen INTEGER NOT NULL DEFAULT 0;
