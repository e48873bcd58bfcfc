//! Near-duplicate detection: MinHash over word 3-shingles with banded LSH.
//!
//! Each text becomes a set of shingle hashes (xxh3). A MinHash signature of
//! [`HASHES`] values is cut into [`BANDS`] bands of [`ROWS`] rows; each band hashes to
//! one [`KEY_BITS`]-bit key ([`candidate_key`]), stored in SQLite and indexed, so finding candidates is one indexed
//! lookup per band, independent of how many stories are stored. Two texts with shingle
//! Jaccard similarity `s` share at least one band with probability `1 − (1 − s^3)^24`:
//! 0.96 at s = 0.5, 0.999 at s = 0.7, 0.05 at s = 0.13. Candidates are then verified
//! exactly ([`similar`]), so a shared band alone never merges two stories. Pure.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Rows per band.
pub const ROWS: usize = 3;
/// Bands per signature.
pub const BANDS: usize = 24;
/// MinHash values per signature.
pub const HASHES: usize = ROWS * BANDS;
/// Words per shingle.
pub const SHINGLE_WORDS: usize = 3;
/// Texts with fewer shingles than this get no near-duplicate keys: too little text to
/// tell a copy from a coincidence.
pub const MIN_SHINGLES: usize = 8;

/// Verified near-duplicates: shingle Jaccard at least this…
pub const JACCARD_THRESHOLD: f64 = 0.35;
/// …or the shorter text contained in the longer at least this much (a trimmed copy),
/// when the shorter has at least [`MIN_CONTAINED_SHINGLES`] shingles.
pub const CONTAINMENT_THRESHOLD: f64 = 0.8;
/// Smallest text that may match by containment alone.
pub const MIN_CONTAINED_SHINGLES: usize = 25;

/// Sorted, deduplicated shingle hashes of a token sequence: xxh3 of each run of
/// [`SHINGLE_WORDS`] tokens, each followed by a space.
pub fn shingles<S: AsRef<str>>(tokens: &[S]) -> Vec<u64> {
    if tokens.len() < SHINGLE_WORDS {
        return Vec::new();
    }
    // Every token once, each followed by a space, in one buffer: a shingle is then
    // the bytes from its first token's start to the start of the token after its
    // last, the same bytes as its tokens joined with a space after each.
    let mut joined: Vec<u8> = Vec::with_capacity(tokens.iter().map(|t| t.as_ref().len() + 1).sum());
    let mut starts = Vec::with_capacity(tokens.len() + 1);
    for t in tokens {
        starts.push(joined.len());
        joined.extend_from_slice(t.as_ref().as_bytes());
        joined.push(b' ');
    }
    starts.push(joined.len());
    into_set(shingle_hashes_at(&joined, &starts))
}

/// The shingle hashes of `joined` tokens starting at `starts`, in text order, repeats
/// kept ([`into_set`] makes them the shingle set).
fn shingle_hashes_at(joined: &[u8], starts: &[usize]) -> Vec<u64> {
    starts
        .windows(SHINGLE_WORDS + 1)
        .map(|w| xxh3_64(joined.get(w[0]..w[SHINGLE_WORDS]).unwrap_or_default()))
        .collect()
}

/// The shingle hashes of tokens of these byte lengths, given as they are joined there
/// (each followed by one space), in text order, repeats kept: the hashes that
/// [`shingles`] makes a set of. That is what [`signature`] needs, which is the same for
/// a set and any sequence of its members. Sorting a text's shingles costs more than hashing
/// them, and only an entry that has candidates is compared with [`similarity`], which
/// needs the set ([`into_set`]).
pub fn shingle_hashes_of_joined(
    joined: &[u8],
    lengths: impl ExactSizeIterator<Item = usize>,
) -> Vec<u64> {
    if lengths.len() < SHINGLE_WORDS {
        return Vec::new();
    }
    let mut starts = Vec::with_capacity(lengths.len() + 1);
    let mut at = 0;
    starts.push(at);
    for len in lengths {
        at += len + 1;
        starts.push(at);
    }
    shingle_hashes_at(joined, &starts)
}

