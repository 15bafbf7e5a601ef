//! Feed-forward compressors: single-band (with an optional sidechain key) and
//! multiband on Linkwitz-Riley bands.
//!
//! The design follows Giannoulis, Massberg & Reiss, "Digital Dynamic Range
//! Compressor Design — A Tutorial and Analysis", JAES 60(6), 2012:
//!
//! 1. level detection: `x_G` = instantaneous peak (`20·log10|x|`) or a running
//!    mean square (`10·log10`, see [`RMS_WINDOW_MS`]), linked across channels by
//!    taking the loudest;
//! 2. gain computer with a quadratic soft knee (their eq. 4, [`static_gain_db`]);
//! 3. the smooth branching peak detector (their eq. 17) applied to the gain
//!    reduction in dB, i.e. in the log domain *after* the gain computer — their
//!    recommended placement: attack and release envelopes are smooth exponentials
//!    in dB, and the release time does not depend on the threshold;
//! 4. make-up gain, one gain applied to every channel.
//!
//! There is no lookahead, so every processor here reports zero latency.

use crate::crossover::BandSplitter;
use crate::processor::Processor;
use crate::units::{db_to_gain, gain_to_db, power_to_db};

/// Time constant of the mean-square integrator used by [`Detector::Rms`], in ms.
///
/// Fixed rather than tied to the attack so that the RMS reading means the same at
/// every attack setting. It adds its own lag on top of the attack. On a steady 1 kHz
/// tone its ripple is negligible (reduction within 0.03 dB of the static curve); at
/// 60 Hz the ripple of the one-pole average is about ±0.5 dB and the attack/release
/// smoother rides its peaks, so low tones get up to ~0.4 dB more reduction than the
/// static curve predicts (measured at 18 dB of reduction).
pub const RMS_WINDOW_MS: f64 = 10.0;

/// Gain reductions below this are flushed to exactly 0 dB so a released compressor
/// returns to bit-exact unity instead of decaying through denormals.
const REDUCTION_FLOOR_DB: f64 = 1e-9;

/// Mean squares below this (−300 dBFS) are flushed to 0 for the same reason.
const POWER_FLOOR: f64 = 1e-30;

/// What the level detector measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    /// Instantaneous sample peak `|x|`; the attack/release smoother does the averaging.
    ///
    /// On a steady tone the smoother settles where attack and release balance, below
    /// the tone's peak: the static curve is reached only when `attack_ms ≪ release_ms`
    /// (0.5/1000 ms: within 0.05 dB). At 10/100 ms a sine that the static curve would
    /// reduce by 18 dB is reduced by 16.7 dB (independent of its frequency).
    Peak,
    /// Exponentially weighted mean square with time constant [`RMS_WINDOW_MS`];
    /// a steady sine reads 3.01 dB below its peak.
    Rms,
}

/// Parameters of one compressor (or one band of a multiband compressor).
///
/// Validated upstream; [`Compressor::new`] and [`MultibandCompressor::new`] only assert
/// `ratio ≥ 1` (∞ allowed: limiting), `knee_db ≥ 0`, and finite non-negative times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompressorSettings {
    /// Level at the centre of the knee, dBFS.
    pub threshold_db: f64,
    /// Input dB per output dB above the knee; 1 is a bit-exact bypass.
    pub ratio: f64,
    /// Total width of the soft knee centred on the threshold, dB; 0 is a hard knee.
    pub knee_db: f64,
    /// Time for the gain reduction to cover 1 − 1/e (63 %) of a step increase, ms.
    pub attack_ms: f64,
    /// Time for the gain reduction to cover 63 % of a step decrease, ms.
    pub release_ms: f64,
    /// Gain added after compression, dB (no automatic make-up).
    pub makeup_db: f64,
    /// Level detector feeding the gain computer.
    pub detector: Detector,
}

impl Default for CompressorSettings {
    /// A gentle bus setting: −18 dBFS threshold, 2:1, 6 dB knee, 10 ms attack,
    /// 100 ms release, no make-up, peak detector.
    fn default() -> Self {
        Self {
            threshold_db: -18.0,
            ratio: 2.0,
            knee_db: 6.0,
            attack_ms: 10.0,
            release_ms: 100.0,
            makeup_db: 0.0,
            detector: Detector::Peak,
        }
    }
}

impl CompressorSettings {
    fn validate(&self) {
        assert!(self.ratio >= 1.0, "ratio must be ≥ 1, got {}", self.ratio);
        assert!(
            self.knee_db >= 0.0 && self.knee_db.is_finite(),
            "knee must be finite and ≥ 0 dB, got {}",
            self.knee_db
        );
        for (name, ms) in [("attack", self.attack_ms), ("release", self.release_ms)] {
            assert!(
                ms >= 0.0 && ms.is_finite(),
                "{name} must be finite and ≥ 0 ms, got {ms}"
            );
        }
        assert!(self.threshold_db.is_finite() && self.makeup_db.is_finite());
    }
}

