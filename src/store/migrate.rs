//! Embeds `migrations/NNNN_*.sql` and applies them in order, tracked by SQLite's
//! `user_version` (rusqlite_migration). Append-only: add a file, never edit one.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite_migration::{M, Migrations};

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../migrations/0001_init.sql")),
    M::up(include_str!("../../migrations/0002_politeness.sql")),
    M::up(include_str!("../../migrations/0003_near_duplicates.sql")),
    M::up(include_str!("../../migrations/0004_email_outbox.sql")),
    M::up(include_str!("../../migrations/0005_search.sql")),
    M::up(include_str!("../../migrations/0006_search_tuning.sql")),
    M::up(include_str!(
        "../../migrations/0007_search_sync_in_code.sql"
    )),
    M::up(include_str!("../../migrations/0008_compact_bands.sql")),
    M::up(include_str!("../../migrations/0009_search_catch_up.sql")),
    M::up(include_str!("../../migrations/0010_recent_bands.sql")),
    M::up(include_str!("../../migrations/0011_band_runs.sql")),
    M::up(include_str!("../../migrations/0012_band_blocks.sql")),
    M::up(include_str!("../../migrations/0013_body_hash.sql")),
    M::up(include_str!("../../migrations/0014_entry_hashes.sql")),
    M::up(include_str!("../../migrations/0015_story_key_hashes.sql")),
    M::up(include_str!("../../migrations/0016_wide_band_keys.sql")),
    M::up(include_str!("../../migrations/0017_story_key_recent.sql")),
];

/// The schema migrations, in order: [`MIGRATIONS`], then those with a hook (Rust run
/// after their SQL, in the same transaction).
pub(crate) fn migrations() -> Migrations<'static> {
    let mut all = MIGRATIONS.to_vec();
    all.push(M::up_with_hook(
        include_str!("../../migrations/0018_one_permutation_bands.sql"),
        recompute_band_keys,
    ));
    Migrations::new(all)
}

/// Migrations with a hook, after [`MIGRATIONS`].
const HOOKED: usize = 1;

/// Migration 0018's hook: every band key recomputed with one-permutation signatures
/// (see the migration's file). Each stored entry's title and summary are what its keys
/// were made from when it was stored (`normalize::normalize_entry`).
fn recompute_band_keys(tx: &rusqlite::Transaction<'_>) -> rusqlite_migration::HookResult {
    let keys = super::bands::recompute_keys(tx, |title, summary| {
        let keys = crate::dedup::entry_text_keys(title, summary);
        crate::dedup::candidate_keys(&keys.shingles, keys.lead, &keys.headline)
    })?;
    tracing::info!(keys, "migration 0018: near-duplicate band keys recomputed");
    Ok(())
}

/// SQL functions the migrations call, registered on every connection before they run:
/// `roundup_key_hash(kind, key)` is [`crate::dedup::key_hash`] (migration 0015 hashes
/// the stored exact keys with it).
///
/// # Errors
/// When SQLite refuses the registration.
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "roundup_key_hash",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let kind: String = ctx.get(0)?;
            let key: String = ctx.get(1)?;
            Ok(crate::dedup::key_hash(&kind, &key))
        },
    )
}

/// Number of migrations shipped (the `user_version` of an up-to-date database).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len() + HOOKED;

#[cfg(test)]
mod tests {
    use super::*;

