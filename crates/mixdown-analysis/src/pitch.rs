//! Voicing and pitch of a stem, streaming: how much of it is periodic (a voice, a
//! bass line, a lead) rather than noise (hats, cymbals), where its pitch sits and how
//! far it moves. A held chord is periodic too, at the period common to its notes: it
//! reads as voiced, at a pitch below the notes played (a C major triad at C2).
//!
//! The method is YIN (de Cheveigné & Kawahara, "YIN, a fundamental frequency
//! estimator for speech and music", JASA 111(4), 2002), steps 1–5: correlation,
//! difference function, cumulative-mean-normalised difference, absolute threshold,
//! parabolic interpolation (step 6, the best local estimate, is left out: only the
//! distribution of pitches over the whole stem is wanted). To stay cheap next to the
//! other meters it runs on the mono downmix decimated to about 9 kHz (harmonics up to
//! ≈ 2 kHz are plenty to find a fundamental), computes the difference function
//! through FFT correlation, and skips frames far below the loudest one seen so far.
//! Memory is bounded: per frame only a histogram bin is counted.

use mixdown_dsp::oversampling::kaiser_lowpass;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// Rate the downmix is decimated to (nearest integer factor), Hz.
const ANALYSIS_RATE_HZ: f64 = 9_000.0;
/// Lowest pitch searched, Hz: the low E of a bass guitar is 41.2 Hz. It also sets
/// YIN's integration window (one longest period, 25 ms).
pub const PITCH_MIN_HZ: f64 = 40.0;
/// Highest pitch searched, Hz: above a soprano's top and most lead lines.
pub const PITCH_MAX_HZ: f64 = 1_600.0;
/// Hop between analysis frames, ms (each frame is ≈ 50 ms: window plus longest lag; frames
/// barely overlap, which is enough for statistics over a whole stem).
pub const HOP_MS: f64 = 40.0;
/// YIN's absolute threshold: the first dip of the normalised difference below it is
/// the period; with none, the frame is unvoiced (the paper uses 0.1; a little
/// more tolerates the breathiness and vibrato of real parts).
const YIN_THRESHOLD: f64 = 0.15;
/// Frames more than this below the loudest frame so far are not analysed, dB.
const GATE_RANGE_DB: f64 = 30.0;
/// Frames quieter than this (mean square re full scale) are never analysed, dBFS.
const GATE_FLOOR_DBFS: f64 = -60.0;
/// Width of a bin of the pitch histogram, cents (0.3 % in frequency).
const HISTOGRAM_CENTS: f64 = 5.0;
/// Anti-aliasing FIR taps per phase (per unit of decimation factor), which is also its
/// cost in multiplies per input sample. Pitch needs periodicity, not a flat band:
/// with Kaiser β = 2.5 (≈ 31 dB stop band) the transition band is ≈ 0.55 of the
/// decimated rate wide around a −6 dB point at 0.4 of it, so what aliases below
/// ≈ 0.3 of the decimated rate (2.6 kHz at 44.1 kHz, where the harmonics that matter
/// lie) is ≥ 31 dB down, on top of the fall of music's spectrum above a few kHz.
const FIR_TAPS_PER_PHASE: usize = 3;
/// Kaiser shape of the anti-aliasing FIR.
const FIR_BETA: f64 = 2.5;
/// −6 dB point of the anti-aliasing FIR, share of the decimated rate.
const FIR_CUTOFF_RATIO: f64 = 0.4;
/// Decimated samples computed together: four SSE registers of independent sums, held
/// in registers across all the taps.
const TILE: usize = 16;
/// Input groups (of `factor` samples) decimated per pass; bounds the buffers.
const CHUNK_GROUPS: usize = 1024;