/// The static gain computer (Giannoulis et al. 2012, eq. 4): the gain change in dB
/// (≤ 0, before make-up) for a steady detector level `level_db`.
///
/// Below `threshold − knee/2` it is 0; above `threshold + knee/2` the output rises
/// `1/ratio` dB per input dB from the threshold; in between a quadratic joins the two
/// with matching slopes. Silence (`-inf`) and NaN give 0.
pub fn static_gain_db(settings: &CompressorSettings, level_db: f64) -> f64 {
    let slope = 1.0 / settings.ratio - 1.0;
    let over_db = level_db - settings.threshold_db;
    let knee_db = settings.knee_db;
    if over_db.is_nan() || 2.0 * over_db <= -knee_db {
        0.0
    } else if 2.0 * over_db <= knee_db {
        slope * (over_db + knee_db / 2.0).powi(2) / (2.0 * knee_db)
    } else {
        slope * over_db
    }
}

/// Gain-reduction statistics accumulated since the last reset.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GainReductionStats {
    /// Largest gain reduction, dB (≥ 0).
    pub max_db: f64,
    /// Time average of the gain reduction in dB over all frames (0 before any frame).
    pub mean_db: f64,
    /// Frames processed.
    pub frames: u64,
}

/// Detector, gain computer and smoother shared by the single- and multiband compressors.
#[derive(Debug, Clone)]
struct GainEnvelope {
    settings: CompressorSettings,
    attack_coeff: f64,
    release_coeff: f64,
    rms_coeff: f64,
    /// Detector levels at or below this cannot reach the knee (linear peak / mean square).
    knee_start_peak: f64,
    knee_start_power: f64,
    makeup_gain: f64,
    /// Smoothed gain reduction `y_L`, dB ≥ 0.
    reduction_db: f64,
    /// One mean square per detector channel (RMS mode).
    mean_squares: Vec<f64>,
    reduction_sum_db: f64,
    reduction_max_db: f64,
    frames: u64,
}

/// One-pole coefficient whose step response covers 1 − 1/e in `time_ms`
/// (Giannoulis et al. eq. 7); 0 ms gives an instantaneous response.
fn one_pole_coeff(time_ms: f64, sample_rate_hz: f64) -> f64 {
    (-1000.0 / (time_ms * sample_rate_hz)).exp()
}

impl GainEnvelope {
    fn new(settings: CompressorSettings, sample_rate_hz: f64, channel_count: usize) -> Self {
        let mut envelope = Self {
            settings,
            attack_coeff: 0.0,
            release_coeff: 0.0,
            rms_coeff: 0.0,
            knee_start_peak: 0.0,
            knee_start_power: 0.0,
            makeup_gain: 1.0,
            reduction_db: 0.0,
            mean_squares: vec![0.0; channel_count.max(1)],
            reduction_sum_db: 0.0,
            reduction_max_db: 0.0,
            frames: 0,
        };
        envelope.set_settings(settings, sample_rate_hz);
        envelope
    }

    /// Recomputes the coefficients; keeps the envelope running. Does not allocate.
    fn set_settings(&mut self, settings: CompressorSettings, sample_rate_hz: f64) {
        settings.validate();
        self.settings = settings;
        self.attack_coeff = one_pole_coeff(settings.attack_ms, sample_rate_hz);
        self.release_coeff = one_pole_coeff(settings.release_ms, sample_rate_hz);
        self.rms_coeff = one_pole_coeff(RMS_WINDOW_MS, sample_rate_hz);
        // Ratio 1 never reduces: skip the gain computer entirely (exact bypass).
        self.knee_start_peak = if settings.ratio == 1.0 {
            f64::INFINITY
        } else {
            db_to_gain(settings.threshold_db - settings.knee_db / 2.0)
        };
        self.knee_start_power = self.knee_start_peak * self.knee_start_peak;
        self.makeup_gain = db_to_gain(settings.makeup_db);
    }

    fn reset(&mut self) {
        self.reduction_db = 0.0;
        self.mean_squares.fill(0.0);
        self.reset_stats();
    }

    fn reset_stats(&mut self) {
        self.reduction_sum_db = 0.0;
        self.reduction_max_db = 0.0;
        self.frames = 0;
    }

    fn stats(&self) -> GainReductionStats {
        GainReductionStats {
            max_db: self.reduction_max_db,
            mean_db: if self.frames == 0 {
                0.0
            } else {
                self.reduction_sum_db / self.frames as f64
            },
            frames: self.frames,
        }
    }

    /// Advances one frame with the detector fed by `key` (one sample per key channel)
    /// and returns the linear gain to apply, make-up included.
    #[inline]
    fn next_gain(&mut self, key: impl Iterator<Item = f64>) -> f64 {
        let target_db = match self.settings.detector {
            Detector::Peak => {
                let peak = key.fold(0.0, |m: f64, x| m.max(x.abs()));
                if peak <= self.knee_start_peak {
                    0.0
                } else {
                    -static_gain_db(&self.settings, gain_to_db(peak))
                }
            }
            Detector::Rms => {
                let power = self.update_mean_squares(key);
                if power <= self.knee_start_power {
                    0.0
                } else {
                    -static_gain_db(&self.settings, power_to_db(power))
                }
            }
        };
        // Smooth branching peak detector on the reduction (Giannoulis et al. eq. 17).
        let coeff = if target_db > self.reduction_db {
            self.attack_coeff
        } else {
            self.release_coeff
        };
        self.reduction_db = coeff * self.reduction_db + (1.0 - coeff) * target_db;
        if self.reduction_db < REDUCTION_FLOOR_DB {
            self.reduction_db = 0.0;
        }
        self.frames += 1;
        self.reduction_sum_db += self.reduction_db;
        self.reduction_max_db = self.reduction_max_db.max(self.reduction_db);
        if self.reduction_db == 0.0 {
            self.makeup_gain
        } else {
            db_to_gain(self.settings.makeup_db - self.reduction_db)
        }
    }

