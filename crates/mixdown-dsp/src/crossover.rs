//! Linkwitz-Riley crossovers and an N-band splitter whose bands sum to an all-pass.
//!
//! A 4th-order Linkwitz-Riley (LR4, 24 dB/oct) low-pass is a 2nd-order Butterworth
//! low-pass applied twice, the high-pass likewise (Linkwitz, "Active Crossover
//! Networks for Noncoincident Drivers", JAES 24(1), 1976). Both outputs are −6.02 dB
//! and in phase at the crossover, and they sum to the 2nd-order all-pass
//! `(s² − √2·s + 1)/(s² + √2·s + 1)`. The bilinear transform maps that identity onto
//! the cookbook sections exactly, so the digital bands sum to a digital all-pass too.
//!
//! For more than two bands, each higher split is applied to the high branch of the
//! previous one, and every band already split off passes through the all-pass of
//! that higher crossover, so all bands carry the same phase and the sum stays an
//! all-pass (flat magnitude, no comb filtering).

use crate::biquad::{Biquad, BiquadCoefficients, BiquadKind};
use std::f64::consts::FRAC_1_SQRT_2;

/// One LR4 crossover: a low-pass and a high-pass branch, each two Butterworth sections.
#[derive(Debug, Clone)]
pub struct LinkwitzRiley4 {
    low: [Biquad; 2],
    high: [Biquad; 2],
}

impl LinkwitzRiley4 {
    /// A crossover at `freq_hz`, which must lie in (0, Nyquist).
    ///
    /// # Panics
    /// If `freq_hz` is not strictly between 0 and `sample_rate_hz / 2`.
    pub fn new(freq_hz: f64, sample_rate_hz: f64) -> Self {
        assert!(
            freq_hz > 0.0 && freq_hz < sample_rate_hz / 2.0,
            "crossover {freq_hz} Hz must lie between 0 and Nyquist ({} Hz)",
            sample_rate_hz / 2.0
        );
        let design = |kind| {
            Biquad::new(BiquadCoefficients::design(
                kind,
                freq_hz,
                FRAC_1_SQRT_2,
                sample_rate_hz,
            ))
        };
        let low = design(BiquadKind::LowPass);
        let high = design(BiquadKind::HighPass);
        Self {
            low: [low, low],
            high: [high, high],
        }
    }

    /// Splits one sample into `(low, high)`.
    #[inline]
    pub fn split_sample(&mut self, x: f64) -> (f64, f64) {
        let [low_1, low_2] = &mut self.low;
        let [high_1, high_2] = &mut self.high;
        let low = low_2.process_sample(low_1.process_sample(x));
        let high = high_2.process_sample(high_1.process_sample(x));
        (low, high)
    }

    /// Clears the filter memories.
    pub fn reset(&mut self) {
        for section in self.low.iter_mut().chain(self.high.iter_mut()) {
            section.reset();
        }
    }
}

/// Splits one channel into `crossovers + 1` bands (lowest first) whose sum is an
/// all-pass of the input: flat magnitude, phase of the cascaded crossover all-passes.
#[derive(Debug, Clone)]
pub struct BandSplitter {
    crossovers_hz: Vec<f64>,
    splits: Vec<LinkwitzRiley4>,
    /// Phase compensation: for split `j ≥ 1`, one all-pass at `crossovers_hz[j]` for
    /// each of the bands `0..j`, stored in that order.
    compensation: Vec<Biquad>,
}

