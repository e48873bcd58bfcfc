//! Parse rate on the real-world corpus, feed-rs alone vs roundup's parser.
//! `cargo run --release --example parse_rate`

#[path = "../tests/support/corpus.rs"]
mod corpus;

fn main() {
    let (mut alone, mut ours) = (0, 0);
    for (file, content_type, want) in corpus::READABLE {
        let a = corpus::feed_rs_alone(file, want);
        let r = corpus::roundup(file, content_type, want);
        alone += usize::from(a);
        ours += usize::from(r);
        println!(
            "{file:<26} feed-rs alone: {:<4} roundup: {}",
            if a { "ok" } else { "FAIL" },
            if r { "ok" } else { "FAIL" }
        );
    }
    let n = corpus::READABLE.len();
    println!("parse rate: feed-rs alone {alone}/{n}, roundup {ours}/{n}");
}