    /// Updates one mean square per detector channel and returns the largest.
    /// Key channels beyond the prepared count share the last integrator (loudest
    /// sample wins); missing ones integrate silence.
    #[inline]
    fn update_mean_squares(&mut self, key: impl Iterator<Item = f64>) -> f64 {
        let coeff = self.rms_coeff;
        let integrate = |state: &mut f64, square: f64| {
            *state = coeff * *state + (1.0 - coeff) * square;
            if *state < POWER_FLOOR {
                *state = 0.0;
            }
        };
        let last = self.mean_squares.len() - 1;
        let mut seen = 0;
        let mut tail_square: f64 = 0.0;
        for (channel, x) in key.enumerate() {
            if channel < last {
                integrate(&mut self.mean_squares[channel], x * x);
            } else {
                tail_square = tail_square.max(x * x);
            }
            seen = channel + 1;
        }
        for state in &mut self.mean_squares[seen.min(last)..last] {
            integrate(state, 0.0);
        }
        integrate(&mut self.mean_squares[last], tail_square);
        self.mean_squares.iter().fold(0.0, |m: f64, &p| m.max(p))
    }
}

/// Frames common to every channel of a block.
fn block_frames(block: &[&mut [f32]]) -> usize {
    block.iter().map(|c| c.len()).min().unwrap_or(0)
}

/// A feed-forward, stereo-linked compressor: one detector listens to the loudest
/// channel (of the programme, or of a sidechain key) and one gain goes to every channel.
#[derive(Debug, Clone)]
pub struct Compressor {
    envelope: GainEnvelope,
    sample_rate_hz: f64,
}

impl Compressor {
    /// A compressor prepared for 48 kHz stereo until [`Processor::prepare`] is called.
    ///
    /// # Panics
    /// If `settings` are out of range (see [`CompressorSettings`]).
    pub fn new(settings: CompressorSettings) -> Self {
        let sample_rate_hz = 48_000.0;
        Self {
            envelope: GainEnvelope::new(settings, sample_rate_hz, 2),
            sample_rate_hz,
        }
    }

    /// The current settings.
    pub fn settings(&self) -> &CompressorSettings {
        &self.envelope.settings
    }

    /// Changes the settings without resetting the envelope (no allocation, no click).
    ///
    /// # Panics
    /// If `settings` are out of range.
    pub fn set_settings(&mut self, settings: CompressorSettings) {
        self.envelope.set_settings(settings, self.sample_rate_hz);
    }

    /// Current gain reduction, dB (≥ 0; make-up not included).
    pub fn gain_reduction_db(&self) -> f64 {
        self.envelope.reduction_db
    }

    /// Maximum and mean gain reduction since the last reset or [`prepare`](Processor::prepare).
    pub fn gain_reduction_stats(&self) -> GainReductionStats {
        self.envelope.stats()
    }

    /// Clears the statistics only, keeping the envelope running.
    pub fn reset_stats(&mut self) {
        self.envelope.reset_stats();
    }

    /// Processes `block` in place with the detector listening to `key` instead of the
    /// programme (e.g. a kick ducking the bass). `key` may have any channel count (the
    /// loudest channel drives the detector); frames missing from a short key count as
    /// silence. A silent key leaves the programme untouched (apart from make-up).
    pub fn process_with_key(&mut self, block: &mut [&mut [f32]], key: &[&[f32]]) {
        for frame in 0..block_frames(block) {
            let gain = self.envelope.next_gain(
                key.iter()
                    .map(|channel| channel.get(frame).map_or(0.0, |&x| f64::from(x))),
            );
            for channel in block.iter_mut() {
                channel[frame] = (f64::from(channel[frame]) * gain) as f32;
            }
        }
    }
}

impl Processor for Compressor {
    fn prepare(&mut self, sample_rate_hz: u32, _max_block_frames: usize, channel_count: usize) {
        self.sample_rate_hz = f64::from(sample_rate_hz);
        self.envelope =
            GainEnvelope::new(self.envelope.settings, self.sample_rate_hz, channel_count);
    }

    fn reset(&mut self) {
        self.envelope.reset();
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        for frame in 0..block_frames(block) {
            let gain = self
                .envelope
                .next_gain(block.iter().map(|channel| f64::from(channel[frame])));
            for channel in block.iter_mut() {
                channel[frame] = (f64::from(channel[frame]) * gain) as f32;
            }
        }
    }
}