/// What [`PitchTracker`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PitchSummary {
    /// Share of the analysed frames (those passing the level gate) that are periodic,
    /// 0…1; 0 when no frame passed.
    pub voiced_fraction: f64,
    /// Median fundamental frequency of the voiced frames, Hz (to 5 cents).
    pub median_pitch_hz: Option<f64>,
    /// Spread of the voiced frames' pitch, 10th to 90th percentile, semitones: 0 for a
    /// held note, ≈ 1.9·d for vibrato of ±d semitones, 0.8 of the span of an even glide.
    pub pitch_range_semitones: Option<f64>,
}

/// Streaming FIR decimation by an integer factor in polyphase form (Crochiere &
/// Rabiner, "Multirate Digital Signal Processing", 1983, §3.3): the input is dealt
/// into `factor` phases and each output is Σ_p Σ_q h[q·factor + p]·x_p[m + q], computed
/// for a whole chunk of outputs tap by tap (vectorised across outputs). Each output
/// sums its taps in a fixed order, so the result does not depend on the block sizes.
struct Decimator {
    factor: usize,
    /// Per phase p, the taps h[q·factor + p] for q = 0…[`FIR_TAPS_PER_PHASE`].
    phase_taps: Vec<Vec<f32>>,
    /// Per phase p, the samples x[n·factor + p] from the oldest one still needed.
    phases: Vec<Vec<f32>>,
    /// Samples of an incomplete group of `factor`.
    partial: Vec<f32>,
    output: Vec<f32>,
}

impl Decimator {
    fn new(factor: usize) -> Self {
        let phase_taps = if factor == 1 {
            vec![vec![1.0]]
        } else {
            let taps = kaiser_lowpass(
                FIR_TAPS_PER_PHASE * factor,
                FIR_CUTOFF_RATIO / factor as f64,
                FIR_BETA,
            );
            (0..factor)
                .map(|p| {
                    taps.iter()
                        .skip(p)
                        .step_by(factor)
                        .map(|&h| h as f32)
                        .collect()
                })
                .collect()
        };
        Self {
            factor,
            phase_taps,
            phases: vec![Vec::new(); factor],
            partial: Vec::with_capacity(factor),
            output: Vec::new(),
        }
    }

    /// Takes `samples`, calls `emit` with the decimated samples they complete.
    fn push(&mut self, mut samples: &[f32], emit: &mut dyn FnMut(&[f32])) {
        if !self.partial.is_empty() {
            let take = (self.factor - self.partial.len()).min(samples.len());
            self.partial.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.partial.len() < self.factor {
                return;
            }
            for (phase, &x) in self.phases.iter_mut().zip(&self.partial) {
                phase.push(x);
            }
            self.partial.clear();
            self.filter(emit);
        }
        let groups = samples.len() / self.factor;
        for chunk in samples[..groups * self.factor].chunks(CHUNK_GROUPS * self.factor) {
            for (p, phase) in self.phases.iter_mut().enumerate() {
                phase.extend(chunk[p..].iter().step_by(self.factor));
            }
            self.filter(emit);
        }
        self.partial
            .extend_from_slice(&samples[groups * self.factor..]);
    }

    /// Emits every output the phases hold the samples for, and drops the samples no
    /// output needs any more.
    fn filter(&mut self, emit: &mut dyn FnMut(&[f32])) {
        let taps_per_phase = self.phase_taps[0].len();
        let held = self.phases[0].len();
        if held < taps_per_phase {
            return;
        }
        let count = held + 1 - taps_per_phase;
        self.output.clear();
        self.output.resize(count, 0.0);
        let mut tiles = self.output.chunks_exact_mut(TILE);
        let mut start = 0;
        for tile in &mut tiles {
            let mut sums = [0.0f32; TILE];
            accumulate(&self.phase_taps, &self.phases, start, &mut sums);
            tile.copy_from_slice(&sums);
            start += TILE;
        }
        let rest = tiles.into_remainder();
        accumulate(&self.phase_taps, &self.phases, start, rest);
        for phase in &mut self.phases {
            phase.drain(..count);
        }
        emit(&self.output);
    }
}

