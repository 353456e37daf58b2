//! Helpers for the unit tests of AgentPool crates: property runs with a printed seed, and the
//! word wrapping a terminal applies to long lines.

use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, RngSeed, TestCaseError, TestRunner};

/// Runs a property over 10,000 cases with a seed it prints on failure; no regression files.
pub fn check_property<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut config = ProptestConfig::with_cases(10_000);
    config.failure_persistence = None;
    // XorShift: generating the cases with ChaCha took most of the time in debug builds.
    config.rng_algorithm = RngAlgorithm::XorShift;
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => getrandom::u64().unwrap_or(0x5eed),
    };
    config.rng_seed = RngSeed::Fixed(seed);
    if let Err(e) = TestRunner::new(config).run(&strategy, test) {
        panic!("{e}\nreplay with PROPTEST_RNG_SEED={seed}");
    }
}

/// `line` word-wrapped at `width` characters, as a terminal UI shows it; a word longer than the
/// line is cut.
pub fn word_wrap(line: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
        // A word longer than the line is cut, as TUIs do.
        while current.chars().count() > width {
            let head: String = current.chars().take(width).collect();
            current = current.chars().skip(width).collect();
            out.push(head);
        }
    }
    out.push(current);
    out
}
