//! Stereo image: mid/side width and a mono low end.

use crate::biquad::{Biquad, BiquadCoefficients};
use crate::filters::{butterworth_sections, PassKind};
use crate::processor::Processor;

/// Scales the side signal by `width` and, optionally, removes the side signal
/// below a frequency (a 4th-order Linkwitz-Riley high-pass on the side: the low
/// end becomes mono, the mid is untouched). Only stereo is changed; other layouts
/// pass through.
pub struct StereoWidth {
    width: f64,
    mono_below_hz: Option<f64>,
    side_high_pass: Vec<Biquad>,
}

impl StereoWidth {
    /// `width`: 0 = mono, 1 = unchanged, > 1 wider.
    pub fn new(width: f64, mono_below_hz: Option<f64>) -> Self {
        Self {
            width,
            mono_below_hz,
            side_high_pass: Vec::new(),
        }
    }
}

impl Processor for StereoWidth {
    fn prepare(&mut self, sample_rate_hz: u32, _max_block_frames: usize, _channel_count: usize) {
        // LR4 = two cascaded 2nd-order Butterworth sections.
        let sections: Vec<BiquadCoefficients> = self
            .mono_below_hz
            .map(|f| {
                let bw = butterworth_sections(PassKind::HighPass, 2, f, f64::from(sample_rate_hz));
                [bw.clone(), bw].concat()
            })
            .unwrap_or_default();
        self.side_high_pass = sections.into_iter().map(Biquad::new).collect();
    }

    fn reset(&mut self) {
        self.side_high_pass.iter_mut().for_each(Biquad::reset);
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        let [left, right] = block else { return };
        if self.width == 1.0 && self.side_high_pass.is_empty() {
            return;
        }
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let mid = 0.5 * (f64::from(*l) + f64::from(*r));
            let mut side = 0.5 * (f64::from(*l) - f64::from(*r));
            side = self
                .side_high_pass
                .iter_mut()
                .fold(side, |x, s| s.process_sample(x));
            side *= self.width;
            *l = (mid + side) as f32;
            *r = (mid - side) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq_hz: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (0.5 * (std::f64::consts::TAU * freq_hz * i as f64 / 48_000.0).sin()) as f32)
            .collect()
    }

    fn side_rms(left: &[f32], right: &[f32], skip: usize) -> f64 {
        let sum: f64 = left[skip..]
            .iter()
            .zip(&right[skip..])
            .map(|(l, r)| (0.5 * f64::from(l - r)).powi(2))
            .sum();
        (sum / (left.len() - skip) as f64).sqrt()
    }

    #[test]
    fn width_scales_the_side_and_keeps_the_mid() {
        let left = tone(1_000.0, 4_800);
        let right: Vec<f32> = tone(700.0, 4_800);
        let (mut l, mut r) = (left.clone(), right.clone());
        let mut wide = StereoWidth::new(1.5, None);
        wide.prepare(48_000, 4_800, 2);
        wide.process(&mut [&mut l, &mut r]);
        for i in 0..4_800 {
            let mid_before = left[i] + right[i];
            assert!((l[i] + r[i] - mid_before).abs() < 1e-6);
            assert!(((l[i] - r[i]) - 1.5 * (left[i] - right[i])).abs() < 1e-6);
        }
    }

    #[test]
    fn bass_becomes_mono_and_highs_keep_their_width() {
        let n = 48_000;
        // Out-of-phase content: all side.
        let low = tone(40.0, n);
        let high = tone(2_000.0, n);
        for (signal, expect_side) in [(&low, false), (&high, true)] {
            let mut l = signal.clone();
            let mut r: Vec<f32> = signal.iter().map(|x| -x).collect();
            let before = side_rms(&l, &r, 24_000);
            let mut mono_bass = StereoWidth::new(1.0, Some(120.0));
            mono_bass.prepare(48_000, n, 2);
            mono_bass.process(&mut [&mut l, &mut r]);
            let after = side_rms(&l, &r, 24_000);
            let change_db = 20.0 * (after / before).log10();
            if expect_side {
                assert!(
                    change_db.abs() < 0.1,
                    "2 kHz side changed by {change_db} dB"
                );
            } else {
                // LR4 at 120 Hz, 40 Hz is 1.58 octaves below: about −38 dB.
                assert!(change_db < -30.0, "40 Hz side only down {change_db} dB");
            }
        }
    }
}
