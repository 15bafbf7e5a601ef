//! True-peak detection by 4× oversampling (ITU-R BS.1770-4 Annex 2).
//!
//! BS.1770-4 estimates the peak of the continuous signal by interpolating at ≥ 4× with
//! a low-pass FIR and taking the largest magnitude. Here the 4× interpolator is two
//! linear-phase half-band stages (2× then 2×; Crochiere & Rabiner, "Multirate Digital
//! Signal Processing", 1983, ch. 5): the first, a 32-tap Kaiser-windowed sinc (Kaiser,
//! "Nonrecursive digital filter design using the I0-sinh window function", ISCAS 1974),
//! sets the accuracy near Nyquist; the second only has to separate images an octave
//! away, so 12 taps do. With the symmetric taps folded that is 28 multiplies per input
//! sample, against 96 (48 folded) for a single-stage polyphase 4× of the same span;
//! 3 minutes of 44.1 kHz stereo take ≈ 0.09 s on one core (release build, SSE2).
//!
//! Each local maximum of the 4× grid is then refined with the parabola through it and
//! its two neighbours (Smith & Serra, "PARSHL", ICMC 1987). Grid quantisation alone
//! under-reads a tone by up to 1 − cos(π·f / (4·fs)), 0.69 dB at Nyquist; with the
//! parabola the worst under-read up to 0.45·fs is 0.018 dB against ideal 8× (measured
//! in 0.001·fs steps over 16 phases), cheaper than going to 8× (7 interpolated phases).
//!
//! Accuracy is stated relative to the sample rate, so the factor does not depend on
//! it. Up to 0.45·fs (19.8 kHz at 44.1 kHz) tones read within −0.018 / +0.07 dB of
//! ideal 8× interpolation (the over-reads are passband ripple, and the parabola finding
//! the continuous peak between the reference's 8× points). Above, the first stage's
//! transition band (−6 dB at fs/2, as for any half-band filter) makes it under-read:
//! −0.28 dB at 0.46·fs, −1.3 dB at 0.47·fs, and full-band white noise reads up to
//! ≈ 1 dB low. No finite window does much better: between the samples, a component at
//! fs/2 − ε is `sin(πt)/π · Σ b[j] / (t − j)` with `b[j] = (−1)^j · x[j]` its
//! demodulated samples, a 1/t kernel that takes ~1/ε samples on each side to converge.

use std::f64::consts::PI;

/// Oversampling factor of the interpolation grid.
pub const OVERSAMPLING_FACTOR: usize = 4;

/// Taps of the first (input-rate → 2×) half-band stage.
const STAGE1_TAPS: usize = 32;
/// Kaiser shape of the first stage: ≈ 50 dB image rejection (ripple ≈ 0.3 %) with the
/// transition band at ≈ 0.45–0.55·fs.
const STAGE1_BETA: f64 = 4.5;
/// Taps of the second (2× → 4×) half-band stage; a multiple of 4.
const STAGE2_TAPS: usize = 12;
/// Kaiser shape of the second stage. Measured: with 8 taps the cascade under-reads
/// 0.045 dB at 0.42·fs; with 12 it stays within the first stage's accuracy.
const STAGE2_BETA: f64 = 5.0;

/// Half-sample values the second stage reaches on each side, in input samples.
const STAGE2_REACH: usize = STAGE2_TAPS / 4;
/// Delay from an input sample to the estimate of its period.
const GROUP_DELAY_FRAMES: usize = STAGE1_TAPS / 2 + STAGE2_REACH;

/// Input history kept for the first stage.
const INPUT_HISTORY: usize = STAGE1_TAPS - 1;
/// Half-sample history kept for the second stage.
const HALF_HISTORY: usize = 2 * STAGE2_REACH;

/// Samples processed per internal pass; bounds the scratch buffers.
const CHUNK_FRAMES: usize = 256;

/// First-stage outputs computed together: 16 lanes are four SSE registers, enough
/// independent sums to hide the adder latency. Each output sums its taps in a fixed
/// order, so results are bit-identical however the input is cut into blocks.
const LANES: usize = 16;

