//! Split-band de-esser: a compressor acting on the highs only.
//!
//! Each channel is split at `freq_hz` by a Linkwitz-Riley crossover
//! ([`LinkwitzRiley4`](crate::crossover::LinkwitzRiley4)); the high band's level drives
//! a stereo-linked compressor (the hard-knee static curve of
//! [`static_gain_db`](crate::dynamics::static_gain_db), Giannoulis, Massberg & Reiss,
//! JAES 60(6), 2012, capped at `max_reduction_db`, smoothed by their branching peak
//! detector) whose gain is applied to the high band alone before the bands are summed
//! again. The LR4 bands sum to an all-pass, so without reduction the output has the
//! input's magnitude spectrum exactly (with the crossover's phase).
//!
//! The detector is a mean square over
//! [`DETECTOR_WINDOW_MS`](crate::deesser::DETECTOR_WINDOW_MS), read in dB relative to a
//! full-scale sine (AES17: RMS + 3.01 dB), so a steady sine reads its peak level
//! whatever its frequency — a sample-peak detector would under-read the highs by up to
//! 3 dB (a sine at fs/4 can be sampled at ±0.71 of its peak).

use crate::crossover::LinkwitzRiley4;
use crate::delay::silence_unprepared;
use crate::dynamics::{
    integrate, max_into, one_pole_coeff, smooth, CompressorSettings, Detector, GainCurve,
};
use crate::processor::Processor;
use crate::units::{db_to_gain, power_to_db};

/// Time constant of the high band's mean-square detector, ms: short enough for
/// sibilants (a step reads within 0.7 dB after 4 ms), long enough that the ripple on
/// a 2 kHz tone stays below ±0.1 dB.
pub const DETECTOR_WINDOW_MS: f64 = 2.0;

/// Highest crossover, as a fraction of the sample rate (90 % of Nyquist): at low rates
/// a `freq_hz` above it is lowered to it.
const MAX_CROSSOVER_FRACTION: f64 = 0.45;

/// Parameters of a [`DeEsser`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeEsserSettings {
    /// Crossover between the untouched lows and the compressed highs, Hz (e.g. 6000).
    pub freq_hz: f64,
    /// High-band level above which it is compressed, dBFS (sine-calibrated, see the
    /// module docs).
    pub threshold_db: f64,
    /// Input dB per output dB above the threshold (hard knee), ≥ 1.
    pub ratio: f64,
    /// Most the high band is ever turned down, positive dB.
    pub max_reduction_db: f64,
    /// Time for the reduction to cover 63 % of a step increase, ms.
    pub attack_ms: f64,
    /// Time for the reduction to cover 63 % of a step decrease, ms.
    pub release_ms: f64,
}

impl DeEsserSettings {
    /// The equivalent compressor settings: hard knee, no make-up (the detector field is
    /// not used; the de-esser has its own).
    fn compressor(&self) -> CompressorSettings {
        CompressorSettings {
            threshold_db: self.threshold_db,
            ratio: self.ratio,
            knee_db: 0.0,
            attack_ms: self.attack_ms,
            release_ms: self.release_ms,
            makeup_db: 0.0,
            detector: Detector::Rms,
        }
    }

    fn validate(&self) {
        self.compressor().validate();
        assert!(
            self.freq_hz > 0.0 && self.freq_hz.is_finite(),
            "crossover must be finite and > 0 Hz, got {}",
            self.freq_hz
        );
        assert!(
            self.max_reduction_db >= 0.0,
            "maximum reduction must be ≥ 0 dB, got {}",
            self.max_reduction_db
        );
    }
}

/// A split-band de-esser (see the module docs). Any channel count; channels beyond the
/// prepared count are silenced. No latency.
#[derive(Debug, Clone)]
pub struct DeEsser {
    settings: DeEsserSettings,
    curve: GainCurve,
    /// Mean square at or below which the curve gives 0 dB (the threshold).
    threshold_power: f64,
    attack_coeff: f64,
    release_coeff: f64,
    detector_coeff: f64,
    crossovers: Vec<LinkwitzRiley4>,
    /// One mean square per channel.
    mean_squares: Vec<f64>,
    /// This frame's `(low, high)` of every channel.
    bands: Vec<(f64, f64)>,
    /// Current reduction of the high band, dB ≥ 0.
    reduction_db: f64,
}

