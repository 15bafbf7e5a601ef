//! Downward expander and noise gate.
//!
//! The structure is that of the compressors in [`dynamics`](crate::dynamics)
//! (Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor Design — A
//! Tutorial and Analysis", JAES 60(6), 2012), turned downwards:
//!
//! 1. level detection: instantaneous sample peak, linked across channels (loudest);
//! 2. gain computer, [`gate_static_gain_db`](crate::gate::gate_static_gain_db): the
//!    expander curve below the threshold, floored at the range;
//! 3. hold: a gain drop waits `hold_ms` after the last frame that did not ask for
//!    one, the hold stage of a noise gate (e.g. Reiss & McPherson, *Audio Effects:
//!    Theory, Implementation and Application*, CRC Press, 2015). A hold of at least half
//!    the period of the lowest note keeps a steady tone fully open; with a shorter
//!    hold, low tones make the gain flutter slightly between their peaks, as on any
//!    peak-detecting gate;
//! 4. the smooth branching peak detector (Giannoulis et al. eq. 17) on the attenuation
//!    in dB, with `attack_ms` for opening and `release_ms` for closing: the gain moves
//!    along exponentials in dB, without steps.
//!
//! No lookahead: zero latency. The gate starts closed, so noise before the first note
//! is gated too.

use crate::dynamics::{max_into, one_pole_coeff, smooth};
use crate::processor::Processor;
use crate::units::{db_to_gain, gain_to_db};

/// Parameters of a [`Gate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateSettings {
    /// Level below which the gain drops, dBFS (sample peak).
    pub threshold_db: f64,
    /// Expansion ratio ≥ 1: below the threshold the output falls `ratio` dB per input
    /// dB. 1 never attenuates; `f64::INFINITY` is a hard gate.
    pub ratio: f64,
    /// Maximum attenuation, positive dB (e.g. 80).
    pub range_db: f64,
    /// How fast the gate opens: time to cover 63 % of a step towards less
    /// attenuation, ms.
    pub attack_ms: f64,
    /// How long the gain stays put after the level falls, before the release, ms.
    pub hold_ms: f64,
    /// How fast the gate closes: time to cover 63 % of a step towards more
    /// attenuation, ms.
    pub release_ms: f64,
}

impl GateSettings {
    fn validate(&self) {
        assert!(self.ratio >= 1.0, "ratio must be ≥ 1, got {}", self.ratio);
        assert!(
            self.range_db >= 0.0 && self.range_db.is_finite(),
            "range must be finite and ≥ 0 dB, got {}",
            self.range_db
        );
        assert!(
            self.threshold_db.is_finite(),
            "threshold must be finite, got {}",
            self.threshold_db
        );
        for (name, ms) in [
            ("attack", self.attack_ms),
            ("hold", self.hold_ms),
            ("release", self.release_ms),
        ] {
            assert!(
                ms >= 0.0 && ms.is_finite(),
                "{name} must be finite and ≥ 0 ms, got {ms}"
            );
        }
    }
}

/// The static gain computer of the expander: the gain change in dB (≤ 0) for a steady
/// detector level `level_db`. 0 at and above the threshold; below it
/// `(level − threshold)·(ratio − 1)`, floored at `−range_db` (a hard gate, ratio ∞,
/// gives `−range_db` straight away). Silence (`-inf`) gives `−range_db` when
/// `ratio > 1`; NaN and a ratio of 1 give 0.
pub fn gate_static_gain_db(settings: &GateSettings, level_db: f64) -> f64 {
    let under_db = level_db - settings.threshold_db;
    if under_db < 0.0 && settings.ratio > 1.0 {
        (under_db * (settings.ratio - 1.0)).max(-settings.range_db)
    } else {
        0.0
    }
}

/// A stereo-linked downward expander / noise gate (see the module docs): one detector
/// listens to the loudest channel and one gain goes to every channel. Any channel
/// count works.
#[derive(Debug, Clone)]
pub struct Gate {
    settings: GateSettings,
    /// Linear peak at and above which the curve gives 0 dB.
    threshold_gain: f64,
    /// Smoother coefficients: opening, closing.
    attack_coeff: f64,
    release_coeff: f64,
    hold_frames: usize,
    /// Current attenuation, dB ≥ 0.
    reduction_db: f64,
    /// Frames the current gain may still be held.
    hold_left: usize,
}

impl Gate {
    /// A gate with `settings`, prepared for 48 kHz until [`Processor::prepare`] is
    /// called.
    ///
    /// # Panics
    /// If `settings` are out of range (see [`GateSettings`]).
    pub fn new(settings: GateSettings) -> Self {
        settings.validate();
        let mut gate = Self {
            settings,
            threshold_gain: db_to_gain(settings.threshold_db),
            attack_coeff: 0.0,
            release_coeff: 0.0,
            hold_frames: 0,
            reduction_db: 0.0,
            hold_left: 0,
        };
        gate.prepare(48_000, 0, 2);
        gate
    }

    /// The attenuation of a closed gate: the range, or 0 when the ratio is 1.
    fn closed_reduction_db(&self) -> f64 {
        -gate_static_gain_db(&self.settings, f64::NEG_INFINITY)
    }