/// Streaming true-peak estimator for one channel.
///
/// For each input sample it yields the largest magnitude of the 4×-oversampled signal
/// (parabolically refined) in one sample period `[m, m + 1)`, with
/// `m = n − group_delay_frames()`. `process` does not allocate.
#[derive(Debug, Clone)]
pub struct TruePeakDetector {
    /// First stage, folded: weight of the pair at offsets ±(k + ½) from the half-sample point.
    stage1: [f32; STAGE1_TAPS / 2],
    /// Second stage, folded: weight of the pair at offsets ±(k + ½) 2×-rate samples.
    stage2: [f32; STAGE2_TAPS / 2],
    /// `INPUT_HISTORY` past inputs, then the current chunk, then lane padding.
    input: Vec<f32>,
    /// `HALF_HISTORY` past half-sample values, then the current chunk's.
    half: Vec<f32>,
    /// Quarter-sample values of the chunk at ¼ and at ¾ of each period; the latter with
    /// one leading slot holding the previous period's (left neighbour of the sample).
    quarter: Vec<f32>,
    three_quarter: Vec<f32>,
}

impl Default for TruePeakDetector {
    fn default() -> Self {
        Self::new()
    }
}

/// Kaiser-windowed sinc of a half-band stage with `taps` taps, at `offset` samples of
/// that stage's input rate from the interpolated point.
fn half_band_kernel(offset: f64, taps: usize, beta: f64) -> f64 {
    let half_span = (taps / 2) as f64;
    let u = offset / half_span;
    if u.abs() >= 1.0 {
        return 0.0;
    }
    // sinc of the half-band: cutoff at half the stage's output rate.
    let sinc = (PI * offset).sin() / (PI * offset);
    sinc * bessel_i0(beta * (1.0 - u * u).sqrt()) / bessel_i0(beta)
}

/// Folded half-band weights for offsets ½, 1½, …, normalised to unit DC gain so a
/// constant interpolates to itself.
fn folded_half_band<const N: usize>(beta: f64) -> [f32; N] {
    let taps = 2 * N;
    let weights: [f64; N] = std::array::from_fn(|k| half_band_kernel(k as f64 + 0.5, taps, beta));
    let sum: f64 = 2.0 * weights.iter().sum::<f64>();
    weights.map(|w| (w / sum) as f32)
}

