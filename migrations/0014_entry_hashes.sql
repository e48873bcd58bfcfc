-- The fingerprints of the entries of the last body parsed (16 bytes each, concatenated):
-- an entry whose fingerprint is among them would normalise to the item stored then, so
-- the next parse counts it as unchanged without normalising it again.
ALTER TABLE fetch_state ADD COLUMN entry_hashes BLOB;