impl DeEsser {
    /// A de-esser with `settings`, prepared for 48 kHz stereo until
    /// [`Processor::prepare`] is called.
    ///
    /// # Panics
    /// If `settings` are out of range (see [`DeEsserSettings`]).
    pub fn new(settings: DeEsserSettings) -> Self {
        settings.validate();
        // A sine of peak A has mean square A²/2: the threshold's mean square is half
        // its squared peak.
        let threshold_gain = db_to_gain(settings.threshold_db);
        let mut de_esser = Self {
            settings,
            curve: GainCurve::new(&settings.compressor()),
            threshold_power: threshold_gain * threshold_gain / 2.0,
            attack_coeff: 0.0,
            release_coeff: 0.0,
            detector_coeff: 0.0,
            crossovers: Vec::new(),
            mean_squares: Vec::new(),
            bands: Vec::new(),
            reduction_db: 0.0,
        };
        if settings.ratio == 1.0 {
            de_esser.threshold_power = f64::INFINITY;
        }
        de_esser.prepare(48_000, 0, 2);
        de_esser
    }

    /// Target reduction, dB ≥ 0, for the loudest mean square of the high band.
    #[inline(always)]
    fn target_reduction_db(&self, power: f64) -> f64 {
        if power <= self.threshold_power {
            return 0.0;
        }
        // Sine-calibrated level: 10·log10(2·mean square).
        let level_db = power_to_db(2.0 * power);
        (-self.curve.gain_db(level_db)).min(self.settings.max_reduction_db)
    }
}

impl Processor for DeEsser {
    fn prepare(&mut self, sample_rate_hz: u32, _max_block_frames: usize, channel_count: usize) {
        let fs = f64::from(sample_rate_hz.max(1));
        let freq_hz = self.settings.freq_hz.min(MAX_CROSSOVER_FRACTION * fs);
        self.crossovers = vec![LinkwitzRiley4::new(freq_hz, fs); channel_count];
        self.mean_squares = vec![0.0; channel_count];
        self.bands = vec![(0.0, 0.0); channel_count];
        self.attack_coeff = one_pole_coeff(self.settings.attack_ms, fs);
        self.release_coeff = one_pole_coeff(self.settings.release_ms, fs);
        self.detector_coeff = one_pole_coeff(DETECTOR_WINDOW_MS, fs);
        self.reduction_db = 0.0;
    }