/// Shingle hashes as a set: sorted, each once.
pub fn into_set(mut hashes: Vec<u64>) -> Vec<u64> {
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// Whether `hashes` hold at least [`MIN_SHINGLES`] distinct values (reads only as far
/// as it takes: in most texts, the first few).
fn enough_shingles(hashes: &[u64]) -> bool {
    let mut seen = [0u64; MIN_SHINGLES];
    let mut n = 0;
    for &h in hashes {
        if !seen[..n].contains(&h) {
            seen[n] = h;
            n += 1;
            if n == MIN_SHINGLES {
                return true;
            }
        }
    }
    false
}

/// The MinHash signature of a shingle set, or `None` when it is too small (fewer than
/// [`MIN_SHINGLES`] distinct shingles). The shingles may come in any order and repeat
/// ([`shingle_hashes_of_joined`]): a minimum is the same over a set and over any
/// sequence of its members.
///
/// One-permutation MinHash with optimal densification (Shrivastava, ICML 2017): the
/// top 32 bits of a shingle's hash pick one of [`HASHES`] bins, and each bin keeps the
/// smallest of its shingles' hashes, ordered by their low 32 bits first. A bin no
/// shingle fell in takes the value of the first filled bin in a probe sequence that
/// depends on the bin alone ([`PROBES`]), the same for every text. Two texts then
/// agree in each position with probability equal to their shingles' Jaccard similarity,
/// as with one permutation per position (what this replaced in migration 0018), at one
/// multiply per shingle instead of [`HASHES`]: 0.9 µs a signature of the pipeline
/// bench's items against 3.5–4.7 µs with AVX-512 (BENCHMARKS.md).
pub fn signature(shingles: &[u64]) -> Option<[u64; HASHES]> {
    if !enough_shingles(shingles) {
        return None;
    }
    let mut sig = [u64::MAX; HASHES];
    let mut filled = 0u128;
    for &hash in shingles {
        let bin = bin_of(hash);
        filled |= 1 << bin;
        if let Some(slot) = sig.get_mut(bin) {
            *slot = (*slot).min(hash.rotate_left(32));
        }
    }
    if filled.count_ones() as usize == HASHES {
        return Some(sig);
    }
    let is_filled = |bin: usize| filled & (1 << bin) != 0;
    let original = sig;
    for (bin, slot) in sig.iter_mut().enumerate() {
        if is_filled(bin) {
            continue;
        }
        // At least one bin is filled (a signature has MIN_SHINGLES shingles), so the
        // sequence finds one; past the table it goes on computed.
        let from = PROBES[bin]
            .iter()
            .map(|&b| usize::from(b))
            .chain((PROBE_TABLE as u64..).map(|attempt| probe(bin, attempt)))
            .find(|&b| is_filled(b))
            .unwrap_or(bin);
        *slot = original[from];
    }
    Some(sig)
}

/// The bin of a shingle hash: its top 32 bits scaled onto `0..HASHES`.
fn bin_of(hash: u64) -> usize {
    (((hash >> 32) * HASHES as u64) >> 32) as usize
}

/// Probes of a bin's sequence kept in [`PROBES`]: a text with at least [`MIN_SHINGLES`]
/// distinct shingles nearly always has a filled bin among them.
const PROBE_TABLE: usize = 64;

/// The first [`PROBE_TABLE`] probes of each bin's sequence, computed once. Fixed
/// forever: stored band keys depend on them.
static PROBES: std::sync::LazyLock<[[u8; PROBE_TABLE]; HASHES]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|bin| {
        std::array::from_fn(|attempt| u8::try_from(probe(bin, attempt as u64)).unwrap_or(0))
    })
});

/// Probe `attempt` of empty bin `bin`'s sequence: a bin whose value it may take.
fn probe(bin: usize, attempt: u64) -> usize {
    bin_of(xxh3_64_with_seed(&attempt.to_le_bytes(), bin as u64))
}

/// Bits of a candidate key ([`candidate_key`]).
pub const KEY_BITS: u32 = 47;

