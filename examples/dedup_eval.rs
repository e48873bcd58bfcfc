//! Prints dedup precision and recall on the labelled development set, against the
//! title-trigram baseline. `cargo run --release --example dedup_eval`

#[path = "../tests/support/dedup_eval.rs"]
mod eval;

fn main() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dedup/set.json");
    let docs = eval::load(&path);
    let clusters: std::collections::HashSet<usize> = docs.iter().map(|d| d.cluster).collect();
    println!(
        "{} documents in {} labelled clusters",
        docs.len(),
        clusters.len()
    );
    let (ours, baseline, wrong) = eval::evaluate(&docs);
    println!(
        "{:<6} {:>28} {:>28}",
        "", "roundup (P / R / F1)", "title trigram >= 0.75"
    );
    for (lang, s) in &ours {
        let b = baseline[lang];
        println!(
            "{lang:<6} {:>8.3} {:>8.3} {:>8.3}   {:>8.3} {:>8.3} {:>8.3}   pairs: {} true",
            s.precision(),
            s.recall(),
            s.f1(),
            b.precision(),
            b.recall(),
            b.f1(),
            s.tp + s.fn_
        );
    }
    for w in &wrong {
        println!("{w}");
    }
    // Where the verification thresholds sit: exact similarity of every pair.
    let shingles: Vec<Vec<u64>> = docs
        .iter()
        .map(|d| roundup::dedup::entry_shingles(&d.title, &d.text))
        .collect();
    let (mut same, mut different) = (Vec::new(), Vec::new());
    for i in 0..docs.len() {
        for j in i + 1..docs.len() {
            let sim = roundup::dedup::minhash::similarity(&shingles[i], &shingles[j]);
            if docs[i].cluster == docs[j].cluster {
                same.push(sim)
            } else {
                different.push(sim)
            }
        }
    }
    let lowest = same.iter().map(|s| s.0).fold(f64::MAX, f64::min);
    let highest = different.iter().map(|s| s.0).fold(0.0, f64::max);
    let highest_c = different.iter().map(|s| s.1).fold(0.0, f64::max);
    println!(
        "shingle Jaccard: same-story pairs from {lowest:.3}; different-story pairs up to {highest:.3} (containment up to {highest_c:.3})"
    );
    let mut js: Vec<f64> = same.iter().map(|s| s.0).collect();
    js.sort_by(f64::total_cmp);
    println!(
        "same-story Jaccard, lowest five: {:?}",
        &js[..5.min(js.len())]
            .iter()
            .map(|j| format!("{j:.2}"))
            .collect::<Vec<_>>()
    );
}
