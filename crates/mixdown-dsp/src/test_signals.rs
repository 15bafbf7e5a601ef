//! Test signals and measurements shared by the processors' unit tests.

use crate::units::{db_to_gain, gain_to_db};
use std::f64::consts::TAU;

/// The sample rate the unit tests run at, Hz.
pub(crate) const FS: u32 = 48_000;

/// A sine at `freq_hz` whose peak is `level_db` dBFS, `frames` long, at [`FS`].
pub(crate) fn sine(freq_hz: f64, level_db: f64, frames: usize) -> Vec<f32> {
    let amplitude = db_to_gain(level_db);
    (0..frames)
        .map(|n| (amplitude * (TAU * freq_hz * n as f64 / f64::from(FS)).sin()) as f32)
        .collect()
}

/// Peak level, dB, of the component at `freq_hz` in the second half of `channel`
/// (correlation with a quadrature pair: other tones and settling do not count).
pub(crate) fn tone_level_db(channel: &[f32], freq_hz: f64) -> f64 {
    let range = channel.len() / 2..channel.len();
    let (mut re, mut im) = (0.0, 0.0);
    for n in range.clone() {
        let (s, c) = (TAU * freq_hz * n as f64 / f64::from(FS)).sin_cos();
        re += f64::from(channel[n]) * c;
        im += f64::from(channel[n]) * s;
    }
    gain_to_db(2.0 * re.hypot(im) / range.len() as f64)
}