/// The candidate key (LSH band, lead or headline key) of a 64-bit hash: its top
/// [`KEY_BITS`] bits, with the lowest 16 of them never all zero.
///
/// Keys were 31 bits (the hash's top 31) from migration 0008 until 0016, and keys stored
/// then are still in the index: a 31-bit key is the top 31 bits of its 47-bit key, and
/// the store keeps it with 16 zero bits below, which match any (see
/// `store::bands`). At 31 bits, a window of ten million stored keys (the 10 000-feed
/// cycle) made about one lookup key in 200 hit a key of an unrelated story, and each
/// such candidate cost reading and normalising that story's text; at 47 bits it is
/// about one in 14 million.
pub fn candidate_key(hash: u64) -> i64 {
    let key = (hash >> (64 - KEY_BITS)) as i64;
    if key & 0xffff == 0 { key | 1 } else { key }
}

/// LSH band keys of a signature ([`candidate_key`]s). A collision only adds a
/// candidate, which is verified exactly.
pub fn band_keys(sig: &[u64; HASHES]) -> Vec<i64> {
    sig.chunks(ROWS)
        .enumerate()
        .map(|(band, rows)| {
            // The band number, then its rows, each as 8 little-endian bytes (on the
            // stack: a heap buffer per band was 24 allocations per entry).
            let mut bytes = [0u8; 8 * (ROWS + 1)];
            for (chunk, value) in bytes
                .chunks_exact_mut(8)
                .zip(std::iter::once(band as u64).chain(rows.iter().copied()))
            {
                chunk.copy_from_slice(&value.to_le_bytes());
            }
            candidate_key(xxh3_64(&bytes))
        })
        .collect()
}

/// Band keys for a token sequence (empty when the text is too short).
pub fn bands_for(tokens: &[String]) -> Vec<i64> {
    signature(&shingles(tokens))
        .map(|s| band_keys(&s))
        .unwrap_or_default()
}

