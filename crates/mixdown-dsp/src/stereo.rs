//! Stereo image: pan laws for mono and stereo sources, mid/side width and a mono
//! low end.

use crate::biquad::{Biquad, BiquadCoefficients};
use crate::filters::{butterworth_sections, PassKind};
use crate::processor::Processor;
use std::f64::consts::FRAC_PI_4;

/// How a panner sets the level of a mono source on each side: every law puts a
/// hard-panned source at unity on its side and silences the other; they differ in the
/// level of a centred source, which is the law's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanLaw {
    /// Centre at unity on both sides (+3 dB acoustic sum): the near side stays at unity
    /// and the far side falls linearly.
    ZeroDb,
    /// Constant power, `L = cos θ`, `R = sin θ` with θ from 0 to π/2 (Blumlein's
    /// sine/cosine law): the centre is at −3.01 dB and `L² + R²` is 1 everywhere.
    Minus3Db,
    /// Compromise law: the geometric mean of the −3 dB and −6 dB laws (centre at
    /// −4.52 dB), as in several consoles and DAWs.
    Minus4_5Db,
    /// Constant amplitude, linear `L = (1 − pan)/2`, `R = (1 + pan)/2`: the centre is at
    /// −6.02 dB and `L + R` is 1 everywhere (mono-compatible sum).
    Minus6Db,
}

impl PanLaw {
    /// Every law, from the loudest centre to the quietest.
    const ALL: [Self; 4] = [
        Self::ZeroDb,
        Self::Minus3Db,
        Self::Minus4_5Db,
        Self::Minus6Db,
    ];

    /// The law named by its centre level in dB: 0, −3, −4.5 or −6 (within 0.01 dB).
    /// Laws are often quoted by magnitude, so +3, +4.5 and +6 name the same laws.
    /// Anything else gives `None`.
    pub fn from_db(law_db: f64) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|law| (law.db() + law_db.abs()).abs() < 0.01)
    }

    /// The law's nominal centre level in dB: 0, −3, −4.5 or −6.
    pub fn db(self) -> f64 {
        match self {
            Self::ZeroDb => 0.0,
            Self::Minus3Db => -3.0,
            Self::Minus4_5Db => -4.5,
            Self::Minus6Db => -6.0,
        }
    }

    /// `[left, right]` gains for a mono source at `pan` (−1 hard left, 0 centre, +1 hard
    /// right; clamped to that range, NaN counts as centre).
    pub fn gains(self, pan: f64) -> [f64; 2] {
        let pan = if pan.is_nan() {
            0.0
        } else {
            pan.clamp(-1.0, 1.0)
        };
        // Each side's share of the travel: 1 at its own hard pan, 0 at the other.
        // Computing both from `pan` the same way keeps the laws exactly symmetric.
        let [left_share, right_share] = [(1.0 - pan) / 2.0, (1.0 + pan) / 2.0];
        // sin(share·π/2) is cos θ on the left and sin θ on the right, exactly 0 and 1
        // at the ends.
        let constant_power = |share: f64| (share * 2.0 * FRAC_PI_4).sin();
        match self {
            Self::ZeroDb => balance_gains(pan),
            Self::Minus3Db => [constant_power(left_share), constant_power(right_share)],
            Self::Minus4_5Db => [
                (left_share * constant_power(left_share)).sqrt(),
                (right_share * constant_power(right_share)).sqrt(),
            ],
            Self::Minus6Db => [left_share, right_share],
        }
    }
}

/// `[left, right]` gains for a stereo source's balance at `pan` (−1..=1, clamped; NaN
/// counts as centre): the side away from the pan is attenuated linearly, neither side
/// is ever boosted, `L = min(1, 1 − pan)`, `R = min(1, 1 + pan)`.
pub fn balance_gains(pan: f64) -> [f64; 2] {
    let pan = if pan.is_nan() {
        0.0
    } else {
        pan.clamp(-1.0, 1.0)
    };
    [(1.0 - pan).min(1.0), (1.0 + pan).min(1.0)]
}

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
    use crate::units::gain_to_db;

    #[test]
    fn every_pan_law_hits_its_centre_and_hard_pan_levels() {
        // Centre level (linear) of each law.
        let centres = [
            (PanLaw::ZeroDb, 1.0),
            (PanLaw::Minus3Db, std::f64::consts::FRAC_1_SQRT_2),
            (
                PanLaw::Minus4_5Db,
                (0.5 * std::f64::consts::FRAC_1_SQRT_2).sqrt(),
            ),
            (PanLaw::Minus6Db, 0.5),
        ];
        for (law, centre) in centres {
            let [l, r] = law.gains(0.0);
            assert!(
                (l - centre).abs() < 1e-12 && (r - centre).abs() < 1e-12,
                "{law:?}"
            );
            // Nominal name within 0.03 dB (−3.01, −4.52, −6.02).
            assert!(
                (gain_to_db(l) - law.db()).abs() < 0.03,
                "{law:?}: {}",
                gain_to_db(l)
            );
            assert_eq!(law.gains(-1.0), [1.0, 0.0], "{law:?} hard left");
            assert_eq!(law.gains(1.0), [0.0, 1.0], "{law:?} hard right");
            assert_eq!(law.gains(-7.0), [1.0, 0.0], "{law:?} clamped");
            assert_eq!(law.gains(f64::NAN), law.gains(0.0));
            assert_eq!(PanLaw::from_db(law.db()), Some(law));
            assert_eq!(PanLaw::from_db(-law.db()), Some(law));
            // Mirror symmetry and monotony across the range.
            let mut previous_left = f64::INFINITY;
            for step in -20..=20 {
                let pan = f64::from(step) / 20.0;
                let [l, r] = law.gains(pan);
                assert_eq!(law.gains(-pan), [r, l], "{law:?} at {pan}");
                assert!(l <= previous_left && (0.0..=1.0).contains(&l));
                previous_left = l;
            }
        }
        assert_eq!(PanLaw::from_db(-2.0), None);
        assert_eq!(PanLaw::from_db(f64::NAN), None);
        // The linear law sums to 1 everywhere.
        let [l, r] = PanLaw::Minus6Db.gains(0.3);
        assert!((l + r - 1.0).abs() < 1e-15);
    }

    #[test]
    fn minus_3_db_law_keeps_constant_power() {
        for step in -100..=100 {
            let pan = f64::from(step) / 100.0;
            let [l, r] = PanLaw::Minus3Db.gains(pan);
            assert!(
                (l * l + r * r - 1.0).abs() < 1e-12,
                "{pan}: {}",
                l * l + r * r
            );
        }
    }

    #[test]
    fn zero_db_law_and_balance_never_boost() {
        for law_gains in [PanLaw::ZeroDb.gains(0.5), balance_gains(0.5)] {
            assert_eq!(law_gains, [0.5, 1.0]);
        }
        assert_eq!(balance_gains(0.0), [1.0, 1.0]);
        assert_eq!(balance_gains(-1.0), [1.0, 0.0]);
        assert_eq!(balance_gains(3.0), [0.0, 1.0]);
        assert_eq!(balance_gains(-0.25), [1.0, 0.75]);
    }

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