impl BandSplitter {
    /// A splitter at strictly ascending `crossovers_hz`, each in (0, Nyquist).
    /// No crossovers gives a single band equal to the input.
    ///
    /// # Panics
    /// If the crossovers are not strictly ascending or not below Nyquist.
    pub fn new(crossovers_hz: &[f64], sample_rate_hz: f64) -> Self {
        assert!(
            crossovers_hz.windows(2).all(|w| w[0] < w[1]),
            "crossovers must be strictly ascending: {crossovers_hz:?}"
        );
        let splits = crossovers_hz
            .iter()
            .map(|&f| LinkwitzRiley4::new(f, sample_rate_hz))
            .collect();
        let mut compensation = Vec::new();
        for (j, &freq_hz) in crossovers_hz.iter().enumerate().skip(1) {
            let all_pass = Biquad::new(BiquadCoefficients::design(
                BiquadKind::AllPass,
                freq_hz,
                FRAC_1_SQRT_2,
                sample_rate_hz,
            ));
            compensation.extend(std::iter::repeat_n(all_pass, j));
        }
        Self {
            crossovers_hz: crossovers_hz.to_vec(),
            splits,
            compensation,
        }
    }

    /// Number of bands (`crossovers + 1`).
    pub fn band_count(&self) -> usize {
        self.splits.len() + 1
    }

    /// The crossover frequencies, ascending.
    pub fn crossovers_hz(&self) -> &[f64] {
        &self.crossovers_hz
    }

    /// Splits one sample into `bands_out[..band_count()]`, lowest band first.
    ///
    /// # Panics
    /// If `bands_out` is shorter than [`band_count`](Self::band_count).
    #[inline]
    pub fn split_sample(&mut self, x: f64, bands_out: &mut [f64]) {
        let bands_out = &mut bands_out[..self.splits.len() + 1];
        let mut rest = x;
        let mut compensation = self.compensation.iter_mut();
        for (j, split) in self.splits.iter_mut().enumerate() {
            let (low, high) = split.split_sample(rest);
            for (band, all_pass) in bands_out[..j].iter_mut().zip(compensation.by_ref()) {
                *band = all_pass.process_sample(*band);
            }
            bands_out[j] = low;
            rest = high;
        }
        bands_out[self.splits.len()] = rest;
    }

    /// Clears every filter memory.
    pub fn reset(&mut self) {
        self.splits.iter_mut().for_each(LinkwitzRiley4::reset);
        self.compensation.iter_mut().for_each(Biquad::reset);
    }
}

/// Frames between two flushes of tiny filter states in [`StereoBandSplitter`].
const FLUSH_INTERVAL_FRAMES: u32 = 64;

/// One biquad section run on two channels at once: the same coefficients, one state
/// per lane, transposed direct form II as [`Biquad`]. Written lane-wise without
/// branches so the compiler keeps both lanes in one SIMD register.
#[derive(Debug, Clone, Copy)]
struct BiquadPair {
    /// `b0, b1, a1, a2`, each duplicated for both lanes (`b2` is implied by the kind
    /// of section), so that every product is one SIMD multiplication.
    b0: [f64; 2],
    b1: [f64; 2],
    a1: [f64; 2],
    a2: [f64; 2],
    s1: [f64; 2],
    s2: [f64; 2],
}

impl BiquadPair {
    fn new(c: BiquadCoefficients) -> Self {
        Self {
            b0: [c.b0; 2],
            b1: [c.b1; 2],
            a1: [c.a1; 2],
            a2: [c.a2; 2],
            s1: [0.0; 2],
            s2: [0.0; 2],
        }
    }

    /// One frame of a section with `b2 = b0` (the cookbook low- and high-pass):
    /// `b0·x` serves both, one multiplication fewer and the same result.
    #[inline(always)]
    fn process_symmetric(&mut self, x: [f64; 2]) -> [f64; 2] {
        let mut y = [0.0; 2];
        for lane in 0..2 {
            let b0_x = self.b0[lane] * x[lane];
            y[lane] = b0_x + self.s1[lane];
            self.s1[lane] = self.b1[lane] * x[lane] - self.a1[lane] * y[lane] + self.s2[lane];
            self.s2[lane] = b0_x - self.a2[lane] * y[lane];
        }
        y
    }