/// Size of the intersection of two sorted sets.
fn intersection(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Exact similarity of two sorted shingle sets: (Jaccard, containment of the smaller).
pub fn similarity(a: &[u64], b: &[u64]) -> (f64, f64) {
    if a.is_empty() || b.is_empty() {
        return (0.0, 0.0);
    }
    let common = intersection(a, b) as f64;
    let union = (a.len() + b.len()) as f64 - common;
    (common / union, common / a.len().min(b.len()) as f64)
}

/// The verification step: are these two texts copies of one story? When they are, the
/// score (the larger of Jaccard and containment) and the Jaccard similarity.
pub fn similar(a: &[u64], b: &[u64]) -> Option<(f64, f64)> {
    let (jaccard, containment) = similarity(a, b);
    let contained =
        a.len().min(b.len()) >= MIN_CONTAINED_SHINGLES && containment >= CONTAINMENT_THRESHOLD;
    (jaccard >= JACCARD_THRESHOLD || contained).then_some((jaccard.max(containment), jaccard))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::text::tokens;

    const TEXT: &str = "The Taliban on Monday claimed that Sergei Shoigu, secretary of the Russian \
        Security Council, wants Afghanistan to return as an observer member of the Shanghai \
        Cooperation Organisation. The group's deputy prime minister called for a meaningful presence \
        in regional meetings. Russia is concerned about the threat posed by terrorist groups.";

    #[test]
    fn a_trimmed_copy_shares_bands_and_verifies() {
        let a = shingles(&tokens(TEXT));
        let trimmed = TEXT
            .rsplit_once(" Russia is")
            .unwrap()
            .0
            .replace("on Monday", "on Monday,");
        let b = shingles(&tokens(&trimmed));
        let (ka, kb) = (
            band_keys(&signature(&a).unwrap()),
            band_keys(&signature(&b).unwrap()),
        );
        assert!(ka.iter().any(|k| kb.contains(k)));
        assert!(similar(&a, &b).is_some());
    }

    #[test]
    fn unrelated_texts_do_not_verify() {
        let a = shingles(&tokens(TEXT));
        let b = shingles(&tokens(
            "Iran said the Taliban foreign minister was not invited to the Economic Cooperation \
             Organisation meeting in Mashhad, where ministers will discuss transit corridors and energy.",
        ));
        assert_eq!(similar(&a, &b), None);
        assert_eq!(bands_for(&tokens("too short")), Vec::<i64>::new());
    }

    #[test]
    fn a_signature_of_hashes_in_text_order_is_that_of_their_set() {
        // The hashes as an entry keeps them (text order, repeats kept) give the band
        // keys of the set: the same stored keys as before entries stopped sorting them.
        let words = tokens(TEXT);
        let lengths = || words.iter().map(String::len);
        let joined: Vec<u8> = words.iter().flat_map(|w| w.bytes().chain([b' '])).collect();
        let hashes = shingle_hashes_of_joined(&joined, lengths());
        let set = shingles(&words);
        assert_eq!(into_set(hashes.clone()), set);
        assert_eq!(signature(&hashes), signature(&set));
        let mut repeated = hashes.clone();
        repeated.extend_from_slice(&hashes);
        repeated.reverse();
        assert_eq!(signature(&repeated), signature(&set));
        // "Too small" counts distinct shingles: seven, however often repeated, get no
        // signature; an eighth gets one.
        let seven: Vec<u64> = (1..=7).cycle().take(70).collect();
        assert_eq!(signature(&seven), None);
        let eight: Vec<u64> = seven.iter().copied().chain([8]).collect();
        assert_eq!(signature(&eight), signature(&into_set(eight.clone())));
        assert!(signature(&eight).is_some());
    }

    /// `n` pseudo-random shingle hashes (a fixed sequence).
    fn random_set(state: &mut u64, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| {
                *state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                xxh3_64(&state.to_le_bytes())
            })
            .collect()
    }

    #[test]
    fn signatures_agree_in_as_many_positions_as_their_sets_share_shingles() {
        // Two sets of n shingles sharing c: Jaccard c / (2n − c). Each position of the
        // signatures is equal with that probability, small sets (mostly densified bins)
        // as large ones; summed over 400 pairs, within 0.02 of it.
        let mut state = 7;
        for (n, c) in [
            (12, 8),
            (30, 10),
            (30, 20),
            (100, 50),
            (400, 100),
            (400, 300),
        ] {
            let jaccard = c as f64 / (2 * n - c) as f64;
            let (mut equal, mut positions) = (0usize, 0usize);
            for _ in 0..400 {
                let common = random_set(&mut state, c);
                let a: Vec<u64> = common
                    .iter()
                    .copied()
                    .chain(random_set(&mut state, n - c))
                    .collect();
                let b: Vec<u64> = common
                    .iter()
                    .copied()
                    .chain(random_set(&mut state, n - c))
                    .collect();
                let (sa, sb) = (signature(&a).unwrap(), signature(&b).unwrap());
                equal += sa.iter().zip(&sb).filter(|(x, y)| x == y).count();
                positions += HASHES;
            }
            let agree = equal as f64 / positions as f64;
            assert!(
                (agree - jaccard).abs() < 0.02,
                "{n} shingles, {c} shared: {agree:.3} of positions agree, Jaccard {jaccard:.3}"
            );
        }
    }

    #[test]
    fn every_position_of_a_small_set_s_signature_is_one_of_its_shingles() {
        // Nine shingles fill at most nine of the 72 bins: every other position takes a
        // filled bin's value (densification), never the empty marker.
        let mut state = 11;
        for _ in 0..200 {
            let set = random_set(&mut state, MIN_SHINGLES + 1);
            let values: Vec<u64> = set.iter().map(|h| h.rotate_left(32)).collect();
            let sig = signature(&set).unwrap();
            assert!(sig.iter().all(|v| values.contains(v)), "{sig:?}");
        }
    }

    #[test]
    fn band_keys_are_stable() {
        // Stored keys must not change between releases (a change orphans every key in the
        // index, unless a migration recomputes them, as 0018 did for these): the keys
        // stored for this text since one-permutation signatures.
        let keys = bands_for(&tokens(TEXT));
        assert_eq!(
            keys,
            [
                126056132173738,
                30882590534213,
                115743032124157,
                84287468461240,
                73641544532931,
                11705137388843,
                14766405308148,
                6032134140059,
                98246604364765,
                58375748733890,
                2621171167012,
                51037820967188,
                13002232452494,
                82624316921861,
                83068978304456,
                135720813248701,
                33622227644202,
                56786292546543,
                109909157150230,
                118811358903143,
                3137951037440,
                112267538086250,
                66871087142626,
                61535649317307
            ]
        );
        assert!(
            keys.iter()
                .all(|k| (0..1 << KEY_BITS).contains(k) && k & 0xffff != 0)
        );
    }
}
