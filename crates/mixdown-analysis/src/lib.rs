//! # mixdown-analysis
//!
//! Measurement of audio already in memory: ITU-R BS.1770-4 / EBU R128 loudness
//! (integrated, momentary, short-term, loudness range) and true peak, computed as
//! libebur128 computes them (and tested against its port, the `ebur128` crate),
//! plus sample peak, crest factor, PLR, stereo correlation, DC offset,
//! clipped-sample count, a long-term 1/3-octave spectrum, and the per-stem features
//! automix classifies by (spectrum shares, onset rate, and YIN voicing and pitch).
//! It owns the numbers every report and automatic decision is built on. It must not
//! know about files, formats or sessions (it takes planar `f32` slices), and it must
//! not change the audio it measures.

pub mod gated;
pub mod levels;
pub mod loudness;
pub mod metrics;
pub mod pitch;
pub mod spectrum;
pub mod stem;
pub mod true_peak;

pub use gated::{GatedLoudness, IntegratedLoudness};
pub use loudness::{LoudnessMeter, LoudnessReport};
pub use metrics::{analyze, Analyzer, Metrics};
pub use pitch::{PitchSummary, PitchTracker};
pub use spectrum::{third_octave_spectrum, SpectrumAnalyzer, ThirdOctaveBand, ThirdOctaveSpectrum};
pub use stem::{StemAnalyzer, StemFeatures};
pub use true_peak::TruePeakMeter;

/// Why a measurement could not be made.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AnalysisError {
    /// The meter does not support this layout or rate.
    #[error("cannot meter {channels} channel(s) at {sample_rate_hz} Hz (supported: 1-64 channels, 16 Hz-2.8 MHz)")]
    UnsupportedFormat {
        /// Channel count asked for.
        channels: usize,
        /// Sample rate asked for.
        sample_rate_hz: u32,
    },
    /// Planar input whose channel count differs from the meter's.
    #[error("expected {expected} channel(s), got {actual}")]
    ChannelMismatch {
        /// Channels the meter was built for.
        expected: usize,
        /// Channels handed in.
        actual: usize,
    },
}