    /// Target attenuation for a detector peak (linear), dB ≥ 0.
    #[inline(always)]
    fn target_reduction_db(&self, peak: f64) -> f64 {
        if peak >= self.threshold_gain {
            0.0
        } else {
            -gate_static_gain_db(&self.settings, gain_to_db(peak))
        }
    }

    /// The hold stage: a target asking for more attenuation than the current one is
    /// ignored until `hold_frames` frames have passed since the last one that did not.
    #[inline(always)]
    fn held_target_db(&mut self, target_db: f64) -> f64 {
        if target_db <= self.reduction_db {
            self.hold_left = self.hold_frames;
            target_db
        } else if self.hold_left > 0 {
            self.hold_left -= 1;
            self.reduction_db
        } else {
            target_db
        }
    }

    /// Advances one frame and returns the linear gain to apply.
    #[inline(always)]
    fn next_gain(&mut self, peak: f64) -> f64 {
        let target_db = self.target_reduction_db(peak);
        let target_db = self.held_target_db(target_db);
        // `smooth` follows a rising reduction with its first coefficient: here that is
        // the gate closing, i.e. the release.
        self.reduction_db = smooth(
            self.reduction_db,
            target_db,
            self.release_coeff,
            self.attack_coeff,
        );
        if self.reduction_db == 0.0 {
            1.0
        } else {
            db_to_gain(-self.reduction_db)
        }
    }
}

impl Processor for Gate {
    fn prepare(&mut self, sample_rate_hz: u32, _max_block_frames: usize, _channel_count: usize) {
        let fs = f64::from(sample_rate_hz.max(1));
        self.attack_coeff = one_pole_coeff(self.settings.attack_ms, fs);
        self.release_coeff = one_pole_coeff(self.settings.release_ms, fs);
        self.hold_frames = (self.settings.hold_ms * fs / 1_000.0).round() as usize;
        self.reset();
    }