/// A multiband compressor: each channel is split by a [`BandSplitter`] (LR4 bands that
/// sum to an all-pass), each band has its own stereo-linked compressor, and the bands
/// are summed. With every ratio at 1 the output is the all-pass of the input: flat
/// magnitude, with the phase shift of the crossovers (no added latency).
#[derive(Debug, Clone)]
pub struct MultibandCompressor {
    crossovers_hz: Vec<f64>,
    bands: Vec<GainEnvelope>,
    /// One splitter per prepared channel.
    splitters: Vec<BandSplitter>,
    /// Scratch `[channel][band]` for the current frame, flattened.
    band_samples: Vec<f64>,
    band_gains: Vec<f64>,
    sample_rate_hz: f64,
}

impl MultibandCompressor {
    /// A multiband compressor with `bands.len() == crossovers_hz.len() + 1`, prepared
    /// for 48 kHz stereo until [`Processor::prepare`] is called.
    ///
    /// # Panics
    /// If the counts disagree, the crossovers are not strictly ascending and positive,
    /// or a band's settings are out of range. [`Processor::prepare`] panics if a
    /// crossover is not below the Nyquist frequency of the stream.
    pub fn new(crossovers_hz: Vec<f64>, bands: Vec<CompressorSettings>) -> Self {
        assert_eq!(
            bands.len(),
            crossovers_hz.len() + 1,
            "a multiband compressor needs one band more than crossovers"
        );
        assert!(
            crossovers_hz.first().is_none_or(|&f| f > 0.0),
            "crossovers must be positive"
        );
        let sample_rate_hz = 48_000.0;
        let mut compressor = Self {
            crossovers_hz,
            bands: bands
                .into_iter()
                .map(|settings| GainEnvelope::new(settings, sample_rate_hz, 2))
                .collect(),
            splitters: Vec::new(),
            band_samples: Vec::new(),
            band_gains: Vec::new(),
            sample_rate_hz,
        };
        compressor.allocate(sample_rate_hz, 2);
        compressor
    }

    fn allocate(&mut self, sample_rate_hz: f64, channel_count: usize) {
        self.sample_rate_hz = sample_rate_hz;
        let splitter = BandSplitter::new(&self.crossovers_hz, sample_rate_hz);
        self.splitters = vec![splitter; channel_count];
        self.band_samples = vec![0.0; channel_count * self.bands.len()];
        self.band_gains = vec![1.0; self.bands.len()];
        for band in &mut self.bands {
            *band = GainEnvelope::new(band.settings, sample_rate_hz, channel_count);
        }
    }

    /// Number of bands.
    pub fn band_count(&self) -> usize {
        self.bands.len()
    }

    /// The crossover frequencies, ascending.
    pub fn crossovers_hz(&self) -> &[f64] {
        &self.crossovers_hz
    }

    /// Settings of `band` (0 = lowest).
    ///
    /// # Panics
    /// If `band >= band_count()`.
    pub fn band_settings(&self, band: usize) -> &CompressorSettings {
        &self.bands[band].settings
    }

    /// Changes the settings of `band` without resetting its envelope (no allocation).
    ///
    /// # Panics
    /// If `band >= band_count()` or the settings are out of range.
    pub fn set_band_settings(&mut self, band: usize, settings: CompressorSettings) {
        self.bands[band].set_settings(settings, self.sample_rate_hz);
    }

    /// Current gain reduction of `band`, dB (≥ 0; make-up not included).
    ///
    /// # Panics
    /// If `band >= band_count()`.
    pub fn band_gain_reduction_db(&self, band: usize) -> f64 {
        self.bands[band].reduction_db
    }

    /// Maximum and mean gain reduction of `band` since the last reset or prepare.
    ///
    /// # Panics
    /// If `band >= band_count()`.
    pub fn band_gain_reduction_stats(&self, band: usize) -> GainReductionStats {
        self.bands[band].stats()
    }

    /// Clears every band's statistics, keeping the envelopes and filters running.
    pub fn reset_stats(&mut self) {
        self.bands.iter_mut().for_each(GainEnvelope::reset_stats);
    }
}

impl Processor for MultibandCompressor {
    fn prepare(&mut self, sample_rate_hz: u32, _max_block_frames: usize, channel_count: usize) {
        self.allocate(f64::from(sample_rate_hz), channel_count);
    }

    fn reset(&mut self) {
        self.splitters.iter_mut().for_each(BandSplitter::reset);
        self.bands.iter_mut().for_each(GainEnvelope::reset);
    }

