//! Serializable reports: the `analyze` record (the CLI contract's keys) and the
//! mastering report built from it.

use mixdown_analysis::Metrics;
use serde::Serialize;
use std::path::Path;

/// The analysis of one file: exactly the keys of `mixdown analyze --json`, `null`
/// where a quantity is undefined.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisRecord {
    /// File as given.
    pub file: String,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: usize,
    /// Duration, s.
    pub duration_s: f64,
    /// Integrated loudness, LUFS.
    pub integrated_lufs: Option<f64>,
    /// Loudness range, LU.
    pub loudness_range_lu: Option<f64>,
    /// True peak, dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Sample peak, dBFS.
    pub sample_peak_dbfs: Option<f64>,
    /// Maximum momentary loudness, LUFS.
    pub max_momentary_lufs: Option<f64>,
    /// Maximum short-term loudness, LUFS.
    pub max_short_term_lufs: Option<f64>,
    /// Peak-to-loudness ratio, dB.
    pub plr_db: Option<f64>,
    /// Crest factor, dB.
    pub crest_db: Option<f64>,
    /// Stereo correlation.
    pub stereo_correlation: Option<f64>,
    /// DC offset, dBFS.
    pub dc_offset_dbfs: Option<f64>,
    /// Clipped samples.
    pub clipped_samples: u64,
}

/// Rounds to 1/10000 of a unit: finer than any meter's accuracy, and keeps float
/// noise out of the JSON.
pub fn rounded(value: Option<f64>) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_none_and_four_decimals() {
        assert_eq!(rounded(None), None);
        assert_eq!(rounded(Some(-14.123_456)), Some(-14.1235));
    }
}