/// Adds to `sums[i]` the FIR output `start + i` (all phases, taps in a fixed order:
/// the same sums whether a sample falls in a full tile or in the last one).
#[inline]
fn accumulate(phase_taps: &[Vec<f32>], phases: &[Vec<f32>], start: usize, sums: &mut [f32]) {
    let len = sums.len();
    for (taps, phase) in phase_taps.iter().zip(phases) {
        for (q, &h) in taps.iter().enumerate() {
            let x = &phase[start + q..start + q + len];
            for (sum, &x) in sums.iter_mut().zip(x) {
                *sum += h * x;
            }
        }
    }
}

/// Streaming YIN over a mono signal: push blocks of any size, then finish. The result
/// does not depend on the block sizes.
pub struct PitchTracker {
    decimator: Decimator,
    analysis: FrameAnalysis,
}

/// The frame-by-frame part of [`PitchTracker`], fed by its decimator.
struct FrameAnalysis {
    analysis_rate_hz: f64,
    /// Decimated samples: the next frame starts at `decimated[0]`.
    decimated: Vec<f32>,
    /// YIN integration window, decimated samples (one longest period).
    window_len: usize,
    /// Shortest and longest lag searched, decimated samples.
    min_lag: usize,
    max_lag: usize,
    /// Window plus longest lag plus one (for the interpolation's right neighbour).
    frame_len: usize,
    hop_len: usize,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    window_in: Vec<f32>,
    frame_in: Vec<f32>,
    window_bins: Vec<Complex<f32>>,
    frame_bins: Vec<Complex<f32>>,
    correlation: Vec<f32>,
    scratch: Vec<Complex<f32>>,
    energy_prefix: Vec<f64>,
    /// d(τ) of the current frame and Σ_{j=1..τ} d(j).
    difference: Vec<f64>,
    cumulative: Vec<f64>,
    loudest_power: f64,
    analysed_frames: u64,
    voiced_frames: u64,
    /// Voiced frames per [`HISTOGRAM_CENTS`] bin above [`PITCH_MIN_HZ`].
    histogram: Vec<u64>,
}

impl PitchTracker {
    /// A tracker for a signal at `sample_rate_hz`.
    pub fn new(sample_rate_hz: u32) -> Self {
        let rate_hz = f64::from(sample_rate_hz);
        let decimation = ((rate_hz / ANALYSIS_RATE_HZ).round() as usize).max(1);
        let analysis_rate_hz = rate_hz / decimation as f64;
        let max_lag = (analysis_rate_hz / PITCH_MIN_HZ).ceil() as usize;
        let min_lag = ((analysis_rate_hz / PITCH_MAX_HZ).floor() as usize).max(2);
        let window_len = max_lag;
        let frame_len = window_len + max_lag + 1;
        // Lags up to max_lag + 1 of a linear correlation of the window with the frame:
        // a transform of frame_len points does not wrap them around.
        let fft_len = frame_len.next_power_of_two();
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(fft_len);
        let inverse = planner.plan_fft_inverse(fft_len);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        let bins = (1200.0 * (PITCH_MAX_HZ / PITCH_MIN_HZ).log2() / HISTOGRAM_CENTS).ceil();
        Self {
            decimator: Decimator::new(decimation),
            analysis: FrameAnalysis {
                analysis_rate_hz,
                decimated: Vec::with_capacity(frame_len),
                window_len,
                min_lag,
                max_lag,
                frame_len,
                hop_len: ((analysis_rate_hz * HOP_MS / 1000.0).round() as usize).max(1),
                window_in: forward.make_input_vec(),
                frame_in: forward.make_input_vec(),
                window_bins: forward.make_output_vec(),
                frame_bins: forward.make_output_vec(),
                correlation: inverse.make_output_vec(),
                scratch: vec![Complex::default(); scratch_len],
                forward,
                inverse,
                energy_prefix: vec![0.0; frame_len + 1],
                difference: vec![0.0; max_lag + 2],
                cumulative: vec![0.0; max_lag + 2],
                loudest_power: 0.0,
                analysed_frames: 0,
                voiced_frames: 0,
                histogram: vec![0; bins as usize + 1],
            },
        }
    }

