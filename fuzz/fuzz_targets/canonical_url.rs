//! Canonical URLs: never a panic, and canonicalising twice changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    if let Some(once) = roundup::dedup::canonical::canonicalize_str(s) {
        let twice = roundup::dedup::canonical::canonicalize_str(&once);
        assert_eq!(
            twice.as_deref(),
            Some(once.as_str()),
            "not idempotent for {s:?}"
        );
    }
});
