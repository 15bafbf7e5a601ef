//! What every end-to-end test of the binary needs.
#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `mixdown` binary with `args`.
pub fn mixdown(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mixdown"))
        .args(args)
        .output()
        .expect("the mixdown binary runs")
}

/// A file of the project's own test fixtures.
pub fn fixture(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(relative)
        .to_string_lossy()
        .into_owned()
}

/// The shared test corpus beside the project checkout.
pub fn corpus_root() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(
        path.join("measurements.json").exists(),
        "the test corpus is expected at {}",
        path.display()
    );
    path
}

/// A file of the shared test corpus.
pub fn corpus(relative: &str) -> String {
    corpus_root().join(relative).to_string_lossy().into_owned()
}