    /// Adds mono samples.
    pub fn push(&mut self, samples: &[f32]) {
        let analysis = &mut self.analysis;
        self.decimator
            .push(samples, &mut |decimated| analysis.push(decimated));
    }

    /// What was found.
    pub fn finish(self) -> PitchSummary {
        self.analysis.finish()
    }
}

impl FrameAnalysis {
    /// Adds decimated samples, analysing every frame they complete.
    fn push(&mut self, mut samples: &[f32]) {
        while !samples.is_empty() {
            let take = (self.frame_len - self.decimated.len()).min(samples.len());
            self.decimated.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.decimated.len() == self.frame_len {
                self.analyse_frame();
                self.decimated.drain(..self.hop_len.min(self.frame_len));
            }
        }
    }

    /// YIN on `decimated[..frame_len]`: counts the frame if it passes the level gate,
    /// and its pitch if it is voiced.
    fn analyse_frame(&mut self) {
        let frame = &self.decimated[..self.frame_len];
        self.energy_prefix[0] = 0.0;
        for (i, &x) in frame.iter().enumerate() {
            self.energy_prefix[i + 1] = self.energy_prefix[i] + f64::from(x) * f64::from(x);
        }
        let power = self.energy_prefix[self.frame_len] / self.frame_len as f64;
        self.loudest_power = self.loudest_power.max(power);
        let floor = 10f64.powf(GATE_FLOOR_DBFS / 10.0);
        let relative = self.loudest_power * 10f64.powf(-GATE_RANGE_DB / 10.0);
        if power < floor || power < relative {
            return;
        }
        self.analysed_frames += 1;
        if let Some(lag) = self.period_lag() {
            let pitch_hz = self.analysis_rate_hz / lag;
            if (PITCH_MIN_HZ..=PITCH_MAX_HZ).contains(&pitch_hz) {
                self.voiced_frames += 1;
                let cents = 1200.0 * (pitch_hz / PITCH_MIN_HZ).log2();
                let bin = ((cents / HISTOGRAM_CENTS) as usize).min(self.histogram.len() - 1);
                self.histogram[bin] += 1;
            }
        }
    }