    fn reset(&mut self) {
        self.crossovers.iter_mut().for_each(LinkwitzRiley4::reset);
        self.mean_squares.fill(0.0);
        self.reduction_db = 0.0;
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        let channels = silence_unprepared(block, self.crossovers.len());
        let block = &mut block[..channels];
        let frames = block.iter().map(|c| c.len()).min().unwrap_or(0);
        for n in 0..frames {
            let mut power: f64 = 0.0;
            for (c, channel) in block.iter().enumerate() {
                let (low, high) = self.crossovers[c].split_sample(f64::from(channel[n]));
                self.bands[c] = (low, high);
                self.mean_squares[c] =
                    integrate(self.mean_squares[c], self.detector_coeff, high * high);
                power = max_into(power, self.mean_squares[c]);
            }
            let target_db = self.target_reduction_db(power);
            self.reduction_db = smooth(
                self.reduction_db,
                target_db,
                self.attack_coeff,
                self.release_coeff,
            );
            let high_gain = if self.reduction_db == 0.0 {
                1.0
            } else {
                db_to_gain(-self.reduction_db)
            };
            for (channel, &(low, high)) in block.iter_mut().zip(&self.bands) {
                channel[n] = (low + high_gain * high) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biquad::{Biquad, BiquadCoefficients, BiquadKind};
    use crate::dynamics::static_gain_db;
    use crate::processor::process_in_blocks;
    use crate::units::gain_to_db;
    use std::f64::consts::{FRAC_1_SQRT_2, TAU};

    use crate::test_signals::{sine, tone_level_db, FS};

    fn settings() -> DeEsserSettings {
        DeEsserSettings {
            freq_hz: 6_000.0,
            threshold_db: -30.0,
            ratio: 4.0,
            max_reduction_db: 40.0,
            attack_ms: 1.0,
            release_ms: 80.0,
        }
    }

    /// Output level of a steady stereo tone at `level_db`.
    fn output_level_db(settings: DeEsserSettings, freq_hz: f64, level_db: f64) -> f64 {
        let input = sine(freq_hz, level_db, FS as usize);
        let mut channels = vec![input.clone(), input];
        let mut de_esser = DeEsser::new(settings);
        de_esser.prepare(FS, 512, 2);
        process_in_blocks(&mut de_esser, &mut channels, 512);
        assert_eq!(channels[0], channels[1]);
        tone_level_db(&channels[0], freq_hz)
    }

    /// Magnitudes of the LR4 low and high branches at `freq_hz` (Butterworth squared).
    fn lr4_magnitudes(crossover_hz: f64, freq_hz: f64) -> (f64, f64) {
        let fs = f64::from(FS);
        let low = BiquadCoefficients::design(BiquadKind::LowPass, crossover_hz, FRAC_1_SQRT_2, fs);
        let high =
            BiquadCoefficients::design(BiquadKind::HighPass, crossover_hz, FRAC_1_SQRT_2, fs);
        (
            low.magnitude_at(freq_hz, fs).powi(2),
            high.magnitude_at(freq_hz, fs).powi(2),
        )
    }

    #[test]
    fn a_loud_sibilant_is_reduced_by_the_static_curve() {
        let level_db = -6.0;
        let (low, high) = lr4_magnitudes(6_000.0, 8_000.0);
        let high_level_db = level_db + gain_to_db(high);
        for max_reduction_db in [40.0, 6.0] {
            let settings = DeEsserSettings {
                max_reduction_db,
                ..settings()
            };
            let reduction_db =
                (-static_gain_db(&settings.compressor(), high_level_db)).min(max_reduction_db);
            // The bands are in phase (LR4): the output amplitude is |LP| + g·|HP|.
            let expected_db = level_db + gain_to_db(low + high * db_to_gain(-reduction_db));
            let measured_db = output_level_db(settings, 8_000.0, level_db);
            println!(
                "de-esser: 8 kHz at {level_db} dB, high band {high_level_db:.2} dB, \
                 reduction {reduction_db:.2} dB: output {measured_db:.3} dB, \
                 expected {expected_db:.3} dB"
            );
            assert!(
                (measured_db - expected_db).abs() < 0.5,
                "{measured_db} vs {expected_db}"
            );
        }
    }

    #[test]
    fn a_low_tone_of_the_same_level_is_untouched() {
        let measured_db = output_level_db(settings(), 500.0, -6.0);
        println!("de-esser: 500 Hz at -6 dB comes out at {measured_db:.4} dB");
        assert!((measured_db + 6.0).abs() < 0.1);
    }

    #[test]
    fn under_the_threshold_the_output_is_the_lr4_all_pass() {
        let frames = 8_192;
        let mut impulse = vec![vec![0.0f32; frames]];
        impulse[0][0] = 0.01;
        let mut de_esser = DeEsser::new(settings());
        de_esser.prepare(FS, 1_024, 1);
        process_in_blocks(&mut de_esser, &mut impulse, 1_024);
        let mut all_pass = Biquad::new(BiquadCoefficients::design(
            BiquadKind::AllPass,
            6_000.0,
            FRAC_1_SQRT_2,
            f64::from(FS),
        ));
        for (n, &y) in impulse[0].iter().enumerate() {
            let expected = all_pass.process_sample(if n == 0 { 0.01 } else { 0.0 });
            assert!((f64::from(y) - expected).abs() < 1e-9, "frame {n}");
        }
        // Flat magnitude: the DFT of the impulse response at third-octave steps.
        let mut f = 20.0;
        while f < 20_000.0 {
            let w = TAU * f / f64::from(FS);
            let (mut re, mut im) = (0.0, 0.0);
            for (n, &h) in impulse[0].iter().enumerate() {
                let (s, c) = (w * n as f64).sin_cos();
                re += f64::from(h) * c;
                im -= f64::from(h) * s;
            }
            let error_db = gain_to_db(100.0 * re.hypot(im));
            assert!(error_db.abs() < 0.01, "{f} Hz: {error_db} dB");
            f *= 2f64.powf(1.0 / 3.0);
        }
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        // A vowel-like low tone with bursts of 7 kHz "sibilance".
        let frames = 48_000;
        let low = sine(300.0, -12.0, frames);
        let hiss = sine(7_100.0, -10.0, frames);
        let input: Vec<Vec<f32>> = (0..2)
            .map(|c| {
                (0..frames)
                    .map(|n| {
                        low[n]
                            + if (n / (5_000 + 700 * c)) % 2 == 1 {
                                hiss[n]
                            } else {
                                0.0
                            }
                    })
                    .collect()
            })
            .collect();
        let run = |block_frames: usize| {
            let mut output = input.clone();
            let mut de_esser = DeEsser::new(settings());
            de_esser.prepare(FS, 4_096, 2);
            process_in_blocks(&mut de_esser, &mut output, block_frames);
            output
        };
        let reference = run(4_096);
        for block_frames in [1, 64] {
            assert_eq!(run(block_frames), reference, "block of {block_frames}");
        }
    }

    #[test]
    fn crossover_above_nyquist_is_lowered() {
        let mut de_esser = DeEsser::new(settings());
        de_esser.prepare(8_000, 256, 1);
        let mut signal = vec![sine(440.0, -6.0, 8_000)];
        process_in_blocks(&mut de_esser, &mut signal, 256);
        assert!(signal[0].iter().all(|x| x.is_finite()));
    }
}