/// Modified Bessel function of the first kind, order 0, by its power series (the
/// Kaiser window of every half-band design in this crate).
pub(crate) fn bessel_i0(x: f64) -> f64 {
    let quarter_x2 = x * x / 4.0;
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..60 {
        term *= quarter_x2 / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Taps of a linear-phase low-pass FIR: the ideal low-pass with its −6 dB point at
/// `cutoff_ratio` of the sample rate (0…0.5), windowed by a Kaiser window of shape
/// `beta` (Kaiser, ISCAS 1974), scaled to unit gain at DC. For decimation: about
/// `(A − 8) / (14.4 · (taps − 1))` of the sample rate is the transition width, with
/// A ≈ 8.7 + beta / 0.1102 dB of stop-band attenuation (Kaiser's design formulas, as in
/// Oppenheim & Schafer, "Discrete-Time Signal Processing", §7.6).
pub fn kaiser_lowpass(taps: usize, cutoff_ratio: f64, beta: f64) -> Vec<f64> {
    let taps = taps.max(1);
    let centre = (taps - 1) as f64 / 2.0;
    let half_span = (taps as f64 / 2.0).max(0.5);
    let weights: Vec<f64> = (0..taps)
        .map(|n| {
            let offset = n as f64 - centre;
            let u = offset / half_span;
            let ideal = if offset == 0.0 {
                2.0 * cutoff_ratio
            } else {
                (2.0 * PI * cutoff_ratio * offset).sin() / (PI * offset)
            };
            ideal * bessel_i0(beta * (1.0 - u * u).max(0.0).sqrt()) / bessel_i0(beta)
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    weights.iter().map(|w| w / sum).collect()
}

/// `a` if larger, else `b`: compiles to a plain `maxps` (magnitudes are never NaN here
/// unless the input is, and then any answer will do).
#[inline]
fn larger(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// Peak of the parabola through `(−1, left)`, `(0, centre)`, `(1, right)` when `centre`
/// is a local maximum, else `centre`. Written without branches so it vectorises.
#[inline]
fn refined_peak(left: f32, centre: f32, right: f32) -> f32 {
    let curvature = 2.0 * centre - left - right;
    let slope = left - right;
    let is_peak = centre >= left && centre >= right && curvature > 0.0;
    let lift = slope * slope / (8.0 * if is_peak { curvature } else { 1.0 });
    if is_peak {
        centre + lift
    } else {
        centre
    }
}

impl TruePeakDetector {
    /// A detector with cleared state.
    pub fn new() -> Self {
        Self {
            stage1: folded_half_band(STAGE1_BETA),
            stage2: folded_half_band(STAGE2_BETA),
            input: vec![0.0; INPUT_HISTORY + CHUNK_FRAMES + LANES],
            half: vec![0.0; HALF_HISTORY + CHUNK_FRAMES],
            quarter: vec![0.0; CHUNK_FRAMES],
            three_quarter: vec![0.0; 1 + CHUNK_FRAMES],
        }
    }

    /// Oversampling factor of the interpolation grid.
    pub fn oversampling_factor(&self) -> usize {
        OVERSAMPLING_FACTOR
    }

    /// Delay of the estimates, in input frames: the group delay of the two linear-phase
    /// stages. `peaks[i]` describes the period of `input[i − group_delay_frames()]`.
    pub fn group_delay_frames(&self) -> usize {
        GROUP_DELAY_FRAMES
    }

    /// Clears the signal history.
    pub fn reset(&mut self) {
        self.input.fill(0.0);
        self.half.fill(0.0);
        self.three_quarter[0] = 0.0;
    }

    /// Estimates one period per input sample; `peaks` must be as long as `input`
    /// (panics otherwise).
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

    /// True peak (linear) of a whole signal, flushing the filters at the end.
    pub fn true_peak_of(samples: &[f32]) -> f32 {
        let mut detector = Self::new();
        let mut peaks = vec![0.0; samples.len()];
        detector.process(samples, &mut peaks);
        let zeros = vec![0.0; GROUP_DELAY_FRAMES + 1];
        let mut tail = vec![0.0; zeros.len()];
        detector.process(&zeros, &mut tail);
        peaks
            .iter()
            .chain(&tail)
            .fold(0.0, |max, &p| larger(max, p))
    }

    fn process_chunk(&mut self, input: &[f32], peaks: &mut [f32]) {
        let frames = input.len();
        self.input[INPUT_HISTORY..INPUT_HISTORY + frames].copy_from_slice(input);

        // Stage 1: the half-sample point between x[n − T/2] and x[n − T/2 + 1] for each
        // new x[n], from the T inputs around it folded into pairs. Lanes past `frames`
        // read stale padding and are dropped.
        let half = &mut self.half[HALF_HISTORY..HALF_HISTORY + frames];
        for start in (0..frames).step_by(LANES) {
            let mut acc = [0.0f32; LANES];
            for (k, &weight) in self.stage1.iter().enumerate() {
                let left: &[f32; LANES] = self.input[start + STAGE1_TAPS / 2 - 1 - k..][..LANES]
                    .try_into()
                    .expect("LANES-long slice");
                let right: &[f32; LANES] = self.input[start + STAGE1_TAPS / 2 + k..][..LANES]
                    .try_into()
                    .expect("LANES-long slice");
                for lane in 0..LANES {
                    acc[lane] += weight * (left[lane] + right[lane]);
                }
            }
            let end = (start + LANES).min(frames);
            half[start..end].copy_from_slice(&acc[..end - start]);
        }

        // Stage 2 on the 2× sequence s = …, x[j], h[j], x[j + 1], … (h[j] at j + ½):
        // the points m + ¼ and m + ¾ of period m = n − GROUP_DELAY_FRAMES. Pair k sits
        // k + ½ steps of s away on each side; even steps land on x, odd ones on h.
        // x[m + d] is input[INPUT_HISTORY − GROUP_DELAY_FRAMES + d + i] and h[m + d] is
        // half[HALF_HISTORY − STAGE2_REACH + d + i].
        let x_at = |d: isize| (INPUT_HISTORY as isize - GROUP_DELAY_FRAMES as isize + d) as usize;
        let h_at = |d: isize| (HALF_HISTORY as isize - STAGE2_REACH as isize + d) as usize;
        let quarter = &mut self.quarter[..frames];
        let three_quarter = &mut self.three_quarter[1..1 + frames];
        quarter.fill(0.0);
        three_quarter.fill(0.0);
        for (k, &weight) in self.stage2.iter().enumerate() {
            let k = k as isize;
            // m + ¼ lies between s = x[m] and h[m].
            let (left, right) = if k % 2 == 0 {
                (&self.input[x_at(-k / 2)..], &self.half[h_at(k / 2)..])
            } else {
                (
                    &self.half[h_at(-(k + 1) / 2)..],
                    &self.input[x_at((k + 1) / 2)..],
                )
            };
            for ((q, &l), &r) in quarter.iter_mut().zip(left).zip(right) {
                *q += weight * (l + r);
            }
            // m + ¾ lies between s = h[m] and x[m + 1].
            let (left, right) = if k % 2 == 0 {
                (&self.half[h_at(-k / 2)..], &self.input[x_at(1 + k / 2)..])
            } else {
                (
                    &self.input[x_at(-(k - 1) / 2)..],
                    &self.half[h_at((k + 1) / 2)..],
                )
            };
            for ((q, &l), &r) in three_quarter.iter_mut().zip(left).zip(right) {
                *q += weight * (l + r);
            }
        }

        // The grid of period m is x[m], q[m], h[m], t[m], then x[m + 1]; t[m − 1] is
        // the left neighbour of x[m].
        let samples = &self.input[x_at(0)..x_at(0) + frames + 1];
        let halves = &self.half[h_at(0)..h_at(0) + frames];
        let three_quarters = &self.three_quarter[..frames + 1];
        for (i, peak) in peaks.iter_mut().enumerate() {
            let grid = [
                three_quarters[i].abs(),
                samples[i].abs(),
                self.quarter[i].abs(),
                halves[i].abs(),
                three_quarters[i + 1].abs(),
                samples[i + 1].abs(),
            ];
            let mut max = refined_peak(grid[0], grid[1], grid[2]);
            for j in 2..=OVERSAMPLING_FACTOR {
                max = larger(max, refined_peak(grid[j - 1], grid[j], grid[j + 1]));
            }
            *peak = max;
        }

        self.three_quarter[0] = self.three_quarter[frames];
        self.input.copy_within(frames..frames + INPUT_HISTORY, 0);
        self.half.copy_within(frames..frames + HALF_HISTORY, 0);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::units::gain_to_db;
    use std::f64::consts::TAU;

    fn sine(amplitude: f64, frequency_ratio: f64, phase: f64, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|n| (amplitude * (TAU * frequency_ratio * n as f64 + phase).sin()) as f32)
            .collect()
    }

    #[test]
    fn kaiser_lowpass_passes_below_and_stops_above_its_transition_band() {
        // 50 taps, β = 5 (A ≈ 54 dB): transition ≈ (54 − 8) / (14.4 · 49) ≈ 0.065·fs
        // wide around the cutoff.
        let taps = kaiser_lowpass(50, 0.1, 5.0);
        let gain_at = |ratio: f64| {
            let (re, im) = taps
                .iter()
                .enumerate()
                .fold((0.0, 0.0), |(re, im), (n, h)| {
                    let phase = TAU * ratio * n as f64;
                    (re + h * phase.cos(), im - h * phase.sin())
                });
            gain_to_db(f64::hypot(re, im))
        };
        assert!(gain_at(0.0).abs() < 1e-9);
        assert!((gain_at(0.1) + 6.02).abs() < 0.3, "{}", gain_at(0.1));
        for i in 0..=60 {
            let pass = 0.06 * f64::from(i) / 60.0;
            assert!(gain_at(pass).abs() < 0.05, "{pass}: {}", gain_at(pass));
            let stop = 0.14 + 0.36 * f64::from(i) / 60.0;
            assert!(gain_at(stop) < -50.0, "{stop}: {}", gain_at(stop));
        }
        let symmetric = taps.iter().zip(taps.iter().rev()).all(|(a, b)| a == b);
        assert!(symmetric);
    }

    /// Estimates aligned with their periods: `result[m]` covers `[m, m + 1)`.
    pub(crate) fn aligned_peaks(signal: &[f32]) -> Vec<f32> {
        let mut detector = TruePeakDetector::new();
        let delay = detector.group_delay_frames();
        let mut padded = signal.to_vec();
        padded.resize(signal.len() + delay, 0.0);
        let mut peaks = vec![0.0; padded.len()];
        detector.process(&padded, &mut peaks);
        peaks.split_off(delay)
    }

    #[test]
    fn quarter_rate_sine_between_its_samples_reads_its_true_peak() {
        // Samples at ±0.707, true peak 1.0 half-way between them (on the 4× grid).
        let signal = sine(1.0, 0.25, TAU / 8.0, 2_000);
        let sample_peak = signal.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((sample_peak - 0.5f32.sqrt()).abs() < 1e-6);
        // Away from the abrupt start and end, whose splatter rings above 1. Every other
        // period holds a crest; the ones between hold a zero crossing.
        let peaks = aligned_peaks(&signal);
        for pair in peaks[100..1_900].windows(2) {
            let crest = pair[0].max(pair[1]);
            assert!((0.99..1.005).contains(&crest), "{crest}");
        }
    }

    #[test]
    fn tones_up_to_045_fs_read_within_two_hundredths_of_a_db_low() {
        // Reference per period: the 8× grid of the analytic tone.
        for step in 0..=45 {
            let frequency_ratio = 0.01 * f64::from(step);
            for phase_step in 0..8 {
                let phase = f64::from(phase_step) * 0.39 + 0.1;
                let signal = sine(0.8, frequency_ratio, phase, 600);
                let peaks = aligned_peaks(&signal);
                for m in 40..560 {
                    let reference = (0..8)
                        .map(|k| {
                            let t = m as f64 + k as f64 / 8.0;
                            (0.8 * (TAU * frequency_ratio * t + phase).sin()).abs()
                        })
                        .fold(0.0, f64::max);
                    // A peak near a period boundary may be credited to the neighbour.
                    let around = f64::from(peaks[m - 1].max(peaks[m]).max(peaks[m + 1]));
                    let under_db = gain_to_db(around / reference);
                    assert!(under_db > -0.02, "f = {frequency_ratio}·fs: {under_db} dB");
                    let over_db = gain_to_db(f64::from(peaks[m]) / 0.8);
                    assert!(over_db < 0.1, "f = {frequency_ratio}·fs: +{over_db} dB");
                }
            }
        }
    }

    #[test]
    fn dc_step_overshoot_is_the_filters_gibbs_overshoot() {
        // Independent f64 reference: the unfolded cascade run directly on a unit step,
        // its largest 4×-grid value is the FIR's Gibbs overshoot.
        let stage1: [f32; STAGE1_TAPS / 2] = folded_half_band(STAGE1_BETA);
        let stage2: [f32; STAGE2_TAPS / 2] = folded_half_band(STAGE2_BETA);
        let up = |x: &[f64], folded: &[f32]| -> Vec<f64> {
            let reach = folded.len() as isize;
            let at = |j: isize| x.get(j as usize).copied().filter(|_| j >= 0).unwrap_or(0.0);
            let mut y = Vec::with_capacity(2 * x.len());
            for j in 0..x.len() as isize {
                y.push(x[j as usize]);
                // Taps at j − k and j + 1 + k for k = 0..reach.
                y.push(
                    (0..reach)
                        .map(|k| f64::from(folded[k as usize]) * (at(j - k) + at(j + 1 + k)))
                        .sum(),
                );
            }
            y
        };
        let step: Vec<f64> = (0..200).map(|n| if n >= 100 { 1.0 } else { 0.0 }).collect();
        let grid = up(&up(&step, &stage1), &stage2);
        let gibbs = grid
            .iter()
            .take(4 * 180)
            .fold(0.0, |m: f64, v| m.max(v.abs()));
        // Windowing tempers, but barely, the 1.1411 of ideal sinc interpolation
        // (Σ_{j≥0} sinc(t − j), largest at t ≈ 0.42).
        assert!((1.12..1.1411).contains(&gibbs), "{gibbs}");

        let signal: Vec<f32> = step.iter().map(|&v| v as f32).collect();
        let read = f64::from(TruePeakDetector::true_peak_of(&signal[..180]));
        // The detector adds only the parabolic refinement on top of the grid, which
        // stays under the ideal interpolation's peak.
        assert!(read >= gibbs - 1e-6 && read < 1.1411, "{read} vs {gibbs}");
    }

    #[test]
    fn constants_and_samples_on_the_grid_read_exactly() {
        let level = [0.5f32; 300];
        let peaks = aligned_peaks(&level);
        assert!(peaks[100..250].iter().all(|&p| (p - 0.5).abs() < 1e-6));

        // An impulse: its own period reads the sample, the neighbours its sinc lobes.
        let mut impulse = vec![0.0f32; 100];
        impulse[50] = -0.75;
        let peaks = aligned_peaks(&impulse);
        assert_eq!(peaks[50], 0.75);
        let max_index = (0..100)
            .max_by(|&a, &b| peaks[a].total_cmp(&peaks[b]))
            .unwrap();
        assert_eq!(max_index, 50);
    }

    #[test]
    fn group_delay_is_where_an_impulse_peaks() {
        let mut detector = TruePeakDetector::new();
        let mut impulse = vec![0.0f32; 64];
        impulse[5] = 1.0;
        let mut peaks = vec![0.0; 64];
        detector.process(&impulse, &mut peaks);
        let max_index = (0..64)
            .max_by(|&a, &b| peaks[a].total_cmp(&peaks[b]))
            .unwrap();
        assert_eq!(max_index, 5 + detector.group_delay_frames());
        assert_eq!(detector.oversampling_factor(), 4);
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        let signal: Vec<f32> = (0..5_000)
            .map(|n| ((n as f32 * 0.37).sin() + (n as f32 * 2.9).cos() * 0.5) * 0.6)
            .collect();
        let mut whole = vec![0.0; signal.len()];
        TruePeakDetector::new().process(&signal, &mut whole);
        for block in [1, 7, 64, 255, 256, 257, 1_000] {
            let mut detector = TruePeakDetector::new();
            let mut pieces = vec![0.0; signal.len()];
            for (input, peaks) in signal.chunks(block).zip(pieces.chunks_mut(block)) {
                detector.process(input, peaks);
            }
            assert_eq!(pieces, whole, "block {block}");
        }
        let mut detector = TruePeakDetector::new();
        let single: Vec<f32> = signal.iter().map(|&x| detector.process_sample(x)).collect();
        assert_eq!(single, whole);
    }

    #[test]
    fn reset_forgets_the_past() {
        let loud = vec![0.9f32; 100];
        let quiet: Vec<f32> = (0..100).map(|n| (n as f32 * 0.1).sin() * 0.1).collect();
        let mut fresh = vec![0.0; 100];
        TruePeakDetector::new().process(&quiet, &mut fresh);
        let mut detector = TruePeakDetector::new();
        let mut scratch = vec![0.0; 100];
        detector.process(&loud, &mut scratch);
        detector.reset();
        detector.process(&quiet, &mut scratch);
        assert_eq!(scratch, fresh);
    }
}