    /// The period of the current frame in decimated samples (fractional), if a dip of
    /// the normalised difference function falls below the threshold.
    fn period_lag(&mut self) -> Option<f64> {
        let frame = &self.decimated[..self.frame_len];
        let w = self.window_len;
        // Step 2, the difference function, in the form of eq. 7 on the correlation of
        // step 1: d(τ) = e(0) + e(τ) − 2·r(τ), with
        // r(τ) = Σ_{j<W} x_j·x_{j+τ} and e(τ) = Σ_{j<W} x_{j+τ}², by FFT as
        // conj(FFT(window))·FFT(frame).
        self.window_in.fill(0.0);
        self.window_in[..w].copy_from_slice(&frame[..w]);
        self.frame_in.fill(0.0);
        self.frame_in[..self.frame_len].copy_from_slice(frame);
        self.forward
            .process_with_scratch(
                &mut self.window_in,
                &mut self.window_bins,
                &mut self.scratch,
            )
            .expect("buffers come from the planner");
        self.forward
            .process_with_scratch(&mut self.frame_in, &mut self.frame_bins, &mut self.scratch)
            .expect("buffers come from the planner");
        for (f, w) in self.frame_bins.iter_mut().zip(&self.window_bins) {
            *f *= w.conj();
        }
        // Both spectra are of real signals: the DC and Nyquist products are real.
        let last = self.frame_bins.len() - 1;
        self.frame_bins[0].im = 0.0;
        self.frame_bins[last].im = 0.0;
        self.inverse
            .process_with_scratch(
                &mut self.frame_bins,
                &mut self.correlation,
                &mut self.scratch,
            )
            .expect("buffers come from the planner");
        let scale = 1.0 / self.correlation.len() as f64;
        let energy = |lag: usize| self.energy_prefix[lag + w] - self.energy_prefix[lag];
        let e0 = energy(0);
        // Step 3 (eq. 8): d'(τ) = d(τ) / ((1/τ)·Σ_{j=1..τ} d(j)), d'(0) = 1; the
        // threshold test is made as d(τ)·τ < θ·Σ, without a division per lag.
        let mut running_sum = 0.0;
        for lag in 1..=self.max_lag + 1 {
            let difference =
                (e0 + energy(lag) - 2.0 * f64::from(self.correlation[lag]) * scale).max(0.0);
            running_sum += difference;
            self.difference[lag] = difference;
            self.cumulative[lag] = running_sum;
        }
        let (d, sum) = (&self.difference, &self.cumulative);
        let cmndf = |lag: usize| {
            if sum[lag] > 0.0 {
                d[lag] * lag as f64 / sum[lag]
            } else {
                1.0
            }
        };
        // Step 4: the first lag under the absolute threshold, then down to its dip's bottom.
        let mut lag = (self.min_lag..=self.max_lag)
            .find(|&lag| d[lag] * (lag as f64) < YIN_THRESHOLD * sum[lag])?;
        while lag < self.max_lag && cmndf(lag + 1) < cmndf(lag) {
            lag += 1;
        }
        // Step 5: parabolic interpolation of the dip through its neighbours.
        let (left, centre, right) = (cmndf(lag - 1), cmndf(lag), cmndf(lag + 1));
        let curvature = left - 2.0 * centre + right;
        let shift = if curvature > 0.0 {
            (0.5 * (left - right) / curvature).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        Some(lag as f64 + shift)
    }

    /// What was found.
    fn finish(self) -> PitchSummary {
        let voiced_fraction = if self.analysed_frames > 0 {
            self.voiced_frames as f64 / self.analysed_frames as f64
        } else {
            0.0
        };
        // Nearest-rank percentiles of the voiced pitches, as bin centres in cents.
        let percentile_cents = |q: f64| -> Option<f64> {
            let count = self.voiced_frames;
            if count == 0 {
                return None;
            }
            let rank = ((count - 1) as f64 * q).round() as u64;
            let mut seen = 0;
            self.histogram
                .iter()
                .position(|&n| {
                    seen += n;
                    seen > rank
                })
                .map(|bin| (bin as f64 + 0.5) * HISTOGRAM_CENTS)
        };
        PitchSummary {
            voiced_fraction,
            median_pitch_hz: percentile_cents(0.5)
                .map(|cents| PITCH_MIN_HZ * 2f64.powf(cents / 1200.0)),
            pitch_range_semitones: percentile_cents(0.1)
                .zip(percentile_cents(0.9))
                .map(|(low, high)| (high - low) / 100.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixdown_dsp::dither::NoiseSource;
    use std::f64::consts::TAU;

    /// A tone whose instantaneous frequency is `pitch_hz(t)`, with harmonics of
    /// amplitude 1/k up to 4 kHz (a sawtooth-like, voice-like spectrum).
    fn tone(rate_hz: u32, seconds: f64, pitch_hz: impl Fn(f64) -> f64) -> Vec<f32> {
        let rate = f64::from(rate_hz);
        let mut phase = 0.0;
        (0..(seconds * rate) as usize)
            .map(|i| {
                let f0 = pitch_hz(i as f64 / rate);
                let sample: f64 = (1..=40)
                    .take_while(|&k| f64::from(k) * f0 < 4_000.0)
                    .map(|k| (f64::from(k) * phase).sin() / f64::from(k))
                    .sum();
                phase = (phase + TAU * f0 / rate) % (TAU * 840.0);
                (0.2 * sample) as f32
            })
            .collect()
    }

    fn track(rate_hz: u32, signal: &[f32], block: usize) -> PitchSummary {
        let mut tracker = PitchTracker::new(rate_hz);
        for chunk in signal.chunks(block) {
            tracker.push(chunk);
        }
        tracker.finish()
    }

    fn noise(rate_hz: u32, seconds: f64) -> Vec<f32> {
        let mut source = NoiseSource::new(7);
        (0..(seconds * f64::from(rate_hz)) as usize)
            .map(|_| (source.next_uniform() * 0.5) as f32)
            .collect()
    }

    #[test]
    fn harmonic_tones_read_their_fundamental() {
        for rate_hz in [44_100, 48_000, 96_000] {
            for f0_hz in [55.0, 110.0, 220.0, 440.0, 880.0] {
                let found = track(rate_hz, &tone(rate_hz, 3.0, |_| f0_hz), 4096);
                let median = found.median_pitch_hz.unwrap();
                assert!(
                    (median / f0_hz - 1.0).abs() < 0.01,
                    "{rate_hz} Hz, {f0_hz}: {median}"
                );
                assert!(found.voiced_fraction > 0.98, "{f0_hz}: {found:?}");
                assert!(found.pitch_range_semitones.unwrap() <= 0.1, "{found:?}");
            }
        }
    }

    #[test]
    fn white_noise_is_unvoiced_and_silence_has_no_pitch() {
        let found = track(44_100, &noise(44_100, 5.0), 4096);
        assert!(found.voiced_fraction < 0.05, "{found:?}");
        let silence = track(44_100, &vec![0.0; 44_100 * 2], 4096);
        assert_eq!(
            silence,
            PitchSummary {
                voiced_fraction: 0.0,
                median_pitch_hz: None,
                pitch_range_semitones: None,
            }
        );
    }

    #[test]
    fn a_glide_and_a_vibrato_spread_over_their_analytic_range() {
        // One octave up, even in semitones over 10 s: the 10th-to-90th percentile
        // spread is 0.8 of the 12 semitones, the median the geometric midpoint.
        let glide = track(
            44_100,
            &tone(44_100, 10.0, |t| 220.0 * 2f64.powf(t / 10.0)),
            4096,
        );
        let range = glide.pitch_range_semitones.unwrap();
        assert!((range - 9.6).abs() < 0.2, "{glide:?}");
        let median = glide.median_pitch_hz.unwrap();
        assert!(
            (median / (220.0 * 2f64.sqrt()) - 1.0).abs() < 0.01,
            "{glide:?}"
        );
        assert!(glide.voiced_fraction > 0.98, "{glide:?}");
        // ±1 semitone of sinusoidal vibrato at 1 Hz (slow enough that a 50 ms frame
        // barely averages it): percentiles 10 and 90 of sin are ∓sin(0.4π).
        let vibrato = track(
            48_000,
            &tone(48_000, 10.0, |t| 330.0 * 2f64.powf((TAU * t).sin() / 12.0)),
            4096,
        );
        let expected = 2.0 * (0.4 * std::f64::consts::PI).sin();
        let range = vibrato.pitch_range_semitones.unwrap();
        assert!((range - expected).abs() < 0.1, "{range} vs {expected}");
        assert!((vibrato.median_pitch_hz.unwrap() / 330.0 - 1.0).abs() < 0.01);
    }

    #[test]
    fn the_result_does_not_depend_on_block_sizes() {
        let mut signal = tone(44_100, 3.0, |t| 150.0 * 2f64.powf(t / 3.0));
        signal.extend(noise(44_100, 1.0));
        signal.extend(vec![0.0; 20_000]);
        signal.extend(tone(44_100, 1.0, |_| 98.0).iter().map(|x| x * 0.1));
        let whole = track(44_100, &signal, signal.len());
        assert!(
            whole.voiced_fraction > 0.5 && whole.voiced_fraction < 0.95,
            "{whole:?}"
        );
        for block in [1, 37, 1_234, 4_096] {
            assert_eq!(track(44_100, &signal, block), whole, "{block}");
        }
    }
}
