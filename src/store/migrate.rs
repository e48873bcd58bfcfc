//! Embeds `migrations/NNNN_*.sql` and applies them in order, tracked by SQLite's
//! `user_version` (rusqlite_migration). Append-only: add a file, never edit one.

use rusqlite_migration::{M, Migrations};

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../migrations/0001_init.sql")),
    M::up(include_str!("../../migrations/0002_politeness.sql")),
    M::up(include_str!("../../migrations/0003_near_duplicates.sql")),
    M::up(include_str!("../../migrations/0004_email_outbox.sql")),
    M::up(include_str!("../../migrations/0005_search.sql")),
    M::up(include_str!("../../migrations/0006_search_tuning.sql")),
];

/// The schema migrations, in order.
pub(crate) fn migrations() -> Migrations<'static> {
    Migrations::from_slice(MIGRATIONS)
}

/// Number of migrations shipped (the `user_version` of an up-to-date database).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid_and_set_user_version() {
        migrations().validate().unwrap();
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, SCHEMA_VERSION);
    }
}
