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