    /// One frame of a section with `b2 = 1` (the cookbook all-pass: `(1+α)/(1+α)`).
    #[inline(always)]
    fn process_all_pass(&mut self, x: [f64; 2]) -> [f64; 2] {
        let mut y = [0.0; 2];
        for lane in 0..2 {
            y[lane] = self.b0[lane] * x[lane] + self.s1[lane];
            self.s1[lane] = self.b1[lane] * x[lane] - self.a1[lane] * y[lane] + self.s2[lane];
            self.s2[lane] = x[lane] - self.a2[lane] * y[lane];
        }
        y
    }

    /// The subnormal guard of [`Biquad::process_sample`]: a lane whose `|s1|` fell
    /// below 1e-30 is cleared.
    fn flush(&mut self) {
        for lane in 0..2 {
            if self.s1[lane].abs() < 1e-30 {
                self.s1[lane] = 0.0;
                self.s2[lane] = 0.0;
            }
        }
    }

    fn reset(&mut self) {
        self.s1 = [0.0; 2];
        self.s2 = [0.0; 2];
    }
}

/// The bands of a [`BandSplitter`] for two channels at once, one per SIMD lane, in
/// fewer operations:
///
/// * each split computes its high band as `AP(x) − LP²(x)` (the LR4 identity
///   `LP² + HP² = AP` of the module docs): three sections per split instead of four,
///   and the all-pass is the one the lower bands need anyway;
/// * low- and high-pass sections share `b0·x = b2·x`, all-passes skip `b2·x = x`;
/// * the subnormal guard runs every 64 frames instead of after every sample. Between
///   two checks a state decays by at most 0.41⁶⁴ ≈ 1e-25 (every pole of these
///   sections has a radius ≥ 0.41), so nothing gets anywhere near the subnormal range
///   (2.2e-308); the schedule counts frames since the last reset, so the output does
///   not depend on block boundaries.
///
/// The bands match [`BandSplitter`]'s to within rounding: 1.0e-13 of full scale at
/// worst on full-scale noise (−260 dB; the tests bound it by 1e-12), and they sum to
/// the same all-pass.
#[derive(Debug, Clone)]
pub struct StereoBandSplitter {
    /// Per crossover: low-pass 1, low-pass 2, all-pass.
    splits: Vec<[BiquadPair; 3]>,
    /// Phase compensation, laid out as in [`BandSplitter`].
    compensation: Vec<BiquadPair>,
    /// Frames since the last flush of tiny states.
    frames_since_flush: u32,
    /// One frame's bands for more crossovers than the unrolled paths handle.
    scratch: Vec<[f64; 2]>,
}

impl StereoBandSplitter {
    /// A splitter at strictly ascending `crossovers_hz`, each in (0, Nyquist).
    ///
    /// # Panics
    /// As [`BandSplitter::new`].
    pub fn new(crossovers_hz: &[f64], sample_rate_hz: f64) -> Self {
        let scalar = BandSplitter::new(crossovers_hz, sample_rate_hz);
        let all_pass = |freq_hz| {
            BiquadCoefficients::design(BiquadKind::AllPass, freq_hz, FRAC_1_SQRT_2, sample_rate_hz)
        };
        let splits = scalar
            .splits
            .iter()
            .zip(crossovers_hz)
            .map(|(split, &freq_hz)| {
                let low = split.low[0].coefficients();
                let all_pass = all_pass(freq_hz);
                assert!(low.b2 == low.b0 && all_pass.b2 == 1.0);
                [
                    BiquadPair::new(low),
                    BiquadPair::new(low),
                    BiquadPair::new(all_pass),
                ]
            })
            .collect();
        Self {
            splits,
            compensation: scalar
                .compensation
                .iter()
                .map(|section| BiquadPair::new(section.coefficients()))
                .collect(),
            frames_since_flush: 0,
            scratch: vec![[0.0; 2]; crossovers_hz.len() + 1],
        }
    }

    /// Number of bands (`crossovers + 1`).
    pub fn band_count(&self) -> usize {
        self.splits.len() + 1
    }

