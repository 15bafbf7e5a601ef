//! `mixdown analyze FILE... [--json]`.

use crate::failure::Failure;
use crate::table;
use mixdown_analysis::{analyze, Metrics};
use rayon::prelude::*;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One line of `analyze --json`: exactly the keys of the CLI contract, `null`
/// where a quantity is undefined.
#[derive(Debug, Serialize)]
pub struct AnalysisRecord {
    file: String,
    sample_rate: u32,
    channels: usize,
    duration_s: f64,
    integrated_lufs: Option<f64>,
    loudness_range_lu: Option<f64>,
    true_peak_dbtp: Option<f64>,
    sample_peak_dbfs: Option<f64>,
    max_momentary_lufs: Option<f64>,
    max_short_term_lufs: Option<f64>,
    plr_db: Option<f64>,
    crest_db: Option<f64>,
    stereo_correlation: Option<f64>,
    dc_offset_dbfs: Option<f64>,
    clipped_samples: u64,
}

/// Rounds to 1/10000 of a unit: finer than any meter's accuracy, and keeps
/// float noise out of the JSON.
fn rounded(value: Option<f64>) -> Option<f64> {
    value.map(|v| (v * 10_000.0).round() / 10_000.0)
}

impl AnalysisRecord {
    /// The record of `metrics` measured on `file`.
    pub fn new(file: &Path, metrics: &Metrics) -> Self {
        Self {
            file: file.display().to_string(),
            sample_rate: metrics.sample_rate_hz,
            channels: metrics.channels,
            duration_s: rounded(Some(metrics.duration_s)).unwrap_or_default(),
            integrated_lufs: rounded(metrics.integrated_lufs),
            loudness_range_lu: rounded(metrics.loudness_range_lu),
            true_peak_dbtp: rounded(metrics.true_peak_dbtp),
            sample_peak_dbfs: rounded(metrics.sample_peak_dbfs),
            max_momentary_lufs: rounded(metrics.max_momentary_lufs),
            max_short_term_lufs: rounded(metrics.max_short_term_lufs),
            plr_db: rounded(metrics.plr_db),
            crest_db: rounded(metrics.crest_db),
            stereo_correlation: rounded(metrics.stereo_correlation),
            dc_offset_dbfs: rounded(metrics.dc_offset_dbfs),
            clipped_samples: metrics.clipped_samples,
        }
    }

    /// The record as one line of JSON.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a struct of numbers and a string always serializes")
    }
}

fn decode_and_analyze(path: &Path) -> Result<Metrics, Failure> {
    let decoded = mixdown_io::decode_file(path)?;
    Ok(analyze(&decoded.audio)?)
}

/// Analyzes every file (in parallel, reported in the order given); a file that
/// fails is reported on its own stderr line and the others still go through.
pub fn run(files: &[PathBuf], json: bool) -> Result<(), Failure> {
    let results: Vec<Result<Metrics, Failure>> =
        files.par_iter().map(|f| decode_and_analyze(f)).collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failures = 0;
    for (file, result) in files.iter().zip(results) {
        match result {
            Ok(metrics) => {
                let text = if json {
                    AnalysisRecord::new(file, &metrics).to_json_line() + "\n"
                } else {
                    table::metrics_table(&file.display().to_string(), &metrics)
                };
                if out.write_all(text.as_bytes()).is_err() {
                    // stdout closed (e.g. piped into `head`): nothing left to tell.
                    return Ok(());
                }
            }
            Err(failure) => {
                failures += 1;
                // Flush what came before so stdout and stderr stay in file order.
                let _ = out.flush();
                failure.report();
            }
        }
    }
    let _ = out.flush();
    if failures > 0 {
        Err(Failure::already_reported())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_none_and_four_decimals() {
        assert_eq!(rounded(None), None);
        assert_eq!(rounded(Some(-14.123_456)), Some(-14.1235));
        assert_eq!(crate::failure::one_line("a\n b"), "a b");
    }
}