    /// Channels beyond the prepared count (a contract violation) pass through untouched.
    fn process(&mut self, block: &mut [&mut [f32]]) {
        let band_count = self.bands.len();
        let channel_count = block.len().min(self.splitters.len());
        let block = &mut block[..channel_count];
        for frame in 0..block_frames(block) {
            for ((splitter, channel), bands) in self
                .splitters
                .iter_mut()
                .zip(block.iter())
                .zip(self.band_samples.chunks_exact_mut(band_count))
            {
                splitter.split_sample(f64::from(channel[frame]), bands);
            }
            let band_samples = &self.band_samples[..channel_count * band_count];
            for (band, (envelope, gain)) in self
                .bands
                .iter_mut()
                .zip(self.band_gains.iter_mut())
                .enumerate()
            {
                *gain =
                    envelope.next_gain(band_samples.iter().skip(band).step_by(band_count).copied());
            }
            for (channel, bands) in block.iter_mut().zip(band_samples.chunks_exact(band_count)) {
                let sum: f64 = bands.iter().zip(&self.band_gains).map(|(x, g)| x * g).sum();
                channel[frame] = sum as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dither::NoiseSource;
    use crate::processor::process_in_blocks;
    use std::f64::consts::TAU;

    const FS: u32 = 48_000;

    fn sine(freq_hz: f64, level_db: f64, frames: usize) -> Vec<f32> {
        let amplitude = db_to_gain(level_db);
        (0..frames)
            .map(|n| (amplitude * (TAU * freq_hz * n as f64 / f64::from(FS)).sin()) as f32)
            .collect()
    }

    fn rms(samples: &[f32]) -> f64 {
        let power: f64 = samples.iter().map(|&x| f64::from(x).powi(2)).sum();
        (power / samples.len() as f64).sqrt()
    }

    fn settings(
        threshold_db: f64,
        ratio: f64,
        knee_db: f64,
        detector: Detector,
    ) -> CompressorSettings {
        CompressorSettings {
            threshold_db,
            ratio,
            knee_db,
            attack_ms: 10.0,
            release_ms: 100.0,
            makeup_db: 0.0,
            detector,
        }
    }

    fn prepared<P: Processor>(mut processor: P, channels: usize) -> P {
        processor.prepare(FS, 48_000, channels);
        processor
    }

    /// Stereo programme with bursts: loud and quiet noise, a sine and silence.
    fn programme(frames: usize) -> Vec<Vec<f32>> {
        let mut noise = NoiseSource::new(7);
        let mut left = Vec::with_capacity(frames);
        let mut right = Vec::with_capacity(frames);
        for n in 0..frames {
            let envelope = match (n / 4_800) % 4 {
                0 => 0.9,
                1 => 0.05,
                2 => 0.0,
                _ => 0.5,
            };
            let tone = 0.3 * (TAU * 220.0 * n as f64 / f64::from(FS)).sin();
            left.push((envelope * (noise.next_uniform() * 2.0) + tone * envelope) as f32);
            right.push((envelope * (noise.next_uniform() * 2.0) - tone * envelope) as f32);
        }
        vec![left, right]
    }

    #[test]
    fn gain_computer_follows_giannoulis_eq_4() {
        let hard = settings(-20.0, 4.0, 0.0, Detector::Peak);
        assert_eq!(static_gain_db(&hard, -40.0), 0.0);
        assert_eq!(static_gain_db(&hard, -20.0), 0.0);
        assert!((static_gain_db(&hard, -8.0) + 9.0).abs() < 1e-12);
        assert_eq!(static_gain_db(&hard, f64::NEG_INFINITY), 0.0);
        assert_eq!(static_gain_db(&hard, f64::NAN), 0.0);

        let soft = settings(-20.0, 4.0, 10.0, Detector::Peak);
        assert_eq!(static_gain_db(&soft, -25.0), 0.0);
        // Centre of the knee: (1/R − 1)·W/8.
        assert!((static_gain_db(&soft, -20.0) + 0.75 * 10.0 / 8.0).abs() < 1e-12);
        // Continuous with matching slope at the upper edge.
        let edge = static_gain_db(&soft, -15.0);
        assert!((edge - static_gain_db(&hard, -15.0)).abs() < 1e-12);
        let slope =
            (static_gain_db(&soft, -15.0 + 1e-6) - static_gain_db(&soft, -15.0 - 1e-6)) / 2e-6;
        assert!((slope + 0.75).abs() < 1e-6);
        // Output level never falls as input rises.
        let mut previous_out = f64::NEG_INFINITY;
        for i in 0..=600 {
            let level_db = -60.0 + 0.1 * f64::from(i);
            let out_db = level_db + static_gain_db(&soft, level_db);
            assert!(out_db >= previous_out);
            previous_out = out_db;
        }
        let limiter = settings(-1.0, f64::INFINITY, 0.0, Detector::Peak);
        assert!((static_gain_db(&limiter, 5.0) + 6.0).abs() < 1e-12);
    }

    /// Steady-state gain of a 1 kHz stereo sine at `level_db` (peak), in dB, measured
    /// from output/input RMS over the last 100 ms of 1.5 s.
    fn measured_static_gain_db(settings: CompressorSettings, level_db: f64) -> f64 {
        let mut compressor = prepared(Compressor::new(settings), 2);
        let input = sine(1_000.0, level_db, 72_000);
        let mut channels = vec![input.clone(), input.clone()];
        process_in_blocks(&mut compressor, &mut channels, 512);
        let tail = input.len() - 4_800..;
        gain_to_db(rms(&channels[0][tail.clone()]) / rms(&input[tail]))
    }

    #[test]
    fn measured_static_curve_matches_the_gain_computer() {
        let mut worst_db: f64 = 0.0;
        for detector in [Detector::Peak, Detector::Rms] {
            for knee_db in [0.0, 12.0] {
                let settings = CompressorSettings {
                    attack_ms: 0.5,
                    release_ms: 1_000.0,
                    ..settings(-30.0, 4.0, knee_db, detector)
                };
                for step in 0..=20 {
                    let level_db = -60.0 + 3.0 * f64::from(step);
                    let detected_db = match detector {
                        Detector::Peak => level_db,
                        Detector::Rms => level_db - 3.010_3,
                    };
                    let expected_db = static_gain_db(&settings, detected_db);
                    let measured_db = measured_static_gain_db(settings, level_db);
                    worst_db = worst_db.max((measured_db - expected_db).abs());
                    assert!(
                        (measured_db - expected_db).abs() < 0.1,
                        "{detector:?} knee {knee_db} at {level_db} dB: {measured_db} vs {expected_db}"
                    );
                }
            }
        }
        println!("static curve: worst error {worst_db:.4} dB");
    }

    /// Gain reduction in dB at every frame for a 1 kHz square wave (constant |x|) that
    /// steps from `low_db` to `high_db` at 0.1 s and back at `back_s`.
    fn step_response_db(
        settings: CompressorSettings,
        low_db: f64,
        high_db: f64,
        back_s: f64,
        total_s: f64,
    ) -> Vec<f64> {
        let fs = f64::from(FS);
        let frames = (total_s * fs) as usize;
        let input: Vec<f32> = (0..frames)
            .map(|n| {
                let t = n as f64 / fs;
                let level_db = if (0.1..back_s).contains(&t) {
                    high_db
                } else {
                    low_db
                };
                let sign = if (n / 24) % 2 == 0 { 1.0 } else { -1.0 };
                (sign * db_to_gain(level_db)) as f32
            })
            .collect();
        let mut compressor = prepared(Compressor::new(settings), 1);
        let mut channels = vec![input.clone()];
        process_in_blocks(&mut compressor, &mut channels, 256);
        input
            .iter()
            .zip(&channels[0])
            .map(|(&x, &y)| -gain_to_db(f64::from(y) / f64::from(x)))
            .collect()
    }

    #[test]
    fn attack_and_release_reach_63_percent_at_their_time_constants() {
        let fs = f64::from(FS);
        let mut worst_relative: f64 = 0.0;
        for (attack_ms, release_ms) in [(1.0, 50.0), (10.0, 200.0), (50.0, 1_000.0)] {
            let settings = CompressorSettings {
                attack_ms,
                release_ms,
                ..settings(-30.0, 4.0, 0.0, Detector::Peak)
            };
            let back_s = 0.1 + 12.0 * attack_ms / 1_000.0;
            let reduction = step_response_db(
                settings,
                -50.0,
                -10.0,
                back_s,
                back_s + 8.0 * release_ms / 1_000.0,
            );
            let final_db = -static_gain_db(&settings, -10.0);
            let step_up = (0.1 * fs) as usize;
            let step_down = (back_s * fs).ceil() as usize;
            assert!((reduction[step_down - 1] - final_db).abs() < 1e-3);
            assert!(reduction[reduction.len() - 1] < 1e-2);
            let attack_frames = reduction[step_up..]
                .iter()
                .position(|&r| r >= (1.0 - (-1f64).exp()) * final_db)
                .unwrap();
            let release_frames = reduction[step_down..]
                .iter()
                .position(|&r| r <= (-1f64).exp() * final_db)
                .unwrap();
            // `position` counts from the first frame at the new level, which already moved.
            let measured_attack_ms = (attack_frames + 1) as f64 / fs * 1_000.0;
            let measured_release_ms = (release_frames + 1) as f64 / fs * 1_000.0;
            for (measured, nominal) in [
                (measured_attack_ms, attack_ms),
                (measured_release_ms, release_ms),
            ] {
                let relative = (measured - nominal).abs() / nominal;
                worst_relative = worst_relative.max(relative);
                assert!(relative < 0.15, "{measured} ms vs {nominal} ms");
            }
        }
        println!(
            "time constants: worst relative error {:.4} %",
            worst_relative * 100.0
        );
    }

    #[test]
    fn ratio_one_or_unreached_threshold_is_a_bit_exact_bypass() {
        let cases = [
            settings(-60.0, 1.0, 10.0, Detector::Peak),
            settings(-60.0, 1.0, 0.0, Detector::Rms),
            settings(30.0, 8.0, 6.0, Detector::Peak),
            settings(30.0, 8.0, 6.0, Detector::Rms),
        ];
        for settings in cases {
            let original = programme(48_000);
            let mut loud = original.clone();
            loud.iter_mut().flatten().for_each(|x| *x *= 2.0);
            for input in [original, loud] {
                let mut output = input.clone();
                let mut compressor = prepared(Compressor::new(settings), 2);
                process_in_blocks(&mut compressor, &mut output, 333);
                assert!(input
                    .iter()
                    .flatten()
                    .zip(output.iter().flatten())
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
                assert_eq!(compressor.gain_reduction_stats().max_db, 0.0);
            }
        }
        // Make-up alone is one exact multiplication.
        let mut compressor = prepared(
            Compressor::new(CompressorSettings {
                makeup_db: 6.0,
                ..settings(-60.0, 1.0, 0.0, Detector::Peak)
            }),
            1,
        );
        let input = sine(440.0, -3.0, 1_000);
        let mut output = vec![input.clone()];
        process_in_blocks(&mut compressor, &mut output, 64);
        for (&x, &y) in input.iter().zip(&output[0]) {
            assert_eq!(y, (f64::from(x) * db_to_gain(6.0)) as f32);
        }
    }

    #[test]
    fn release_returns_to_bit_exact_unity() {
        let settings = CompressorSettings {
            release_ms: 20.0,
            ..settings(-20.0, 4.0, 0.0, Detector::Peak)
        };
        let mut compressor = prepared(Compressor::new(settings), 1);
        let mut loud = sine(100.0, 0.0, 4_800);
        compressor.process(&mut [&mut loud[..]]);
        assert!(compressor.gain_reduction_db() > 10.0);
        let quiet = sine(100.0, -40.0, 48_000);
        let mut output = quiet.clone();
        compressor.process(&mut [&mut output[..]]);
        assert_eq!(compressor.gain_reduction_db(), 0.0);
        assert_eq!(output[40_000..], quiet[40_000..]);
    }

    fn multiband(ratio: f64, threshold_db: f64) -> MultibandCompressor {
        let band = settings(threshold_db, ratio, 6.0, Detector::Peak);
        MultibandCompressor::new(vec![120.0, 1_000.0, 5_000.0], vec![band; 4])
    }

    #[test]
    fn multiband_at_ratio_one_is_flat() {
        let mut worst_db: f64 = 0.0;
        for sample_rate_hz in [44_100, 48_000] {
            for mut compressor in [multiband(1.0, -60.0), multiband(4.0, 20.0)] {
                compressor.prepare(sample_rate_hz, 1 << 15, 2);
                let mut channels = vec![vec![0.0f32; 1 << 15]; 2];
                channels[0][0] = 1.0;
                channels[1][0] = 0.5;
                process_in_blocks(&mut compressor, &mut channels, 1_024);
                let fs = f64::from(sample_rate_hz);
                for (channel, scale) in channels.iter().zip([1.0, 2.0]) {
                    let mut f = 20.0;
                    while f <= 20_000.0 {
                        let w = TAU * f / fs;
                        let (mut re, mut im) = (0.0, 0.0);
                        for (n, &h) in channel.iter().enumerate() {
                            let (s, c) = (w * n as f64).sin_cos();
                            re += f64::from(h) * c;
                            im -= f64::from(h) * s;
                        }
                        let error_db = gain_to_db(scale * re.hypot(im));
                        worst_db = worst_db.max(error_db.abs());
                        assert!(error_db.abs() < 0.1, "{f} Hz at {fs}: {error_db} dB");
                        f *= 2f64.powf(1.0 / 12.0);
                    }
                }
            }
        }
        println!("multiband at ratio 1: worst deviation {worst_db:.2e} dB");
    }

    #[test]
    fn output_does_not_depend_on_block_size_and_is_deterministic() {
        let input = programme(96_000);
        let processors: Vec<Box<dyn Fn() -> Box<dyn Processor>>> = vec![
            Box::new(|| Box::new(Compressor::new(settings(-24.0, 4.0, 6.0, Detector::Peak)))),
            Box::new(|| {
                Box::new(Compressor::new(CompressorSettings {
                    attack_ms: 0.0,
                    ..settings(-30.0, 10.0, 0.0, Detector::Rms)
                }))
            }),
            Box::new(|| Box::new(multiband(3.0, -24.0))),
        ];
        for make in processors {
            let mut reference = input.clone();
            let mut processor = make();
            processor.prepare(FS, 8_192, 2);
            process_in_blocks(processor.as_mut(), &mut reference, 8_192);
            assert_ne!(reference, input);
            for block_frames in [1, 3, 64, 480, 1_000] {
                let mut output = input.clone();
                let mut processor = make();
                processor.prepare(FS, 8_192, 2);
                process_in_blocks(processor.as_mut(), &mut output, block_frames);
                assert_eq!(output, reference, "block of {block_frames}");
            }
            // Reset restarts from the same state.
            let mut output = input.clone();
            processor.reset();
            process_in_blocks(processor.as_mut(), &mut output, 77);
            assert_eq!(output, reference);
        }
    }

    #[test]
    fn sidechain_key_drives_the_gain() {
        // Fast attack, slow release: the steady reduction on a sine reaches the static curve.
        let settings = CompressorSettings {
            attack_ms: 0.5,
            release_ms: 1_000.0,
            ..settings(-20.0, 4.0, 0.0, Detector::Peak)
        };
        let frames = 48_000;
        let programme = sine(440.0, -40.0, frames);
        let kick = sine(60.0, -6.0, frames);
        let silence = vec![0.0f32; frames];

        // Loud mono key, quiet stereo programme: ducked by the static gain of the key.
        let mut compressor = prepared(Compressor::new(settings), 2);
        let (mut left, mut right) = (programme.clone(), programme.clone());
        compressor.process_with_key(&mut [&mut left, &mut right], &[&kick]);
        let expected_db = static_gain_db(&settings, -6.0);
        assert!((compressor.gain_reduction_db() + expected_db).abs() < 0.5);
        let tail = frames - 4_800..;
        let ducked_db = gain_to_db(rms(&left[tail.clone()]) / rms(&programme[tail.clone()]));
        assert!(
            (ducked_db - expected_db).abs() < 0.5,
            "{ducked_db} vs {expected_db}"
        );
        assert_eq!(left, right);

        // Silent key (any channel count, even shorter than the block): untouched programme.
        let loud = sine(440.0, 0.0, frames);
        for key in [
            vec![&silence[..]],
            vec![&silence[..]; 3],
            vec![&silence[..100]],
            vec![],
        ] {
            let mut compressor = prepared(Compressor::new(settings), 2);
            let (mut left, mut right) = (loud.clone(), loud.clone());
            compressor.process_with_key(&mut [&mut left, &mut right], &key);
            assert_eq!(left, loud);
            assert_eq!(right, loud);
            assert_eq!(compressor.gain_reduction_stats().max_db, 0.0);
        }

        // The RMS detector accepts a key with more channels than prepared.
        let rms_settings = CompressorSettings {
            detector: Detector::Rms,
            ..settings
        };
        let mut compressor = prepared(Compressor::new(rms_settings), 1);
        let mut mono = programme.clone();
        compressor.process_with_key(&mut [&mut mono], &[&silence, &silence, &kick]);
        let expected_db = static_gain_db(&rms_settings, -6.0 - 3.0103);
        assert!((compressor.gain_reduction_db() + expected_db).abs() < 0.5);
    }

    #[test]
    fn multiband_compresses_only_the_loud_band() {
        let frames = 96_000;
        let low = sine(60.0, -6.0, frames);
        let high = sine(5_000.0, -40.0, frames);
        let input: Vec<f32> = low.iter().zip(&high).map(|(a, b)| a + b).collect();
        let band = CompressorSettings {
            attack_ms: 0.5,
            release_ms: 1_000.0,
            ..settings(-20.0, 4.0, 0.0, Detector::Peak)
        };
        let mut compressor = prepared(
            MultibandCompressor::new(vec![200.0, 2_000.0], vec![band; 3]),
            2,
        );
        let mut channels = vec![input.clone(), input];
        process_in_blocks(&mut compressor, &mut channels, 512);
        assert_eq!(compressor.band_count(), 3);
        assert_eq!(compressor.crossovers_hz(), &[200.0, 2_000.0]);
        // 60 Hz is 0.002 dB down in the low band's LR4 low-pass at 200 Hz.
        let expected_db = static_gain_db(&band, -6.0);
        assert!((compressor.band_gain_reduction_db(0) + expected_db).abs() < 0.3);
        assert_eq!(compressor.band_gain_reduction_stats(2).max_db, 0.0);
        let stats = compressor.band_gain_reduction_stats(0);
        assert_eq!(stats.frames, frames as u64);
        assert!(stats.max_db >= stats.mean_db && stats.mean_db > 5.0);

        // Level of each tone in the output, by correlation over the last 0.5 s.
        let tone_level_db = |channel: &[f32], freq_hz: f64| {
            let range = frames / 2..frames;
            let (mut re, mut im) = (0.0, 0.0);
            for n in range.clone() {
                let (s, c) = (TAU * freq_hz * n as f64 / f64::from(FS)).sin_cos();
                re += f64::from(channel[n]) * c;
                im += f64::from(channel[n]) * s;
            }
            gain_to_db(2.0 * re.hypot(im) / range.len() as f64)
        };
        assert!((tone_level_db(&channels[0], 5_000.0) + 40.0).abs() < 0.05);
        let low_out_db = tone_level_db(&channels[0], 60.0);
        assert!(
            (low_out_db - (-6.0 + expected_db)).abs() < 0.5,
            "{low_out_db}"
        );

        compressor.reset_stats();
        assert_eq!(
            compressor.band_gain_reduction_stats(0),
            GainReductionStats::default()
        );
        compressor.reset();
        assert_eq!(compressor.band_gain_reduction_db(0), 0.0);
    }

    #[test]
    fn settings_changes_and_defaults() {
        let defaults = CompressorSettings::default();
        assert_eq!(defaults.detector, Detector::Peak);
        let mut compressor = Compressor::new(defaults);
        compressor.set_settings(CompressorSettings {
            ratio: 8.0,
            ..defaults
        });
        assert_eq!(compressor.settings().ratio, 8.0);
        let mut multiband = MultibandCompressor::new(vec![300.0], vec![defaults; 2]);
        multiband.set_band_settings(
            1,
            CompressorSettings {
                threshold_db: -30.0,
                ..defaults
            },
        );
        assert_eq!(multiband.band_settings(1).threshold_db, -30.0);
        assert_eq!(compressor.latency_frames(), 0);
        assert_eq!(multiband.latency_frames(), 0);
    }

    #[test]
    #[should_panic(expected = "one band more than crossovers")]
    fn multiband_rejects_mismatched_band_count() {
        let _ =
            MultibandCompressor::new(vec![100.0, 1_000.0], vec![CompressorSettings::default(); 2]);
    }
}
