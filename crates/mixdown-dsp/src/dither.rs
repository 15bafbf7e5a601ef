//! Word-length reduction with TPDF (triangular probability density) dither.
//!
//! Adding the sum of two independent uniform variables of ±½ LSB before rounding
//! makes the quantisation error's first and second moments independent of the
//! signal (Lipshitz, Wannamaker & Vanderkooy, "Quantization and Dither: A
//! Theoretical Survey", JAES 40(5), 1992). The total error power is then
//! Δ²/12 (rounding) + 2·Δ²/12 (dither) = Δ²/4, where Δ is one LSB.
//!
//! Optionally the total error (rounding and dither) is noise-shaped by error
//! feedback: the quantiser input is `x − Σ hₖ·ε[n−k]`, so the output error is
//! `ε` filtered by `N(z) = 1 − Σ hₖ z⁻ᵏ`, moving noise out of the 1–6 kHz region
//! where hearing is most sensitive and into the top octave. The filter is
//! Wannamaker's 3-tap "modified E-weighted" design for 44.1 kHz ("Psychoacoustically
//! Optimal Noise Shaping", JAES 40(7/8), 1992), used at 44.1 and 48 kHz.

/// A small, fast, seedable generator (xorshift64*, Vigna 2014).
///
/// Hand-written instead of using `rand` because dither must give the same bytes
/// on every platform and every dependency version (reproducible masters), must not
/// allocate, and only needs uniform floats.
#[derive(Debug, Clone)]
pub struct NoiseSource {
    state: u64,
}

impl NoiseSource {
    /// A generator with the given seed (zero is remapped, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed ^ 0x9E37_79B9_7F4A_7C15 | 1,
        }
    }

    /// Next raw 64-bit value.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[-0.5, 0.5)`.
    #[inline]
    pub fn next_uniform(&mut self) -> f64 {
        // The top 53 bits give every representable double in [0, 1) with equal spacing.
        // Through `i64` (exact below 2^53): one signed conversion instruction, where
        // x86-64 before AVX-512 has none for unsigned 64-bit integers.
        ((self.next_u64() >> 11) as i64) as f64 * (1.0 / (1u64 << 53) as f64) - 0.5
    }

    /// Triangular in `(-1, 1)`: the sum of two independent uniforms.
    #[inline]
    pub fn next_triangular(&mut self) -> f64 {
        self.next_uniform() + self.next_uniform()
    }
}

/// Error-feedback coefficients `hₖ` of the noise shaper (Wannamaker 1992, 3-tap
/// modified E-weighting for 44.1 kHz).
pub const NOISE_SHAPING_COEFFS: [f64; 3] = [1.623, -0.982, 0.109];

/// Rates (Hz) the noise-shaping filter is designed for; elsewhere plain TPDF is used.
pub const NOISE_SHAPING_RATES_HZ: [u32; 2] = [44_100, 48_000];

/// The largest fed-back error, LSB: rounding and TPDF dither stay within ±1.5; a
/// clipped sample's error is bounded so the loop cannot run away.
const MAX_FEEDBACK_LSB: f64 = 1.5;

/// Gain of the noise-shaping filter `N(z) = 1 − Σ hₖ z⁻ᵏ` at `freq_hz`: the factor by
/// which shaped dither's error spectrum differs from plain TPDF's.
pub fn noise_shaping_gain(freq_hz: f64, sample_rate_hz: f64) -> f64 {
    let w = std::f64::consts::TAU * freq_hz / sample_rate_hz;
    let (mut re, mut im) = (1.0, 0.0);
    for (k, h) in NOISE_SHAPING_COEFFS.iter().enumerate() {
        let phase = w * (k + 1) as f64;
        re -= h * phase.cos();
        im += h * phase.sin();
    }
    re.hypot(im)
}

/// Quantises float samples (±1.0 full scale) to signed integers of `bits` bits.
#[derive(Debug, Clone)]
pub struct Quantizer {
    bits: u32,
    scale: f64,
    /// `1 / scale`, exact (a power of two): a multiply instead of a divide per sample.
    lsb: f64,
    max_code: f64,
    min_code: f64,
    noise: Option<NoiseSource>,
    /// Per channel, the last errors fed back (most recent first), when noise-shaping.
    shaping: Option<Vec<[f64; 3]>>,
}

