//! The full set of figures `mixdown analyze` reports for one programme.

use crate::levels::LevelStats;
use crate::loudness::LoudnessMeter;
use crate::spectrum::{third_octave_spectrum, ThirdOctaveSpectrum};
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
    let channels = audio.channel_slices();
    let mut meter = LoudnessMeter::new(channels.len(), audio.sample_rate_hz)?;
    meter.add(&channels)?;
    let loudness = meter.finish();
    let mut levels = LevelStats::new(channels.len());
    levels.add(&channels);

    let spectrum = third_octave_spectrum(&channel_average(&channels), audio.sample_rate_hz);
    let plr_db = loudness
        .true_peak_dbtp
        .zip(loudness.integrated_lufs)
        .map(|(peak, lufs)| peak - lufs);

    Ok(Metrics {
        sample_rate_hz: audio.sample_rate_hz,
        channels: channels.len(),
        duration_s: audio.duration_s(),
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
    })
}

/// The average of all channels: the mid signal (L+R)/2 of a stereo pair.
fn channel_average(channels: &[&[f32]]) -> Vec<f32> {
    match channels {
        [] => Vec::new(),
        [only] => only.to_vec(),
        [first, rest @ ..] => {
            let weight = 1.0 / channels.len() as f32;
            let mut average: Vec<f32> = first.iter().map(|x| x * weight).collect();
            for channel in rest {
                for (a, x) in average.iter_mut().zip(*channel) {
                    *a += x * weight;
                }
            }
            average
        }
    }
}
