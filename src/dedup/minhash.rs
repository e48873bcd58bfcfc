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

/// Odd multipliers and offsets for the [`HASHES`] permutations, fixed forever: stored
/// band keys depend on them.
fn permutation(i: usize) -> (u64, u64) {
    let a = xxh3_64_with_seed(b"roundup-minhash-a", i as u64) | 1;
    let b = xxh3_64_with_seed(b"roundup-minhash-b", i as u64);
    (a, b)
}

/// The permutations, computed once.
static PERMUTATIONS: std::sync::LazyLock<[(u64, u64); HASHES]> =
    std::sync::LazyLock::new(|| std::array::from_fn(permutation));

/// The MinHash signature of a shingle set, or `None` when it is too small (fewer than
/// [`MIN_SHINGLES`] distinct shingles). The shingles may come in any order and repeat
/// ([`shingle_hashes_of_joined`]): a minimum is the same over a set and over any
/// sequence of its members.
///
/// On x86-64 processors with AVX-512 (F and DQ), eight permutations at a time
/// ([`wide`]); elsewhere one at a time ([`scalar_signature`]). Both give the same values:
/// a unit test holds them equal.
pub fn signature(shingles: &[u64]) -> Option<[u64; HASHES]> {
    if !enough_shingles(shingles) {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V4::try_new() {
        return Some(wide::signature(simd, shingles));
    }
    Some(scalar_signature(shingles))
}

/// [`signature`] one permutation at a time, on any processor (what [`signature`] does
/// without AVX-512; public for the `minhash_signature` bench). Takes any set, however
/// small.
pub fn scalar_signature(shingles: &[u64]) -> [u64; HASHES] {
    // One permutation at a time over every shingle: the minimum stays in a register
    // (two, for independent compare chains) instead of a load and store per shingle and
    // permutation. The values are the same as shingle-by-shingle.
    let mut sig = [u64::MAX; HASHES];
    for (slot, &(a, b)) in sig.iter_mut().zip(PERMUTATIONS.iter()) {
        let (mut even, mut odd) = (u64::MAX, u64::MAX);
        let mut pairs = shingles.chunks_exact(2);
        for pair in &mut pairs {
            even = even.min(pair[0].wrapping_mul(a).wrapping_add(b));
            odd = odd.min(pair[1].wrapping_mul(a).wrapping_add(b));
        }
        for &s in pairs.remainder() {
            even = even.min(s.wrapping_mul(a).wrapping_add(b));
        }
        *slot = even.min(odd);
    }
    sig
}

/// [`signature`] with AVX-512: each shingle against eight permutations per instruction
/// (`vpmullq`, `vpaddq`, `vpminuq`), nine groups for the [`HASHES`] permutations: 3.1×
/// as fast as [`scalar_signature`] in the `minhash_signature` bench (BENCHMARKS.md).
/// `pulp` checks the processor at run time and compiles this with the features enabled,
/// so the crate stays free of `unsafe`.
#[cfg(target_arch = "x86_64")]
mod wide {
    use pulp::u64x8;
    use pulp::x86::V4;

    use super::{HASHES, PERMUTATIONS};

    const LANES: usize = 8;
    const GROUPS: usize = HASHES / LANES;
    const _: () = assert!(GROUPS * LANES == HASHES);

    /// The permutations' multipliers and offsets, eight to a vector.
    struct Groups {
        a: [u64x8; GROUPS],
        b: [u64x8; GROUPS],
    }

    static GROUPED: std::sync::LazyLock<Groups> = std::sync::LazyLock::new(|| {
        let lane = |g: usize, pick: fn(&(u64, u64)) -> u64| -> u64x8 {
            let lanes: [u64; LANES] = std::array::from_fn(|k| pick(&PERMUTATIONS[g * LANES + k]));
            pulp::cast(lanes)
        };
        Groups {
            a: std::array::from_fn(|g| lane(g, |p| p.0)),
            b: std::array::from_fn(|g| lane(g, |p| p.1)),
        }
    });

    struct Minima<'a> {
        simd: V4,
        shingles: &'a [u64],
        groups: &'a Groups,
    }

    impl pulp::NullaryFnOnce for Minima<'_> {
        type Output = [u64x8; GROUPS];

        #[inline(always)]
        fn call(self) -> Self::Output {
            let Minima {
                simd,
                shingles,
                groups,
            } = self;
            let mut minima = [simd.splat_u64x8(u64::MAX); GROUPS];
            for &shingle in shingles {
                let s = simd.splat_u64x8(shingle);
                for ((min, &a), &b) in minima.iter_mut().zip(&groups.a).zip(&groups.b) {
                    let permuted = simd.wrapping_add_u64x8(simd.wrapping_mul_u64x8(s, a), b);
                    *min = simd.min_u64x8(*min, permuted);
                }
            }
            minima
        }
    }

    pub(super) fn signature(simd: V4, shingles: &[u64]) -> [u64; HASHES] {
        let minima = simd.vectorize(Minima {
            simd,
            shingles,
            groups: &GROUPED,
        });
        let mut sig = [0; HASHES];
        for (out, group) in sig.chunks_exact_mut(LANES).zip(minima) {
            let lanes: [u64; LANES] = pulp::cast(group);
            out.copy_from_slice(&lanes);
        }
        sig
    }
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

    #[test]
    fn both_signatures_agree() {
        // The AVX-512 path (where this processor has it; elsewhere both calls take the
        // portable path) against the one-permutation-at-a-time path, on random shingle
        // sets of many sizes and on a real text's.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for len in (MIN_SHINGLES..40).chain([63, 64, 65, 257, 1000]) {
            let mut set: Vec<u64> = (0..len)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    state ^ (state >> 29)
                })
                .collect();
            set.sort_unstable();
            set.dedup();
            assert_eq!(
                signature(&set),
                Some(scalar_signature(&set)),
                "{len} shingles"
            );
        }
        let text = shingles(&tokens(TEXT));
        assert_eq!(signature(&text), Some(scalar_signature(&text)));
    }

    #[test]
    fn band_keys_are_stable() {
        // Stored keys must not change between releases (a change orphans every key in the
        // index): these are the keys stored for this text since the 47-bit format, and
        // their top 31 bits the keys stored before it, which they must still match.
        let keys = bands_for(&tokens(TEXT));
        assert_eq!(
            keys,
            [
                96551325113284,
                98290579558453,
                70665940711364,
                89516839742831,
                26603118467275,
                110946754818450,
                51531273297726,
                48275483086882,
                47500342457594,
                45786829213069,
                5284709744354,
                38132266282497,
                99859959328568,
                54558627127454,
                137920368721989,
                67366815063989,
                12959477701844,
                86254037159673,
                105356337892048,
                131585857844465,
                110666354083616,
                136565272753706,
                13829707754447,
                41195526541245
            ]
        );
        assert_eq!(
            keys.iter().map(|k| k >> 16).collect::<Vec<_>>(),
            [
                1473256303, 1499795220, 1078276683, 1365918575, 405931373, 1692913128, 786304829,
                736625413, 724797705, 698651568, 80638271, 581852207, 1523742055, 832498582,
                2104497813, 1027936020, 197745936, 1316132158, 1607610136, 2007840848, 1688634553,
                2083820690, 211024593, 628593849
            ]
        );
        assert!(
            keys.iter()
                .all(|k| (0..1 << KEY_BITS).contains(k) && k & 0xffff != 0)
        );
    }
}