impl Quantizer {
    /// A quantiser to `bits` (2..=32) with TPDF dither seeded by `seed`.
    pub fn with_tpdf_dither(bits: u32, seed: u64) -> Self {
        Self::build(bits, Some(NoiseSource::new(seed)))
    }

    /// A quantiser to `bits` with TPDF dither whose total error is noise-shaped, for
    /// `channel_count` interleaved channels at `sample_rate_hz`. At rates the shaping
    /// filter is not designed for ([`NOISE_SHAPING_RATES_HZ`]) it is plain TPDF.
    pub fn with_shaped_dither(
        bits: u32,
        seed: u64,
        channel_count: usize,
        sample_rate_hz: u32,
    ) -> Self {
        let mut quantizer = Self::with_tpdf_dither(bits, seed);
        if NOISE_SHAPING_RATES_HZ.contains(&sample_rate_hz) {
            quantizer.shaping = Some(vec![[0.0; 3]; channel_count.max(1)]);
        }
        quantizer
    }

    /// A quantiser to `bits` that only rounds (for lossless paths, e.g. float → same depth).
    pub fn without_dither(bits: u32) -> Self {
        Self::build(bits, None)
    }

    fn build(bits: u32, noise: Option<NoiseSource>) -> Self {
        assert!((2..=32).contains(&bits), "bit depth must be 2..=32");
        let scale = (1u64 << (bits - 1)) as f64;
        Self {
            bits,
            scale,
            lsb: 1.0 / scale,
            max_code: scale - 1.0,
            min_code: -scale,
            noise,
            shaping: None,
        }
    }

    /// Whether the dither is noise-shaped.
    pub fn is_noise_shaped(&self) -> bool {
        self.shaping.is_some()
    }

    /// Target bit depth.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Whether TPDF dither is applied.
    pub fn is_dithered(&self) -> bool {
        self.noise.is_some()
    }

    /// One sample to its integer code; values beyond full scale clip.
    #[inline]
    pub fn quantize(&mut self, sample: f32) -> i32 {
        self.quantize_channel(0, sample)
    }

    /// One sample of `channel` to its integer code (the channel selects the
    /// noise-shaping state; without shaping it does not matter). Samples must come in
    /// time order per channel; channels may interleave.
    #[inline]
    pub fn quantize_channel(&mut self, channel: usize, sample: f32) -> i32 {
        let mut value = f64::from(sample) * self.scale;
        let history = self
            .shaping
            .as_mut()
            .and_then(|states| states.get_mut(channel));
        if let Some(errors) = &history {
            value -= NOISE_SHAPING_COEFFS
                .iter()
                .zip(errors.iter())
                .map(|(h, e)| h * e)
                .sum::<f64>();
        }
        let mut dithered = value;
        if let Some(noise) = self.noise.as_mut() {
            dithered += noise.next_triangular();
        }
        let code = round_half_away(dithered.clamp(self.min_code, self.max_code));
        if let Some(errors) = history {
            let error = (code - value).clamp(-MAX_FEEDBACK_LSB, MAX_FEEDBACK_LSB);
            *errors = [error, errors[0], errors[1]];
        }
        code as i32
    }