    /// Splits one frame of two channels into `bands_out[..band_count()]`, lowest band
    /// first, `[first channel, second channel]` in each.
    ///
    /// # Panics
    /// If `bands_out` is shorter than [`band_count`](Self::band_count).
    #[inline]
    pub fn split_frame(&mut self, x: [f64; 2], bands_out: &mut [[f64; 2]]) {
        let bands_out = &mut bands_out[..self.splits.len() + 1];
        let mut rest = x;
        let mut compensation = self.compensation.iter_mut();
        for (j, [low_1, low_2, all_pass]) in self.splits.iter_mut().enumerate() {
            let low = low_2.process_symmetric(low_1.process_symmetric(rest));
            let all = all_pass.process_all_pass(rest);
            for (band, all_pass) in bands_out[..j].iter_mut().zip(compensation.by_ref()) {
                *band = all_pass.process_all_pass(*band);
            }
            bands_out[j] = low;
            rest = [all[0] - low[0], all[1] - low[1]];
        }
        bands_out[self.splits.len()] = rest;
        self.frames_since_flush += 1;
        if self.frames_since_flush == FLUSH_INTERVAL_FRAMES {
            self.frames_since_flush = 0;
            self.sections().for_each(BiquadPair::flush);
        }
    }

    /// Splits `frames` frames: `input(n)` gives frame `n` of the two channels,
    /// `store(n, bands)` receives its bands as [`split_frame`](Self::split_frame)
    /// would. Up to four crossovers run fully unrolled on a local copy of the filter
    /// states (kept in registers as far as they fit); the results are those of calling
    /// `split_frame` frame by frame. Does not allocate.
    #[inline]
    pub fn split_frames(
        &mut self,
        frames: usize,
        input: impl Fn(usize) -> [f64; 2],
        mut store: impl FnMut(usize, &[[f64; 2]]),
    ) {
        match self.splits.len() {
            0 => self.split_frames_unrolled::<0, 1, 0>(frames, input, store),
            1 => self.split_frames_unrolled::<1, 2, 0>(frames, input, store),
            2 => self.split_frames_unrolled::<2, 3, 1>(frames, input, store),
            3 => self.split_frames_unrolled::<3, 4, 3>(frames, input, store),
            4 => self.split_frames_unrolled::<4, 5, 6>(frames, input, store),
            _ => {
                let mut bands = std::mem::take(&mut self.scratch);
                for n in 0..frames {
                    self.split_frame(input(n), &mut bands);
                    store(n, &bands);
                }
                self.scratch = bands;
            }
        }
    }

    /// [`split_frames`](Self::split_frames) for `SPLITS` crossovers, `BANDS = SPLITS + 1`
    /// and `COMPENSATION = SPLITS·(SPLITS − 1)/2` all-passes.
    #[inline(always)]
    fn split_frames_unrolled<const SPLITS: usize, const BANDS: usize, const COMPENSATION: usize>(
        &mut self,
        frames: usize,
        input: impl Fn(usize) -> [f64; 2],
        mut store: impl FnMut(usize, &[[f64; 2]]),
    ) {
        let mut splits: [[BiquadPair; 3]; SPLITS] =
            self.splits[..].try_into().expect("SPLITS crossovers");
        let mut compensation: [BiquadPair; COMPENSATION] = self.compensation[..]
            .try_into()
            .expect("COMPENSATION all-passes");
        let mut frames_since_flush = self.frames_since_flush;
        for n in 0..frames {
            let mut bands = [[0.0; 2]; BANDS];
            let mut rest = input(n);
            let mut k = 0;
            for (j, [low_1, low_2, all_pass]) in splits.iter_mut().enumerate() {
                let low = low_2.process_symmetric(low_1.process_symmetric(rest));
                let all = all_pass.process_all_pass(rest);
                for band in &mut bands[..j] {
                    *band = compensation[k].process_all_pass(*band);
                    k += 1;
                }
                bands[j] = low;
                rest = [all[0] - low[0], all[1] - low[1]];
            }
            bands[SPLITS] = rest;
            store(n, &bands);
            frames_since_flush += 1;
            if frames_since_flush == FLUSH_INTERVAL_FRAMES {
                frames_since_flush = 0;
                splits
                    .iter_mut()
                    .flatten()
                    .chain(compensation.iter_mut())
                    .for_each(BiquadPair::flush);
            }
        }
        self.splits.copy_from_slice(&splits);
        self.compensation.copy_from_slice(&compensation);
        self.frames_since_flush = frames_since_flush;
    }

