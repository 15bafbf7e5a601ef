//! True-peak detection by polyphase FIR oversampling (ITU-R BS.1770-4 Annex 2).
//!
//! BS.1770-4 estimates the peak of the continuous signal by interpolating at ≥ 4× with
//! a low-pass FIR and taking the largest magnitude. This detector does the same with a
//! Kaiser-windowed sinc (Kaiser, "Nonrecursive digital filter design using the
//! I0-sinh window function", ISCAS 1974), then refines each local maximum of the 4×
//! grid with a parabola through it and its two neighbours (Smith & Serra, "PARSHL",
//! ICMC 1987, §"peak interpolation"). Grid quantisation alone would under-read a tone
//! by up to 1 − cos(π·f/(4·fs)), 0.69 dB at Nyquist; the parabola brings that to below
//! 0.01 dB, cheaper than 8× (7 interpolated phases instead of 3).
//!
//! The factor does not depend on the sample rate: the error depends only on the
//! frequency relative to the rate, and the limiter's guarantee is stated relative to it.
//!
//! Accuracy, measured against ideal band-limited 8× interpolation: tones up to
//! 0.45·fs (19.8 kHz at 44.1 kHz) read within ±0.03 dB of their peak. Above that the
//! interpolator's transition band (−6 dB at fs/2, as for every Nyquist filter) makes it
//! under-read; no finite window can do better, because a tone at fs/2 − ε needs ~1/ε
//! samples to tell its amplitude from its sampling phase.

use std::f64::consts::PI;

/// Oversampling factor of the interpolation grid.
pub const OVERSAMPLING_FACTOR: usize = 4;

/// Input taps per polyphase branch; the kernel spans ±`TAPS_PER_PHASE / 2` samples.
pub const TAPS_PER_PHASE: usize = 32;

/// Kaiser window shape: ≈ 50 dB image rejection, so passband ripple and image leakage
/// stay near 0.3 % while the transition band stays narrow (≈ 0.45–0.55·fs).
const KAISER_BETA: f64 = 4.5;

/// Interpolated (non-trivial) phases per input sample; phase 0 is the sample itself.
const PHASES: usize = OVERSAMPLING_FACTOR - 1;

/// Samples processed per internal pass; bounds the scratch buffers.
const CHUNK_FRAMES: usize = 256;

/// Output lanes computed together, so the inner loop vectorises without reordering
/// any sum (results are bit-identical however the input is cut into blocks).
const LANES: usize = 8;

/// Streaming true-peak estimator for one channel.
///
/// For each input sample it yields the largest magnitude of the 4×-oversampled signal
/// (parabolically refined) in that sample's period `[n, n + 1)`, delayed by
/// [`group_delay_frames`](Self::group_delay_frames). `process` does not allocate.
#[derive(Debug, Clone)]
pub struct TruePeakDetector {
    /// Phase-major polyphase coefficients: `coefficients[(p - 1) * TAPS_PER_PHASE + k]`
    /// weights `window[k]` for the point `p / OVERSAMPLING_FACTOR` into the period.
    coefficients: Vec<f32>,
    /// The last `TAPS_PER_PHASE - 1` inputs followed by the current chunk (+ lane padding).
    window: Vec<f32>,
    /// Interpolated values of the current chunk, phase-major (`PHASES × CHUNK_FRAMES`).
    phase_values: Vec<f32>,
    /// Magnitude of the last grid point of the previous period (left neighbour of phase 0).
    previous_last_magnitude: f32,
}

impl Default for TruePeakDetector {
    fn default() -> Self {
        Self::new()
    }
}

/// The Kaiser-windowed sinc kernel at `offset_samples` from its centre (input-rate units).
pub(crate) fn kernel(offset_samples: f64) -> f64 {
    let half_span = (TAPS_PER_PHASE / 2) as f64;
    let u = offset_samples / half_span;
    if u.abs() >= 1.0 {
        return 0.0;
    }
    let sinc = if offset_samples == 0.0 {
        1.0
    } else {
        (PI * offset_samples).sin() / (PI * offset_samples)
    };
    sinc * bessel_i0(KAISER_BETA * (1.0 - u * u).sqrt()) / bessel_i0(KAISER_BETA)
}