    /// Quantises the first `frames` frames of `channels` in place, frame by frame
    /// across channels (the order [`quantize_channel`](Self::quantize_channel) needs),
    /// leaving each sample at the value of its code ([`code_to_sample`](Self::code_to_sample)).
    /// The same arithmetic as sample by sample; plain TPDF dither, the common case,
    /// runs in a loop with the generator's state in a register.
    pub fn quantize_in_place(&mut self, channels: &mut [Vec<f32>], frames: usize) {
        let (scale, lsb) = (self.scale, self.lsb);
        let (min_code, max_code) = (self.min_code, self.max_code);
        match (&mut self.noise, &self.shaping, channels) {
            (Some(noise), None, [left, right]) => {
                #[inline(always)]
                fn quantize(
                    x: &mut f32,
                    noise: &mut NoiseSource,
                    scale: (f64, f64),
                    codes: (f64, f64),
                ) {
                    let dithered = f64::from(*x) * scale.0 + noise.next_triangular();
                    *x = (round_half_away(dithered.clamp(codes.0, codes.1)) * scale.1) as f32;
                }
                let mut local = noise.clone();
                let codes = (min_code, max_code);
                for (l, r) in left[..frames].iter_mut().zip(&mut right[..frames]) {
                    quantize(l, &mut local, (scale, lsb), codes);
                    quantize(r, &mut local, (scale, lsb), codes);
                }
                *noise = local;
            }
            (_, _, channels) => {
                for frame in 0..frames {
                    for (channel, samples) in channels.iter_mut().enumerate() {
                        let code = self.quantize_channel(channel, samples[frame]);
                        samples[frame] = self.code_to_sample(code);
                    }
                }
            }
        }
    }

    /// The float value an integer code stands for.
    #[inline]
    pub fn code_to_sample(&self, code: i32) -> f32 {
        (f64::from(code) * self.lsb) as f32
    }

    /// One LSB in full-scale units.
    pub fn lsb(&self) -> f64 {
        self.lsb
    }
}

