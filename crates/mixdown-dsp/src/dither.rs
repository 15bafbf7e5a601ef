//! Word-length reduction with TPDF (triangular probability density) dither.
//!
//! Adding the sum of two independent uniform variables of ±½ LSB before rounding
//! makes the quantisation error's first and second moments independent of the
//! signal (Lipshitz, Wannamaker & Vanderkooy, "Quantization and Dither: A
//! Theoretical Survey", JAES 40(5), 1992). The total error power is then
//! Δ²/12 (rounding) + 2·Δ²/12 (dither) = Δ²/4, where Δ is one LSB.

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
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) - 0.5
    }

    /// Triangular in `(-1, 1)`: the sum of two independent uniforms.
    #[inline]
    pub fn next_triangular(&mut self) -> f64 {
        self.next_uniform() + self.next_uniform()
    }
}

/// Quantises float samples (±1.0 full scale) to signed integers of `bits` bits.
#[derive(Debug, Clone)]
pub struct Quantizer {
    bits: u32,
    scale: f64,
    max_code: f64,
    min_code: f64,
    noise: Option<NoiseSource>,
}

impl Quantizer {
    /// A quantiser to `bits` (2..=32) with TPDF dither seeded by `seed`.
    pub fn with_tpdf_dither(bits: u32, seed: u64) -> Self {
        Self::build(bits, Some(NoiseSource::new(seed)))
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
            max_code: scale - 1.0,
            min_code: -scale,
            noise,
        }
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
        let mut value = f64::from(sample) * self.scale;
        if let Some(noise) = self.noise.as_mut() {
            value += noise.next_triangular();
        }
        value.round().clamp(self.min_code, self.max_code) as i32
    }

    /// The float value an integer code stands for.
    #[inline]
    pub fn code_to_sample(&self, code: i32) -> f32 {
        (f64::from(code) / self.scale) as f32
    }

    /// One LSB in full-scale units.
    pub fn lsb(&self) -> f64 {
        1.0 / self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
