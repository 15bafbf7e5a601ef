//! What the mastering planner needs to know about a programme, gathered in one
//! streaming pass: the analyze metrics, mid and side spectra, the level
//! distribution of each multiband band, and the stereo image of the low end.

use mixdown_analysis::{AnalysisError, Analyzer, Metrics, SpectrumAnalyzer, ThirdOctaveSpectrum};
use mixdown_dsp::units::power_to_db;

/// Crossovers of the mastering multiband compressor, Hz: lows, low mids, high
/// mids, highs — the split most mastering multibands default to.
pub const MULTIBAND_CROSSOVERS_HZ: [f64; 3] = [120.0, 1_000.0, 6_000.0];

/// Below this frequency the low end is checked for width and phase (and may be
/// made mono), Hz.
pub const LOW_END_HZ: f64 = 120.0;

/// The measured profile of a programme.
#[derive(Debug, Clone)]
pub struct ProgrammeProfile {
    /// The analyze metrics; `metrics.spectrum` is the mid (channel-average) spectrum.
    pub metrics: Metrics,
    /// Spectrum of the side signal (L−R)/2; `None` unless stereo.
    pub side_spectrum: Option<ThirdOctaveSpectrum>,
    /// For each band of [`MULTIBAND_CROSSOVERS_HZ`]: the mean-square levels (dBFS)
    /// of the mid signal in that band, one per spectrum frame (≈ 0.37 s), sorted
    /// ascending, silent frames left out.
    pub band_levels_db: Vec<Vec<f64>>,
    /// Side-to-mid energy ratio below [`LOW_END_HZ`], dB; `None` unless stereo or when silent.
    pub low_side_to_mid_db: Option<f64>,
    /// Side-to-mid energy ratio over the whole band, dB.
    pub side_to_mid_db: Option<f64>,
}

impl ProgrammeProfile {
    /// The `percentile` (0–100) of band `band`'s block levels, dBFS.
    pub fn band_level_percentile_db(&self, band: usize, percentile: f64) -> Option<f64> {
        let levels = self.band_levels_db.get(band)?;
        if levels.is_empty() {
            return None;
        }
        let index = ((percentile / 100.0) * (levels.len() - 1) as f64).round() as usize;
        levels.get(index).copied()
    }
}

/// Builds a [`ProgrammeProfile`] from planar blocks. Everything comes from
/// measurements the analyzer makes anyway: the band-level distribution from the
/// spectrum's frames, the low-end width from the mid and side spectra.
pub struct ProfileBuilder {
    analyzer: Analyzer,
    side_spectrum: Option<SpectrumAnalyzer>,
    side_scratch: Vec<f32>,
}

impl ProfileBuilder {
    /// A builder for `channel_count` channels at `sample_rate_hz`.
    pub fn new(channel_count: usize, sample_rate_hz: u32) -> Result<Self, AnalysisError> {
        let mut analyzer = Analyzer::new(channel_count, sample_rate_hz)?;
        analyzer.track_bands(&MULTIBAND_CROSSOVERS_HZ);
        Ok(Self {
            analyzer,
            side_spectrum: (channel_count == 2).then(|| SpectrumAnalyzer::new(sample_rate_hz)),
            side_scratch: Vec::new(),
        })
    }

    /// Adds one planar block; the side spectrum runs beside the analyzer when a core
    /// is free.
    pub fn add(&mut self, block: &[&[f32]]) -> Result<(), AnalysisError> {
        let (analyzer, side_spectrum, side_scratch) = (
            &mut self.analyzer,
            &mut self.side_spectrum,
            &mut self.side_scratch,
        );
        let (analysed, ()) = rayon::join(
            || analyzer.add(block),
            || {
                if let (Some(spectrum), [left, right]) = (side_spectrum.as_mut(), block) {
                    side_scratch.clear();
                    side_scratch.extend(left.iter().zip(*right).map(|(l, r)| 0.5 * (l - r)));
                    spectrum.push(side_scratch);
                }
            },
        );
        analysed
    }

    /// The profile of everything added.
    pub fn finish(self) -> ProgrammeProfile {
        let (metrics, mut band_levels_db) = self.analyzer.finish_with_band_levels();
        for levels in &mut band_levels_db {
            // Frames below -90 dBFS are silence, not programme.
            levels.retain(|&l| l > -90.0);
            levels.sort_by(f64::total_cmp);
        }
        let side_spectrum = self.side_spectrum.map(SpectrumAnalyzer::finish);
        let energy_below = |spectrum: &ThirdOctaveSpectrum, limit_hz: f64| -> f64 {
            spectrum
                .bands
                .iter()
                .filter(|b| b.center_hz < limit_hz)
                .filter_map(|b| b.level_db)
                .map(|l| 10f64.powf(l / 10.0))
                .sum()
        };
        let ratio_db = |limit_hz: f64| {
            let side = side_spectrum.as_ref()?;
            let mid = energy_below(&metrics.spectrum, limit_hz);
            (mid > 0.0)
                .then(|| power_to_db(energy_below(side, limit_hz) / mid))
                .filter(|v| v.is_finite())
        };
        ProgrammeProfile {
            low_side_to_mid_db: ratio_db(LOW_END_HZ),
            side_to_mid_db: ratio_db(f64::INFINITY),
            metrics,
            side_spectrum,
            band_levels_db,
        }
    }
}