    fn reset(&mut self) {
        self.reduction_db = self.closed_reduction_db();
        self.hold_left = 0;
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        let frames = block.iter().map(|c| c.len()).min().unwrap_or(0);
        for n in 0..frames {
            let peak = block.iter().fold(0.0, |peak, channel| {
                max_into(peak, f64::from(channel[n]).abs())
            });
            let gain = self.next_gain(peak);
            if gain != 1.0 {
                for channel in block.iter_mut() {
                    channel[n] = (f64::from(channel[n]) * gain) as f32;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::process_in_blocks;

    use crate::test_signals::{sine, FS};

    fn settings(ratio: f64) -> GateSettings {
        GateSettings {
            threshold_db: -40.0,
            ratio,
            range_db: 60.0,
            attack_ms: 0.5,
            hold_ms: 10.0,
            release_ms: 100.0,
        }
    }

    /// A square wave (constant |x|) at `level_db` that drops to `low_db` at `drop`.
    fn stepped_square(level_db: f64, low_db: f64, drop: usize, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|n| {
                let level_db = if n < drop { level_db } else { low_db };
                let sign = if (n / 24) % 2 == 0 { 1.0 } else { -1.0 };
                (sign * db_to_gain(level_db)) as f32
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// Gain in dB the gate applies to a steady stereo tone, over its second half.
    fn steady_gain_db(settings: GateSettings, freq_hz: f64, level_db: f64) -> f64 {
        let frames = FS as usize;
        let input = sine(freq_hz, level_db, frames);
        let mut channels = vec![input.clone(), input.clone()];
        let mut gate = Gate::new(settings);
        gate.prepare(FS, 512, 2);
        process_in_blocks(&mut gate, &mut channels, 512);
        assert_eq!(channels[0], channels[1], "one gain for both channels");
        let tail = frames / 2..;
        gain_to_db(rms(&channels[0][tail.clone()]) / rms(&input[tail]))
    }

    #[test]
    fn static_curve_follows_the_formula() {
        for ratio in [1.0, 1.5, 2.0, 4.0, f64::INFINITY] {
            let settings = settings(ratio);
            for step in -40..=10 {
                let level_db = -40.0 + f64::from(step) * 2.5;
                let under = level_db - settings.threshold_db;
                let expected = if under >= 0.0 {
                    0.0
                } else if ratio.is_infinite() {
                    -settings.range_db
                } else {
                    (under * (ratio - 1.0)).max(-settings.range_db)
                };
                assert_eq!(
                    gate_static_gain_db(&settings, level_db),
                    expected,
                    "{ratio} at {level_db}"
                );
            }
            let silence_db = gate_static_gain_db(&settings, f64::NEG_INFINITY);
            assert_eq!(silence_db, if ratio > 1.0 { -60.0 } else { 0.0 });
            assert_eq!(gate_static_gain_db(&settings, f64::NAN), 0.0);
        }
        assert_eq!(gate_static_gain_db(&settings(2.0), -45.0), -5.0);
        assert_eq!(gate_static_gain_db(&settings(3.0), -45.0), -10.0);
    }

    #[test]
    fn a_tone_above_the_threshold_passes() {
        for (ratio, freq_hz) in [
            (2.0, 1_000.0),
            (f64::INFINITY, 997.0),
            (f64::INFINITY, 60.0),
        ] {
            let gain_db = steady_gain_db(settings(ratio), freq_hz, -30.0);
            println!("gate: {freq_hz} Hz 10 dB above threshold, ratio {ratio}: {gain_db:+.4} dB");
            assert!(gain_db.abs() < 0.1, "{gain_db}");
        }
    }

    #[test]
    fn a_tone_below_the_threshold_is_attenuated_by_the_ratio_or_the_range() {
        for (ratio, expected_db) in [(2.0, -10.0), (3.0, -20.0), (f64::INFINITY, -60.0)] {
            let gain_db = steady_gain_db(settings(ratio), 997.0, -50.0);
            println!("gate: 997 Hz 10 dB below threshold, ratio {ratio}: {gain_db:+.3} dB");
            assert!((gain_db - expected_db).abs() < 0.1, "{ratio}: {gain_db}");
        }
    }

    /// Gains applied frame by frame to a square wave that drops at `drop`.
    fn step_gains(settings: GateSettings, drop: usize, frames: usize) -> Vec<f64> {
        let input = stepped_square(-30.0, -70.0, drop, frames);
        let mut output = vec![input.clone()];
        let mut gate = Gate::new(settings);
        gate.prepare(FS, 256, 1);
        process_in_blocks(&mut gate, &mut output, 256);
        input
            .iter()
            .zip(&output[0])
            .map(|(&x, &y)| f64::from(y) / f64::from(x))
            .collect()
    }

    #[test]
    fn hold_keeps_the_gate_open_then_release_closes_it() {
        let drop = 24_000;
        let held = GateSettings {
            hold_ms: 20.0,
            ..settings(f64::INFINITY)
        };
        let gains = step_gains(held, drop, 72_000);
        let hold_frames = 960;
        assert!(gains[drop - 100..drop + hold_frames]
            .iter()
            .all(|&g| g == 1.0));
        assert!(gains[drop + hold_frames] < 1.0);
        // Release: 63 % of the range (in dB) after release_ms.
        let release_frames = gains[drop + hold_frames..]
            .iter()
            .position(|&g| -gain_to_db(g) >= (1.0 - (-1f64).exp()) * 60.0)
            .unwrap()
            + 1;
        let release_ms = release_frames as f64 / 48.0;
        println!("gate release: 63 % after {release_ms:.2} ms (set 100)");
        assert!((release_ms - 100.0).abs() < 5.0);
        assert!((gain_to_db(gains[gains.len() - 1]) + 60.0).abs() < 0.01);

        // Without hold the release starts at once.
        let no_hold = GateSettings {
            hold_ms: 0.0,
            ..settings(f64::INFINITY)
        };
        let gains = step_gains(no_hold, drop, 30_000);
        assert!(gains[drop] < 1.0);
    }

    #[test]
    fn attack_opens_at_its_time_constant() {
        // Starts closed: the first frames of a loud signal are attenuated by the range.
        let slow = GateSettings {
            attack_ms: 5.0,
            ..settings(f64::INFINITY)
        };
        let gains = step_gains(slow, 48_000, 24_000);
        assert!(gain_to_db(gains[0]) < -59.0);
        let attack_frames = gains
            .iter()
            .position(|&g| -gain_to_db(g) <= (-1f64).exp() * 60.0)
            .unwrap()
            + 1;
        let attack_ms = attack_frames as f64 / 48.0;
        println!("gate attack: 63 % after {attack_ms:.3} ms (set 5)");
        assert!((attack_ms - 5.0).abs() < 0.25);
        assert_eq!(gains[gains.len() - 1], 1.0);
    }

    #[test]
    fn ratio_one_is_a_bit_exact_bypass() {
        let input = stepped_square(-30.0, -90.0, 1_000, 10_000);
        let mut output = vec![input.clone()];
        let mut gate = Gate::new(settings(1.0));
        gate.prepare(FS, 512, 1);
        process_in_blocks(&mut gate, &mut output, 512);
        assert_eq!(output[0], input);
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        // Bursts of a tone around the threshold, with silences: every stage moves.
        let frames = 96_000;
        let tone = sine(180.0, -20.0, frames);
        let input: Vec<Vec<f32>> = (0..2)
            .map(|c| {
                tone.iter()
                    .enumerate()
                    .map(|(n, &x)| {
                        let burst = (n / (6_000 + 1_000 * c)) % 3;
                        x * [1.0, 0.02, 0.0][burst]
                    })
                    .collect()
            })
            .collect();
        for ratio in [2.0, f64::INFINITY] {
            let run = |block_frames: usize| {
                let mut output = input.clone();
                let mut gate = Gate::new(settings(ratio));
                gate.prepare(FS, 4_096, 2);
                process_in_blocks(&mut gate, &mut output, block_frames);
                output
            };
            let reference = run(4_096);
            assert_ne!(reference, input);
            for block_frames in [1, 64] {
                assert_eq!(run(block_frames), reference, "block of {block_frames}");
            }
        }
    }
}