    fn sections(&mut self) -> impl Iterator<Item = &mut BiquadPair> {
        self.splits
            .iter_mut()
            .flatten()
            .chain(self.compensation.iter_mut())
    }

    /// Clears every filter memory.
    pub fn reset(&mut self) {
        self.sections().for_each(BiquadPair::reset);
        self.frames_since_flush = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::gain_to_db;
    use std::f64::consts::{PI, TAU};

    /// Impulse responses of every band, `[band][n]`.
    fn band_impulse_responses(splitter: &mut BandSplitter, frames: usize) -> Vec<Vec<f64>> {
        let mut responses = vec![vec![0.0; frames]; splitter.band_count()];
        let mut bands = vec![0.0; splitter.band_count()];
        for n in 0..frames {
            splitter.split_sample(if n == 0 { 1.0 } else { 0.0 }, &mut bands);
            for (response, &b) in responses.iter_mut().zip(&bands) {
                response[n] = b;
            }
        }
        responses
    }

    /// |DTFT| of a (fully decayed) impulse response at `freq_hz`.
    fn magnitude_at(response: &[f64], freq_hz: f64, sample_rate_hz: f64) -> f64 {
        let w = TAU * freq_hz / sample_rate_hz;
        let (mut re, mut im) = (0.0, 0.0);
        for (n, &h) in response.iter().enumerate() {
            let (s, c) = (w * n as f64).sin_cos();
            re += h * c;
            im -= h * s;
        }
        re.hypot(im)
    }

    /// Bilinear-prewarped LR4 magnitudes `(low, high)`: |H| = 1/(1 + r⁴), r = tan(πf/fs)/tan(πfc/fs).
    fn analytic_lr4(freq_hz: f64, crossover_hz: f64, sample_rate_hz: f64) -> (f64, f64) {
        let r4 = ((PI * freq_hz / sample_rate_hz).tan()
            / (PI * crossover_hz / sample_rate_hz).tan())
        .powi(4);
        (1.0 / (1.0 + r4), r4 / (1.0 + r4))
    }

    /// 20 Hz – 20 kHz, 1/12 octave apart.
    fn audio_band() -> impl Iterator<Item = f64> {
        (0..=120)
            .map(|i| 20.0 * 2f64.powf(i as f64 / 12.0))
            .filter(|&f| f <= 20_000.0)
            .chain(std::iter::once(20_000.0))
    }

    const CASES: [(&[f64], f64); 6] = [
        (&[120.0], 44_100.0),
        (&[120.0], 48_000.0),
        (&[120.0, 2_500.0], 44_100.0),
        (&[120.0, 2_500.0], 48_000.0),
        (&[120.0, 1_000.0, 5_000.0], 44_100.0),
        (&[120.0, 1_000.0, 5_000.0], 48_000.0),
    ];

    #[test]
    fn bands_sum_to_a_flat_all_pass() {
        let mut worst_db: f64 = 0.0;
        for (crossovers_hz, fs) in CASES {
            let mut splitter = BandSplitter::new(crossovers_hz, fs);
            let responses = band_impulse_responses(&mut splitter, 1 << 15);
            let sum: Vec<f64> = (0..responses[0].len())
                .map(|n| responses.iter().map(|r| r[n]).sum())
                .collect();
            // The response has decayed to nothing: the DTFT of the truncation is exact.
            assert!(sum[sum.len() - 64..].iter().all(|h| h.abs() < 1e-12));
            for f in audio_band() {
                let error_db = gain_to_db(magnitude_at(&sum, f, fs));
                worst_db = worst_db.max(error_db.abs());
                assert!(
                    error_db.abs() < 1e-6,
                    "{crossovers_hz:?} @ {fs}: {f} Hz sums to {error_db} dB"
                );
            }
        }
        println!("band sum: worst deviation {worst_db:.2e} dB");
    }

    #[test]
    fn each_band_matches_the_analytic_lr4_product() {
        for (crossovers_hz, fs) in CASES {
            let mut splitter = BandSplitter::new(crossovers_hz, fs);
            let responses = band_impulse_responses(&mut splitter, 1 << 15);
            let frequencies: Vec<f64> = audio_band().chain(crossovers_hz.iter().copied()).collect();
            for f in frequencies {
                for (band, response) in responses.iter().enumerate() {
                    // Band k = HP(f_0)·…·HP(f_{k−1})·LP(f_k)·(all-passes of unit magnitude).
                    let mut expected = 1.0;
                    for (j, &fc) in crossovers_hz.iter().enumerate() {
                        let (low, high) = analytic_lr4(f, fc, fs);
                        if j < band {
                            expected *= high;
                        } else if j == band {
                            expected *= low;
                        }
                    }
                    let measured = magnitude_at(response, f, fs);
                    assert!(
                        (measured - expected).abs() < 1e-9,
                        "{crossovers_hz:?} @ {fs}: band {band} at {f} Hz: {measured} vs {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn lr4_is_minus_6_db_at_crossover_and_falls_24_db_per_octave() {
        for fs in [44_100.0, 48_000.0] {
            for fc in [120.0, 1_000.0, 2_500.0, 5_000.0] {
                let mut crossover = LinkwitzRiley4::new(fc, fs);
                let (mut low, mut high) = (vec![0.0; 1 << 15], vec![0.0; 1 << 15]);
                for n in 0..low.len() {
                    (low[n], high[n]) = crossover.split_sample(if n == 0 { 1.0 } else { 0.0 });
                }
                let at = |h: &[f64], f: f64| gain_to_db(magnitude_at(h, f, fs));
                assert!((at(&low, fc) + 6.0206).abs() < 1e-3, "{fc} @ {fs}");
                assert!((at(&high, fc) + 6.0206).abs() < 1e-3, "{fc} @ {fs}");
                // One and two octaves away: the prewarped formula, about −24.6 and −48.2 dB.
                for f in [2.0 * fc, 4.0 * fc] {
                    let expected = gain_to_db(analytic_lr4(f, fc, fs).0);
                    assert!((at(&low, f) - expected).abs() < 1e-6, "{f} @ {fs}");
                }
                // Far below Nyquist the bilinear warping is negligible: 24 dB/oct.
                if fc <= 1_000.0 {
                    let slope_db = at(&low, 4.0 * fc) - at(&low, 2.0 * fc);
                    assert!((-24.5..=-23.5).contains(&slope_db), "{slope_db} dB/oct");
                }
                let mirrored = gain_to_db(analytic_lr4(fc / 2.0, fc, fs).1);
                assert!((at(&high, fc / 2.0) - mirrored).abs() < 1e-6);
                assert!(mirrored < -23.0);
            }
        }
    }

    #[test]
    fn splitter_bands_cross_at_minus_6_db() {
        let fs = 48_000.0;
        let crossovers_hz = [120.0, 1_000.0, 5_000.0];
        let mut splitter = BandSplitter::new(&crossovers_hz, fs);
        let responses = band_impulse_responses(&mut splitter, 1 << 15);
        for (j, &fc) in crossovers_hz.iter().enumerate() {
            // Neighbouring crossovers are ≥ 2.3 octaves away: their skirts cost < 0.02 dB.
            for band in [j, j + 1] {
                let level_db = gain_to_db(magnitude_at(&responses[band], fc, fs));
                assert!(
                    (level_db + 6.02).abs() < 0.02,
                    "band {band} at {fc}: {level_db}"
                );
            }
        }
    }

    #[test]
    fn stereo_splitter_matches_two_scalar_splitters() {
        let mut worst: f64 = 0.0;
        for (crossovers_hz, fs) in CASES {
            let mut pair = StereoBandSplitter::new(crossovers_hz, fs);
            let mut left = BandSplitter::new(crossovers_hz, fs);
            let mut right = BandSplitter::new(crossovers_hz, fs);
            assert_eq!(pair.band_count(), left.band_count());
            let bands = left.band_count();
            let (mut out, mut out_left, mut out_right) =
                (vec![[0.0; 2]; bands], vec![0.0; bands], vec![0.0; bands]);
            let mut noise = crate::dither::NoiseSource::new(3);
            for n in 0..20_000 {
                // Full-scale noise, then silence long enough for every state to flush.
                let x = if n < 5_000 {
                    [2.0 * noise.next_uniform(), noise.next_uniform()]
                } else {
                    [0.0; 2]
                };
                pair.split_frame(x, &mut out);
                left.split_sample(x[0], &mut out_left);
                right.split_sample(x[1], &mut out_right);
                for band in 0..bands {
                    worst = worst.max((out[band][0] - out_left[band]).abs());
                    worst = worst.max((out[band][1] - out_right[band]).abs());
                }
            }
            // Silence comes out as exact zeros once the tiny states are flushed.
            assert!(out.iter().flatten().all(|&x| x == 0.0));
        }
        assert!(worst < 1e-12, "{worst:e}");
        println!("stereo splitter vs scalar: worst difference {worst:.1e}");
    }

    #[test]
    fn stereo_splitter_block_and_frame_paths_agree() {
        // 1 to 5 crossovers: the unrolled paths and the generic one.
        let all = [100.0, 400.0, 1_600.0, 6_400.0, 12_000.0];
        for count in 0..=all.len() {
            let mut by_frame = StereoBandSplitter::new(&all[..count], 48_000.0);
            let mut by_block = by_frame.clone();
            let bands = by_frame.band_count();
            let mut noise = crate::dither::NoiseSource::new(9);
            let input: Vec<[f64; 2]> = (0..1_000)
                .map(|_| [noise.next_uniform(), noise.next_uniform()])
                .collect();
            let mut expected = Vec::new();
            let mut out = vec![[0.0; 2]; bands];
            for &x in &input {
                by_frame.split_frame(x, &mut out);
                expected.extend_from_slice(&out);
            }
            let mut actual = Vec::new();
            let mut start = 0;
            for len in [1, 63, 64, 100, 772] {
                by_block.split_frames(
                    len,
                    |n| input[start + n],
                    |_, bands| actual.extend_from_slice(bands),
                );
                start += len;
            }
            assert_eq!(actual, expected, "{count} crossovers");
            by_block.reset();
            by_frame.reset();
            by_block.split_frames(1, |_| [1.0, -1.0], |_, bands| out.copy_from_slice(bands));
            let mut again = vec![[0.0; 2]; bands];
            by_frame.split_frame([1.0, -1.0], &mut again);
            assert_eq!(out, again);
        }
    }

    #[test]
    fn single_band_is_the_input_and_reset_restarts() {
        let mut splitter = BandSplitter::new(&[], 48_000.0);
        assert_eq!(splitter.band_count(), 1);
        let mut out = [0.0];
        splitter.split_sample(0.25, &mut out);
        assert_eq!(out, [0.25]);

        let mut splitter = BandSplitter::new(&[200.0, 3_000.0], 48_000.0);
        let first = band_impulse_responses(&mut splitter, 256);
        splitter.reset();
        assert_eq!(band_impulse_responses(&mut splitter, 256), first);
        assert_eq!(splitter.crossovers_hz(), &[200.0, 3_000.0]);
    }
}