    /// A bare connection with the functions the migrations call (what `Store::open`
    /// registers). `Migrations::validate` cannot be used: its connection has none.
    fn connection() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        conn
    }

    #[test]
    fn migrations_are_valid_and_set_user_version() {
        let mut conn = connection();
        migrations().to_latest(&mut conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, SCHEMA_VERSION);
    }

    #[test]
    fn fetch_state_keeps_its_validators_and_knows_no_body_after_0013() {
        let mut conn = connection();
        migrations().to_version(&mut conn, 12).unwrap();
        conn.execute_batch(
            "INSERT INTO sources (id, url, name, region, added_at)
                 VALUES ('a', 'https://a.example/feed', 'A', 'R', 0);
             INSERT INTO fetch_state (source_id, etag, last_status) VALUES ('a', '\"v1\"', 200);",
        )
        .unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let row: (String, i64, bool) = conn
            .query_row(
                "SELECT etag, last_status,
                        body_hash IS NULL AND feed_ttl IS NULL AND entry_hashes IS NULL
                 FROM fetch_state",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        // No body is known yet: the next 200 is parsed whatever it brings.
        assert_eq!(row, ("\"v1\"".to_owned(), 200, true));
    }

    #[test]
    fn exact_keys_carry_over_as_the_hashes_the_writer_looks_up() {
        let mut conn = connection();
        migrations().to_version(&mut conn, 14).unwrap();
        conn.execute_batch(
            "INSERT INTO stories (id, first_seen) VALUES (1, 0), (2, 0);
             INSERT INTO story_keys (kind, key, story_id) VALUES
                 ('url', 'https://a.example/1', 1),
                 ('text', 'f1', 2),
                 ('url', 'https://b.example/2', 2),
                 ('url', 'https://b.example/2', 1);",
        )
        .unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let story = |kind: &str, key: &str| -> Option<i64> {
            conn.query_row(
                "SELECT story_id FROM story_key_hashes WHERE hash = ?1",
                [crate::dedup::key_hash(kind, key)],
                |r| r.get(0),
            )
            .ok()
        };
        assert_eq!(story("url", "https://a.example/1"), Some(1));
        assert_eq!(story("text", "f1"), Some(2));
        // A key two stories held goes to the oldest.
        assert_eq!(story("url", "https://b.example/2"), Some(1));
        // The kind is part of the key: a URL is not a fingerprint.
        assert_eq!(story("text", "https://a.example/1"), None);
        let (rows, old_table): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM story_key_hashes),
                        (SELECT count(*) FROM sqlite_schema WHERE name = 'story_keys')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((rows, old_table), (3, 0));
    }

    #[test]
    fn band_keys_carry_over_to_the_compact_index() {
        let mut conn = connection();
        migrations().to_version(&mut conn, 7).unwrap();
        conn.execute_batch(
            "INSERT INTO stories (id, first_seen) VALUES (1, 0), (2, 0);
             INSERT INTO story_bands (band, story_id) VALUES
                 (9223372036854775807, 1), (4294967296, 2), (4294967297, 2);",
        )
        .unwrap();
        migrations().to_version(&mut conn, 10).unwrap();
        let rows: Vec<(i64, i64)> = conn
            .prepare("SELECT band, story_id FROM lsh_bands ORDER BY 1, 2")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // 63-bit keys keep their top 31 bits; two that now coincide become one row.
        assert_eq!(rows, [(1, 2), ((1 << 31) - 1, 1)]);
        let old_table: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'story_bands'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old_table, 0);
        // Migration 0011: the compact index becomes run 1 of `lsh_runs`, and recent
        // keys stay recent.
        conn.execute_batch("INSERT INTO lsh_recent (band, story_id) VALUES (7, 2)")
            .unwrap();
        migrations().to_version(&mut conn, 11).unwrap();
        let runs: Vec<(i64, i64, i64)> = conn
            .prepare("SELECT run, band, story_id FROM lsh_runs ORDER BY 1, 2, 3")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(runs, [(1, 1, 2), (1, (1 << 31) - 1, 1)]);
        let recent: (i64, i64) = conn
            .query_row("SELECT band, story_id FROM lsh_recent", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(recent, (7, 2));
        // Migration 0012: every key, in a run or recent, becomes pending, packed as a
        // 4-byte big-endian integer (until 0018, which recomputes them from entries).
        migrations().to_version(&mut conn, 17).unwrap();
        let pending: Vec<(i64, Vec<u8>)> = conn
            .prepare("SELECT story_id, bands FROM lsh_pending ORDER BY bands")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            pending,
            [
                (2, vec![0, 0, 0, 1]),
                (2, vec![0, 0, 0, 7]),
                (1, vec![0x7f, 0xff, 0xff, 0xff])
            ]
        );
        let mut slot = None;
        let tx = conn.transaction().unwrap();
        let cache = super::super::bands::BandCache::current(&mut slot, &tx).unwrap();
        // Since migration 0016 keys are 47 bits: a 31-bit key stored before is found by
        // the keys whose top 31 bits it is, whatever their low 16.
        let (seven, top) = (7 << 16 | 0x1234, ((1 << 31) - 1) << 16 | 1);
        let mut bands = vec![seven; crate::dedup::minhash::BANDS];
        bands[1] = top;
        let mut found = cache.candidates(&tx, &bands, 0).unwrap();
        found.sort_unstable();
        found.dedup();
        assert_eq!(found, [(seven, 2), (top, 1)]);
    }
}
