//! The default tonal target is derived from the corpus references; this re-derives it.

use mixdown_analysis::analyze;
use mixdown_analysis::spectrum::third_octave_centers_hz;
use mixdown_engine::mastering::tonal::{
    fit_tilt, relative_levels_db, DEFAULT_LEVEL_AT_1K_DB, DEFAULT_TARGET_SPAN_HZ,
    DEFAULT_TILT_DB_PER_OCT,
};
use std::path::PathBuf;

fn corpus_refs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/refs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("the test corpus is expected at {}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "flac"))
        .collect();
    files.sort();
    files
}

#[test]
fn default_target_matches_the_corpus_references() {
    // Mid spectrum minus integrated loudness, averaged over the references.
    let curves: Vec<Vec<Option<f64>>> = corpus_refs()
        .iter()
        .map(|path| {
            let audio = mixdown_io::decode_file(path).unwrap().audio;
            let metrics = analyze(&audio).unwrap();
            relative_levels_db(&metrics.spectrum, metrics.integrated_lufs.unwrap())
        })
        .collect();
    assert_eq!(curves.len(), 2, "the corpus has two references");
    let mean: Vec<Option<f64>> = (0..31)
        .map(|i| {
            let values: Vec<f64> = curves.iter().filter_map(|c| c[i]).collect();
            (values.len() == curves.len()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        })
        .collect();
    let centres: Vec<f64> = third_octave_centers_hz().collect();
    let (slope, level) = fit_tilt(&centres, &mean, DEFAULT_TARGET_SPAN_HZ).unwrap();
    assert!(
        (slope - DEFAULT_TILT_DB_PER_OCT).abs() < 0.01,
        "slope {slope}, level {level}"
    );
    assert!(
        (level - DEFAULT_LEVEL_AT_1K_DB).abs() < 0.01,
        "level {level}"
    );
}
