//! The full set of figures `mixdown analyze` reports for one programme.

use crate::levels::LevelStats;
use crate::loudness::LoudnessMeter;
use crate::spectrum::{SpectrumAnalyzer, ThirdOctaveSpectrum};
use crate::AnalysisError;
use mixdown_dsp::AudioBuffer;

/// Everything measured on one programme. `None` marks a quantity that is undefined
/// for this signal (loudness of digital silence, correlation of mono).
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Sample rate, Hz.
    pub sample_rate_hz: u32,
    /// Channel count.
    pub channels: usize,
    /// Duration, seconds.
    pub duration_s: f64,
    /// Integrated loudness (BS.1770-4), LUFS.
    pub integrated_lufs: Option<f64>,
    /// Loudness range (EBU Tech 3342), LU.
    pub loudness_range_lu: Option<f64>,
    /// Maximum true peak, dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Maximum sample peak, dBFS.
    pub sample_peak_dbfs: Option<f64>,
    /// Maximum momentary loudness, LUFS.
    pub max_momentary_lufs: Option<f64>,
    /// Maximum short-term loudness, LUFS.
    pub max_short_term_lufs: Option<f64>,
    /// Peak-to-loudness ratio (true peak − integrated loudness, EBU R128 s1), dB.
    pub plr_db: Option<f64>,
    /// Crest factor (sample peak − RMS), dB.
    pub crest_db: Option<f64>,
    /// Correlation of the first two channels, −1..1.
    pub stereo_correlation: Option<f64>,
    /// Largest per-channel DC offset, dBFS.
    pub dc_offset_dbfs: Option<f64>,
    /// Samples at full scale (see [`crate::levels::CLIP_THRESHOLD`]).
    pub clipped_samples: u64,
    /// Long-term 1/3-octave spectrum of the channel average (the mid signal for stereo).
    pub spectrum: ThirdOctaveSpectrum,
}

/// Analyzes a programme held in memory.
pub fn analyze(audio: &AudioBuffer) -> Result<Metrics, AnalysisError> {
    let mut analyzer = Analyzer::new(audio.channel_count(), audio.sample_rate_hz)?;
    analyzer.add(&audio.channel_slices())?;
    Ok(analyzer.finish())
}

/// Streaming analysis: feed planar blocks of any size, then [`finish`](Self::finish).
pub struct Analyzer {
    sample_rate_hz: u32,
    frames: u64,
    loudness: LoudnessMeter,
    levels: LevelStats,
    /// `None` when the spectrum is not wanted (see [`Analyzer::without_spectrum`]).
    spectrum: Option<SpectrumAnalyzer>,
    average: Vec<f32>,
}

impl Analyzer {
    /// An analyzer for `channel_count` channels at `sample_rate_hz`.
    pub fn new(channel_count: usize, sample_rate_hz: u32) -> Result<Self, AnalysisError> {
        Ok(Self {
            sample_rate_hz,
            frames: 0,
            loudness: LoudnessMeter::new(channel_count, sample_rate_hz)?,
            levels: LevelStats::new(channel_count),
            spectrum: Some(SpectrumAnalyzer::new(sample_rate_hz)),
            average: Vec::new(),
        })
    }

    /// An analyzer of everything but the spectrum (whose field in [`Metrics`] is then
    /// empty): for checks of a written file that need its loudness and levels only.
    pub fn without_spectrum(
        channel_count: usize,
        sample_rate_hz: u32,
    ) -> Result<Self, AnalysisError> {
        let mut analyzer = Self::new(channel_count, sample_rate_hz)?;
        analyzer.spectrum = None;
        Ok(analyzer)
    }

    /// Also keeps the per-frame levels of the mid signal in the bands between
    /// `edges_hz` (see [`SpectrumAnalyzer::track_bands`]).
    pub fn track_bands(&mut self, edges_hz: &[f64]) {
        if let Some(spectrum) = self.spectrum.as_mut() {
            spectrum.track_bands(edges_hz);
        }
    }

    /// Adds one planar block (`block[channel][frame]`). The loudness meter and the
    /// other measurements run side by side when a second core is free.
    pub fn add(&mut self, block: &[&[f32]]) -> Result<(), AnalysisError> {
        let (loudness, levels, spectrum, average) = (
            &mut self.loudness,
            &mut self.levels,
            &mut self.spectrum,
            &mut self.average,
        );
        let (measured, ()) = rayon::join(
            || loudness.add(block),
            || {
                levels.add(block);
                if let Some(spectrum) = spectrum.as_mut() {
                    channel_average(block, average);
                    spectrum.push(average);
                }
            },
        );
        measured?;
        self.frames += block.first().map_or(0, |c| c.len() as u64);
        Ok(())
    }

    /// The metrics of everything added.
    pub fn finish(self) -> Metrics {
        self.finish_with_band_levels().0
    }

    /// The metrics and the tracked band levels (see [`Self::track_bands`]).
    pub fn finish_with_band_levels(self) -> (Metrics, Vec<Vec<f64>>) {
        let loudness = self.loudness.finish();
        let levels = self.levels;
        let plr_db = loudness
            .true_peak_dbtp
            .zip(loudness.integrated_lufs)
            .map(|(peak, lufs)| peak - lufs);
        let (spectrum, band_levels_db) = self
            .spectrum
            .map(SpectrumAnalyzer::finish_with_band_levels)
            .unwrap_or_default();
        let metrics = Metrics {
            sample_rate_hz: self.sample_rate_hz,
            channels: levels.channel_count(),
            duration_s: self.frames as f64 / f64::from(self.sample_rate_hz),
            integrated_lufs: loudness.integrated_lufs,
            loudness_range_lu: loudness.loudness_range_lu,
            true_peak_dbtp: loudness.true_peak_dbtp,
            sample_peak_dbfs: levels.sample_peak_dbfs(),
            max_momentary_lufs: loudness.max_momentary_lufs,
            max_short_term_lufs: loudness.max_short_term_lufs,
            plr_db,
            crest_db: levels.crest_db(),
            stereo_correlation: levels.stereo_correlation(),
            dc_offset_dbfs: levels.dc_offset_dbfs(),
            clipped_samples: levels.clipped_samples(),
            spectrum,
        };
        (metrics, band_levels_db)
    }
}

/// The average of all channels into `out`: the mid signal (L+R)/2 of a stereo pair.
fn channel_average(channels: &[&[f32]], out: &mut Vec<f32>) {
    out.clear();
    let Some(first) = channels.first() else {
        return;
    };
    let weight = 1.0 / channels.len() as f32;
    out.extend(first.iter().map(|x| x * weight));
    for channel in &channels[1..] {
        for (a, x) in out.iter_mut().zip(*channel) {
            *a += x * weight;
        }
    }
}