/// Modified Bessel function of the first kind, order 0, by its power series.
fn bessel_i0(x: f64) -> f64 {
    let quarter_x2 = x * x / 4.0;
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..50 {
        term *= quarter_x2 / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Peak of the parabola through `(−1, left)`, `(0, centre)`, `(1, right)` when `centre`
/// is a local maximum, else `centre`.
#[inline]
fn refined_peak(left: f32, centre: f32, right: f32) -> f32 {
    let curvature = 2.0 * centre - left - right;
    if centre >= left && centre >= right && curvature > 0.0 {
        let slope = left - right;
        centre + slope * slope / (8.0 * curvature)
    } else {
        centre
    }
}

impl TruePeakDetector {
    /// A detector with cleared state.
    pub fn new() -> Self {
        let mut coefficients = Vec::with_capacity(PHASES * TAPS_PER_PHASE);
        for phase in 1..OVERSAMPLING_FACTOR {
            let position = phase as f64 / OVERSAMPLING_FACTOR as f64;
            // Tap k weights x[m + k + 1 − T/2] for the point m + position.
            let taps: Vec<f64> = (0..TAPS_PER_PHASE)
                .map(|k| kernel(position - (k as f64 + 1.0 - (TAPS_PER_PHASE / 2) as f64)))
                .collect();
            // Unit DC gain per phase, so a constant reads exactly its level.
            let sum: f64 = taps.iter().sum();
            coefficients.extend(taps.iter().map(|t| (t / sum) as f32));
        }
        Self {
            coefficients,
            window: vec![0.0; TAPS_PER_PHASE - 1 + CHUNK_FRAMES + LANES],
            phase_values: vec![0.0; PHASES * CHUNK_FRAMES],
            previous_last_magnitude: 0.0,
        }
    }

    /// Oversampling factor of the interpolation grid.
    pub fn oversampling_factor(&self) -> usize {
        OVERSAMPLING_FACTOR
    }

    /// Delay of the estimates, in input frames: the linear-phase FIR's group delay.
    /// `peaks[i]` describes the period of `input[i - group_delay_frames()]`.
    pub fn group_delay_frames(&self) -> usize {
        TAPS_PER_PHASE / 2
    }

    /// Clears the signal history.
    pub fn reset(&mut self) {
        self.window.fill(0.0);
        self.previous_last_magnitude = 0.0;
    }

    /// Estimates one period per input sample; `peaks` must be as long as `input`.
    pub fn process(&mut self, input: &[f32], peaks: &mut [f32]) {
        assert_eq!(input.len(), peaks.len(), "one peak per input sample");
        for (input, peaks) in input
            .chunks(CHUNK_FRAMES)
            .zip(peaks.chunks_mut(CHUNK_FRAMES))
        {
            self.process_chunk(input, peaks);
        }
    }

    /// Estimates the period of the sample `group_delay_frames()` before `sample`.
    pub fn process_sample(&mut self, sample: f32) -> f32 {
        let mut peak = [0.0];
        self.process(&[sample], &mut peak);
        peak[0]
    }

    /// True peak (linear) of a whole signal, flushing the filter at the end.
    pub fn true_peak_of(samples: &[f32]) -> f32 {
        let mut detector = Self::new();
        let mut peaks = vec![0.0; samples.len()];
        detector.process(samples, &mut peaks);
        let mut tail = vec![0.0; detector.group_delay_frames() + 1];
        let zeros = tail.clone();
        detector.process(&zeros, &mut tail);
        peaks.iter().chain(&tail).fold(0.0, |max, &p| max.max(p))
    }

    fn process_chunk(&mut self, input: &[f32], peaks: &mut [f32]) {
        let frames = input.len();
        let history = TAPS_PER_PHASE - 1;
        self.window[history..history + frames].copy_from_slice(input);

        // FIR for each phase, LANES outputs at a time; each output sums its taps in
        // order 0..T, so the result is independent of chunking. Lanes past `frames`
        // read stale padding and are ignored.
        for (phase_taps, values) in self
            .coefficients
            .chunks_exact(TAPS_PER_PHASE)
            .zip(self.phase_values.chunks_exact_mut(CHUNK_FRAMES))
        {
            for start in (0..frames).step_by(LANES) {
                let mut acc = [0.0f32; LANES];
                for (k, &c) in phase_taps.iter().enumerate() {
                    let x: &[f32; LANES] = self.window[start + k..start + k + LANES]
                        .try_into()
                        .expect("LANES-long slice");
                    for lane in 0..LANES {
                        acc[lane] += c * x[lane];
                    }
                }
                let end = (start + LANES).min(frames);
                values[start..end].copy_from_slice(&acc[..end - start]);
            }
        }

        // Grid points of period m = n − T/2: x[m], the PHASES interpolated values, and
        // x[m + 1] as right neighbour of the last one.
        let centre = TAPS_PER_PHASE / 2 - 1;
        let mut left = self.previous_last_magnitude;
        for (i, peak) in peaks.iter_mut().enumerate() {
            let mut grid = [0.0f32; OVERSAMPLING_FACTOR + 1];
            grid[0] = self.window[centre + i].abs();
            for (phase, value) in grid[1..OVERSAMPLING_FACTOR].iter_mut().enumerate() {
                *value = self.phase_values[phase * CHUNK_FRAMES + i].abs();
            }
            grid[OVERSAMPLING_FACTOR] = self.window[centre + i + 1].abs();
            let mut max = refined_peak(left, grid[0], grid[1]);
            for j in 1..OVERSAMPLING_FACTOR {
                max = max.max(refined_peak(grid[j - 1], grid[j], grid[j + 1]));
            }
            *peak = max;
            left = grid[OVERSAMPLING_FACTOR - 1];
        }
        self.previous_last_magnitude = left;

        self.window.copy_within(frames..frames + history, 0);
    }
}