/// `x` rounded to the nearest integer, halves away from zero: the same value as
/// `f64::round` for |x| < 2^52, without its library call (x86-64 without SSE4.1 has
/// no rounding instruction), which cost a few percent of a mastering run when made
/// for every sample. Beyond 2^52 every `f64` is an integer already; NaN gives 0.
#[inline]
pub fn round_half_away(x: f64) -> f64 {
    if x.abs() >= (1u64 << 52) as f64 {
        return x;
    }
    // Truncation toward zero is one instruction; the remainder is exact.
    let truncated = x as i64 as f64;
    let remainder = x - truncated;
    // Selects rather than branches: with dither the remainder is random, and a
    // mispredicted branch per sample cost more than the arithmetic. The result has
    // the sign of `x`, as `round`'s has (−0.3 gives −0.0).
    (truncated + f64::from(u8::from(remainder >= 0.5)) - f64::from(u8::from(remainder <= -0.5)))
        .copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizing_in_place_is_quantizing_sample_by_sample() {
        let mut noise = NoiseSource::new(11);
        for channel_count in [1usize, 2, 3] {
            let input: Vec<Vec<f32>> = (0..channel_count)
                .map(|_| {
                    (0..5_000)
                        .map(|_| (noise.next_uniform() * 2.4) as f32)
                        .collect()
                })
                .collect();
            let quantizers = [
                Quantizer::with_tpdf_dither(16, 5),
                Quantizer::with_shaped_dither(16, 5, channel_count, 44_100),
                Quantizer::without_dither(24),
            ];
            for quantizer in quantizers {
                let (mut block_wise, mut sample_wise) = (quantizer.clone(), quantizer);
                let mut in_place = input.clone();
                // Two calls: the generator's state carries over.
                block_wise.quantize_in_place(&mut in_place, 1_234);
                let mut rest: Vec<Vec<f32>> =
                    in_place.iter().map(|c| c[1_234..].to_vec()).collect();
                block_wise.quantize_in_place(&mut rest, 5_000 - 1_234);
                for (channel, rest) in in_place.iter_mut().zip(&rest) {
                    channel[1_234..].copy_from_slice(rest);
                }
                for frame in 0..5_000 {
                    for (channel, samples) in input.iter().enumerate() {
                        let code = sample_wise.quantize_channel(channel, samples[frame]);
                        let expected = sample_wise.code_to_sample(code);
                        assert_eq!(in_place[channel][frame].to_bits(), expected.to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn round_half_away_is_f64_round() {
        let mut noise = NoiseSource::new(3);
        let special = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -2.5,
            0.499_999_999_999_999_94,
            -0.499_999_999_999_999_94,
            4_503_599_627_370_495.5,
            9.0e15,
            -8_388_608.5,
            f64::INFINITY,
        ];
        let random = (0..100_000).map(|i| noise.next_uniform() * 10f64.powi(i % 12));
        for x in special.into_iter().chain(random) {
            assert_eq!(round_half_away(x).to_bits(), x.round().to_bits(), "{x}");
        }
        assert_eq!(round_half_away(f64::NAN) as i32, 0);
    }
    use crate::units::power_to_db;

    fn error_power(quantizer: &mut Quantizer, signal: &[f32]) -> f64 {
        let sum: f64 = signal
            .iter()
            .map(|&x| {
                let code = quantizer.quantize(x);
                let y = quantizer.code_to_sample(code);
                let e = f64::from(y) - f64::from(x);
                e * e
            })
            .sum();
        sum / signal.len() as f64
    }

    fn sine(amplitude: f64, freq_hz: f64, rate_hz: f64, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|n| {
                (amplitude * (std::f64::consts::TAU * freq_hz * n as f64 / rate_hz).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn uniform_and_triangular_moments() {
        let mut noise = NoiseSource::new(7);
        let n = 400_000;
        let (mut s, mut s2, mut t2) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let u = noise.next_uniform();
            assert!((-0.5..0.5).contains(&u));
            s += u;
            s2 += u * u;
            let t = noise.next_triangular();
            t2 += t * t;
        }
        assert!((s / n as f64).abs() < 3e-3);
        assert!((s2 / n as f64 - 1.0 / 12.0).abs() < 1e-3);
        assert!((t2 / n as f64 - 1.0 / 6.0).abs() < 2e-3);
    }

    #[test]
    fn tpdf_error_power_is_a_quarter_lsb_squared() {
        // Theory: rounding Δ²/12 plus TPDF Δ²/6 = Δ²/4, whatever the signal.
        let signal = sine(0.3, 997.0, 48_000.0, 200_000);
        let mut q = Quantizer::with_tpdf_dither(16, 1);
        let lsb = q.lsb();
        let measured_db = power_to_db(error_power(&mut q, &signal));
        let theory_db = power_to_db(lsb * lsb / 4.0);
        assert!(
            (measured_db - theory_db).abs() < 0.1,
            "measured {measured_db:.3} dB vs theory {theory_db:.3} dB"
        );
        // For 16 bits: 20·log10(2^-15) − 6.02 = −96.33 dB re full-scale DC power.
        assert!((theory_db + 96.33).abs() < 0.01);
    }

    #[test]
    fn undithered_error_power_is_a_twelfth_lsb_squared_on_busy_signals() {
        let signal = sine(0.3, 997.0, 48_000.0, 200_000);
        let mut q = Quantizer::without_dither(16);
        let lsb = q.lsb();
        let measured_db = power_to_db(error_power(&mut q, &signal));
        let theory_db = power_to_db(lsb * lsb / 12.0);
        assert!((measured_db - theory_db).abs() < 0.2);
    }

    /// The quantisation errors (LSB) of `signal` through `quantizer` on one channel.
    fn errors_lsb(quantizer: &mut Quantizer, signal: &[f32]) -> Vec<f64> {
        let scale = 1.0 / quantizer.lsb();
        signal
            .iter()
            .map(|&x| {
                let code = quantizer.quantize_channel(0, x);
                f64::from(code) - f64::from(x) * scale
            })
            .collect()
    }

    /// Mean power of `errors` around `freq_hz` (Hann-windowed 2048-point segments,
    /// five neighbouring bins), arbitrary units.
    fn band_power(errors: &[f64], freq_hz: f64, rate_hz: f64) -> f64 {
        let len = 2048;
        let bin_hz = rate_hz / len as f64;
        let mut total = 0.0;
        let mut count = 0;
        for segment in errors.chunks_exact(len) {
            for offset in -2..=2 {
                let w = std::f64::consts::TAU * (freq_hz + f64::from(offset) * bin_hz) / rate_hz;
                let (mut re, mut im) = (0.0, 0.0);
                for (n, e) in segment.iter().enumerate() {
                    let hann = 0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / len as f64).cos();
                    let (sin, cos) = (w * n as f64).sin_cos();
                    re += hann * e * cos;
                    im -= hann * e * sin;
                }
                total += re * re + im * im;
                count += 1;
            }
        }
        total / f64::from(count)
    }

    #[test]
    fn shaped_dither_error_follows_the_shaping_filter() {
        let rate = 44_100.0;
        let signal = sine(0.01, 441.0, rate, 200_000);
        let mut plain = Quantizer::with_tpdf_dither(16, 5);
        let mut shaped = Quantizer::with_shaped_dither(16, 5, 1, 44_100);
        assert!(shaped.is_noise_shaped() && !plain.is_noise_shaped());
        let plain_errors = errors_lsb(&mut plain, &signal);
        let shaped_errors = errors_lsb(&mut shaped, &signal);
        for freq_hz in [2_000.0, 4_000.0, 8_000.0, 12_000.0, 18_000.0] {
            let measured_db = 10.0
                * (band_power(&shaped_errors, freq_hz, rate)
                    / band_power(&plain_errors, freq_hz, rate))
                .log10();
            let expected_db = 20.0 * noise_shaping_gain(freq_hz, rate).log10();
            assert!(
                (measured_db - expected_db).abs() < 1.0,
                "{freq_hz} Hz: measured {measured_db:+.2} dB, filter {expected_db:+.2} dB"
            );
        }
        // Less noise where hearing is most sensitive, more at the top.
        assert!(noise_shaping_gain(3_000.0, rate) < 0.5);
        assert!(noise_shaping_gain(18_000.0, rate) > 2.0);
        // White error through N(z): total power × (1 + Σ hₖ²).
        let power = |e: &[f64]| e.iter().map(|x| x * x).sum::<f64>() / e.len() as f64;
        let gain: f64 = 1.0 + NOISE_SHAPING_COEFFS.iter().map(|h| h * h).sum::<f64>();
        let ratio_db = 10.0 * (power(&shaped_errors) / power(&plain_errors)).log10();
        assert!((ratio_db - 10.0 * gain.log10()).abs() < 0.3, "{ratio_db}");
    }

    #[test]
    fn shaped_dither_survives_clipping_and_odd_rates() {
        let mut shaped = Quantizer::with_shaped_dither(16, 9, 2, 48_000);
        // Far beyond full scale, then quiet: the feedback stays bounded.
        for n in 0..10_000 {
            let x = if (n / 50) % 2 == 0 { 3.0 } else { -3.0 };
            for channel in 0..2 {
                let code = shaped.quantize_channel(channel, x);
                assert!(code == 32_767 || code == -32_768);
            }
        }
        let quiet = sine(0.001, 1_000.0, 48_000.0, 48_000);
        let errors = errors_lsb(&mut shaped, &quiet);
        let tail = &errors[1_000..];
        let power = tail.iter().map(|x| x * x).sum::<f64>() / tail.len() as f64;
        let gain: f64 = 1.0 + NOISE_SHAPING_COEFFS.iter().map(|h| h * h).sum::<f64>();
        assert!(
            (10.0 * (power / (0.25 * gain)).log10()).abs() < 0.5,
            "{power}"
        );
        assert!(!Quantizer::with_shaped_dither(24, 1, 2, 96_000).is_noise_shaped());
    }

    #[test]
    fn clips_at_integer_full_scale() {
        let mut q = Quantizer::without_dither(16);
        assert_eq!(q.quantize(2.0), 32_767);
        assert_eq!(q.quantize(-2.0), -32_768);
        assert_eq!(q.quantize(0.0), 0);
        let mut q24 = Quantizer::with_tpdf_dither(24, 3);
        assert!(q24.quantize(1.0) <= 8_388_607);
    }

    #[test]
    fn same_seed_same_codes() {
        let signal = sine(0.1, 440.0, 44_100.0, 1000);
        let mut a = Quantizer::with_tpdf_dither(16, 42);
        let mut b = Quantizer::with_tpdf_dither(16, 42);
        for &x in &signal {
            assert_eq!(a.quantize(x), b.quantize(x));
        }
    }
}
