//! Second-order IIR sections designed with the formulas of Robert Bristow-Johnson's
//! "Cookbook formulae for audio EQ biquad filter coefficients" (RBJ cookbook),
//! run in transposed direct form II with `f64` state.

use std::f64::consts::{PI, TAU};

/// The RBJ cookbook filter shapes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BiquadKind {
    /// Second-order low-pass; `q = 1/√2` gives Butterworth.
    LowPass,
    /// Second-order high-pass; `q = 1/√2` gives Butterworth.
    HighPass,
    /// Peaking (bell) EQ boosting or cutting `gain_db` at the centre.
    Bell {
        /// Gain at the centre frequency.
        gain_db: f64,
    },
    /// Low shelf: `gain_db` below the corner, unity above.
    LowShelf {
        /// Shelf gain.
        gain_db: f64,
    },
    /// High shelf: `gain_db` above the corner, unity below.
    HighShelf {
        /// Shelf gain.
        gain_db: f64,
    },
    /// Band-reject with a zero at the centre frequency.
    Notch,
    /// Second-order all-pass: unity magnitude, phase turning through −180° at the
    /// centre frequency (used to phase-compensate Linkwitz-Riley band splits).
    AllPass,
}

/// Normalised biquad coefficients (`a0 = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BiquadCoefficients {
    /// Feed-forward coefficients.
    pub b0: f64,
    /// Feed-forward coefficient for x[n-1].
    pub b1: f64,
    /// Feed-forward coefficient for x[n-2].
    pub b2: f64,
    /// Feedback coefficient for y[n-1].
    pub a1: f64,
    /// Feedback coefficient for y[n-2].
    pub a2: f64,
}

impl BiquadCoefficients {
    /// Unity pass-through.
    pub const IDENTITY: Self = Self {
        b0: 1.0,
        b1: 0.0,
        b2: 0.0,
        a1: 0.0,
        a2: 0.0,
    };

    /// Designs a section; `freq_hz` must lie in (0, Nyquist) and `q > 0`
    /// (validated by callers that take user input).
    pub fn design(kind: BiquadKind, freq_hz: f64, q: f64, sample_rate_hz: f64) -> Self {
        let w0 = TAU * freq_hz / sample_rate_hz;
        let (sin_w0, cos_w0) = w0.sin_cos();
        let alpha = sin_w0 / (2.0 * q);
        let (b0, b1, b2, a0, a1, a2) = match kind {
            BiquadKind::LowPass => {
                let b1 = 1.0 - cos_w0;
                (
                    b1 / 2.0,
                    b1,
                    b1 / 2.0,
                    1.0 + alpha,
                    -2.0 * cos_w0,
                    1.0 - alpha,
                )
            }
            BiquadKind::HighPass => {
                let b1 = -(1.0 + cos_w0);
                (
                    -b1 / 2.0,
                    b1,
                    -b1 / 2.0,
                    1.0 + alpha,
                    -2.0 * cos_w0,
                    1.0 - alpha,
                )
            }
            BiquadKind::Bell { gain_db } => {
                let a = 10f64.powf(gain_db / 40.0);
                (
                    1.0 + alpha * a,
                    -2.0 * cos_w0,
                    1.0 - alpha * a,
                    1.0 + alpha / a,
                    -2.0 * cos_w0,
                    1.0 - alpha / a,
                )
            }
            BiquadKind::LowShelf { gain_db } => {
                let a = 10f64.powf(gain_db / 40.0);
                let two_sqrt_a_alpha = 2.0 * a.sqrt() * alpha;
                (
                    a * ((a + 1.0) - (a - 1.0) * cos_w0 + two_sqrt_a_alpha),
                    2.0 * a * ((a - 1.0) - (a + 1.0) * cos_w0),
                    a * ((a + 1.0) - (a - 1.0) * cos_w0 - two_sqrt_a_alpha),
                    (a + 1.0) + (a - 1.0) * cos_w0 + two_sqrt_a_alpha,
                    -2.0 * ((a - 1.0) + (a + 1.0) * cos_w0),
                    (a + 1.0) + (a - 1.0) * cos_w0 - two_sqrt_a_alpha,
                )
            }
            BiquadKind::HighShelf { gain_db } => {
                let a = 10f64.powf(gain_db / 40.0);
                let two_sqrt_a_alpha = 2.0 * a.sqrt() * alpha;
                (
                    a * ((a + 1.0) + (a - 1.0) * cos_w0 + two_sqrt_a_alpha),
                    -2.0 * a * ((a - 1.0) + (a + 1.0) * cos_w0),
                    a * ((a + 1.0) + (a - 1.0) * cos_w0 - two_sqrt_a_alpha),
                    (a + 1.0) - (a - 1.0) * cos_w0 + two_sqrt_a_alpha,
                    2.0 * ((a - 1.0) - (a + 1.0) * cos_w0),
                    (a + 1.0) - (a - 1.0) * cos_w0 - two_sqrt_a_alpha,
                )
            }
            BiquadKind::Notch => (
                1.0,
                -2.0 * cos_w0,
                1.0,
                1.0 + alpha,
                -2.0 * cos_w0,
                1.0 - alpha,
            ),
            BiquadKind::AllPass => (
                1.0 - alpha,
                -2.0 * cos_w0,
                1.0 + alpha,
                1.0 + alpha,
                -2.0 * cos_w0,
                1.0 - alpha,
            ),
        };
        Self {
            b0: b0 / a0,
            b1: b1 / a0,
            b2: b2 / a0,
            a1: a1 / a0,
            a2: a2 / a0,
        }
    }

    /// Magnitude of the transfer function at `freq_hz`, evaluated on the unit circle.
    pub fn magnitude_at(&self, freq_hz: f64, sample_rate_hz: f64) -> f64 {
        let w = 2.0 * PI * freq_hz / sample_rate_hz;
        let (s1, c1) = w.sin_cos();
        let (s2, c2) = (2.0 * w).sin_cos();
        let num_re = self.b0 + self.b1 * c1 + self.b2 * c2;
        let num_im = -(self.b1 * s1 + self.b2 * s2);
        let den_re = 1.0 + self.a1 * c1 + self.a2 * c2;
        let den_im = -(self.a1 * s1 + self.a2 * s2);
        (num_re.hypot(num_im)) / (den_re.hypot(den_im))
    }
}

/// One biquad section with its state (transposed direct form II, `f64`).
#[derive(Debug, Clone, Copy)]
pub struct Biquad {
    coefficients: BiquadCoefficients,
    s1: f64,
    s2: f64,
}

impl Biquad {
    /// A section with cleared state.
    pub fn new(coefficients: BiquadCoefficients) -> Self {
        Self {
            coefficients,
            s1: 0.0,
            s2: 0.0,
        }
    }

    /// The section's coefficients.
    pub fn coefficients(&self) -> BiquadCoefficients {
        self.coefficients
    }

    /// Replaces the coefficients, keeping the state (for smooth parameter changes).
    pub fn set_coefficients(&mut self, coefficients: BiquadCoefficients) {
        self.coefficients = coefficients;
    }

    /// Clears the state.
    pub fn reset(&mut self) {
        self.s1 = 0.0;
        self.s2 = 0.0;
    }

    /// Filters one sample.
    #[inline]
    pub fn process_sample(&mut self, x: f64) -> f64 {
        let y = self.tick(x);
        self.flush_denormals();
        y
    }

    /// One sample without the subnormal check: for loops that call
    /// [`flush_denormals`](Self::flush_denormals) once per block instead (the check
    /// costs a branch per sample and section; the same arithmetic otherwise).
    #[inline(always)]
    pub fn tick(&mut self, x: f64) -> f64 {
        let c = &self.coefficients;
        let y = c.b0 * x + self.s1;
        self.s1 = c.b1 * x - c.a1 * y + self.s2;
        self.s2 = c.b2 * x - c.a2 * y;
        y
    }

    /// A filter ringing out into silence decays into subnormal numbers, which run
    /// ~100× slower on x86; anything this small is inaudible, so flush it to zero.
    #[inline(always)]
    pub fn flush_denormals(&mut self) {
        if self.s1.abs() < 1e-30 {
            self.s1 = 0.0;
            self.s2 = 0.0;
        }
    }

    /// Filters a slice in place.
    pub fn process_slice(&mut self, samples: &mut [f32]) {
        for s in samples {
            *s = self.process_sample(f64::from(*s)) as f32;
        }
    }
}

/// A biquad section filtering a stereo pair with shared coefficients: the same
/// arithmetic as [`Biquad::tick`] on each channel, written lane-wise on `[f64; 2]` so
/// the compiler runs both channels in one SIMD register (SSE2, always present on
/// x86-64): half the instructions of two scalar sections.
#[derive(Debug, Clone, Copy)]
pub struct StereoBiquad {
    b0: [f64; 2],
    b1: [f64; 2],
    b2: [f64; 2],
    a1: [f64; 2],
    a2: [f64; 2],
    s1: [f64; 2],
    s2: [f64; 2],
}

impl StereoBiquad {
    /// A section with cleared state.
    pub fn new(c: BiquadCoefficients) -> Self {
        Self {
            b0: [c.b0; 2],
            b1: [c.b1; 2],
            b2: [c.b2; 2],
            a1: [c.a1; 2],
            a2: [c.a2; 2],
            s1: [0.0; 2],
            s2: [0.0; 2],
        }
    }

    /// Clears the state.
    pub fn reset(&mut self) {
        self.s1 = [0.0; 2];
        self.s2 = [0.0; 2];
    }

    /// One stereo frame, `[left, right]`.
    #[inline(always)]
    pub fn tick(&mut self, x: [f64; 2]) -> [f64; 2] {
        let mut y = [0.0; 2];
        for ch in 0..2 {
            y[ch] = self.b0[ch] * x[ch] + self.s1[ch];
            self.s1[ch] = self.b1[ch] * x[ch] - self.a1[ch] * y[ch] + self.s2[ch];
            self.s2[ch] = self.b2[ch] * x[ch] - self.a2[ch] * y[ch];
        }
        y
    }

    /// As [`Biquad::flush_denormals`], per channel.
    pub fn flush_denormals(&mut self) {
        for ch in 0..2 {
            if self.s1[ch].abs() < 1e-30 {
                self.s1[ch] = 0.0;
                self.s2[ch] = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::gain_to_db;
    use std::f64::consts::FRAC_1_SQRT_2;

    const FS: f64 = 48_000.0;

    /// Measures the steady-state gain of `section` for a sine at `freq_hz` by running it.
    fn measured_gain(coefficients: BiquadCoefficients, freq_hz: f64) -> f64 {
        let mut section = Biquad::new(coefficients);
        let n = 48_000;
        let settle = 24_000;
        let (mut in_pow, mut out_pow) = (0.0, 0.0);
        for i in 0..n {
            let x = (TAU * freq_hz * i as f64 / FS).sin();
            let y = section.process_sample(x);
            if i >= settle {
                in_pow += x * x;
                out_pow += y * y;
            }
        }
        (out_pow / in_pow).sqrt()
    }

    #[test]
    fn butterworth_lowpass_matches_bilinear_formula() {
        // Bilinear transform of the 2nd-order Butterworth prototype with prewarping:
        // |H(e^jw)|^2 = 1 / (1 + (tan(w/2) / tan(w0/2))^4).
        let fc = 1_000.0;
        let c = BiquadCoefficients::design(BiquadKind::LowPass, fc, FRAC_1_SQRT_2, FS);
        for f in [20.0, 100.0, 500.0, 1_000.0, 2_000.0, 8_000.0, 20_000.0] {
            let ratio = (PI * f / FS).tan() / (PI * fc / FS).tan();
            let analytic_db = gain_to_db(1.0 / (1.0 + ratio.powi(4)).sqrt());
            let computed_db = gain_to_db(c.magnitude_at(f, FS));
            assert!(
                (computed_db - analytic_db).abs() < 1e-6,
                "{f} Hz: {computed_db} vs {analytic_db}"
            );
        }
        assert!((gain_to_db(c.magnitude_at(fc, FS)) + 3.0103).abs() < 1e-3);
    }

    #[test]
    fn butterworth_highpass_matches_bilinear_formula() {
        let fc = 80.0;
        let c = BiquadCoefficients::design(BiquadKind::HighPass, fc, FRAC_1_SQRT_2, FS);
        for f in [10.0, 40.0, 80.0, 160.0, 1_000.0, 15_000.0] {
            let ratio = (PI * fc / FS).tan() / (PI * f / FS).tan();
            let analytic_db = gain_to_db(1.0 / (1.0 + ratio.powi(4)).sqrt());
            let computed_db = gain_to_db(c.magnitude_at(f, FS));
            assert!((computed_db - analytic_db).abs() < 1e-6);
        }
    }

    #[test]
    fn bell_and_shelves_hit_their_defining_gains() {
        let bell = BiquadCoefficients::design(BiquadKind::Bell { gain_db: 4.5 }, 3_000.0, 1.0, FS);
        assert!((gain_to_db(bell.magnitude_at(3_000.0, FS)) - 4.5).abs() < 1e-9);
        assert!(gain_to_db(bell.magnitude_at(1e-3, FS)).abs() < 1e-6);
        assert!(gain_to_db(bell.magnitude_at(FS / 2.0 - 1e-6, FS)).abs() < 1e-6);

        let low = BiquadCoefficients::design(
            BiquadKind::LowShelf { gain_db: -6.0 },
            200.0,
            FRAC_1_SQRT_2,
            FS,
        );
        assert!((gain_to_db(low.magnitude_at(1e-3, FS)) + 6.0).abs() < 1e-6);
        // The cookbook shelf passes half its gain (in dB) at the corner frequency.
        assert!((gain_to_db(low.magnitude_at(200.0, FS)) + 3.0).abs() < 1e-9);
        assert!(gain_to_db(low.magnitude_at(FS / 2.0 - 1e-6, FS)).abs() < 1e-6);

        let high = BiquadCoefficients::design(
            BiquadKind::HighShelf { gain_db: 3.0 },
            8_000.0,
            FRAC_1_SQRT_2,
            FS,
        );
        assert!((gain_to_db(high.magnitude_at(FS / 2.0 - 1e-6, FS)) - 3.0).abs() < 1e-6);
        assert!((gain_to_db(high.magnitude_at(8_000.0, FS)) - 1.5).abs() < 1e-9);
        assert!(gain_to_db(high.magnitude_at(1e-3, FS)).abs() < 1e-6);

        let notch = BiquadCoefficients::design(BiquadKind::Notch, 1_000.0, 2.0, FS);
        assert!(notch.magnitude_at(1_000.0, FS) < 1e-9);
    }

    #[test]
    fn allpass_has_unit_magnitude_everywhere() {
        for (fc, q) in [
            (120.0, FRAC_1_SQRT_2),
            (2_500.0, FRAC_1_SQRT_2),
            (9_000.0, 3.0),
        ] {
            let c = BiquadCoefficients::design(BiquadKind::AllPass, fc, q, FS);
            let mut f = 1.0;
            while f < FS / 2.0 {
                assert!(
                    gain_to_db(c.magnitude_at(f, FS)).abs() < 1e-9,
                    "{fc} Hz all-pass at {f} Hz"
                );
                f *= 1.05;
            }
            for f in [50.0, 1_000.0, 10_000.0] {
                assert!(gain_to_db(measured_gain(c, f)).abs() < 0.01);
            }
        }
    }

    #[test]
    fn running_the_filter_agrees_with_its_transfer_function() {
        let cases = [
            BiquadCoefficients::design(BiquadKind::Bell { gain_db: -7.0 }, 500.0, 0.7, FS),
            BiquadCoefficients::design(BiquadKind::HighPass, 120.0, FRAC_1_SQRT_2, FS),
            BiquadCoefficients::design(BiquadKind::HighShelf { gain_db: 6.0 }, 4_000.0, 0.8, FS),
        ];
        for c in cases {
            for f in [60.0, 250.0, 500.0, 1_000.0, 4_000.0, 12_000.0] {
                let expected_db = gain_to_db(c.magnitude_at(f, FS));
                let measured_db = gain_to_db(measured_gain(c, f));
                assert!(
                    (expected_db - measured_db).abs() < 0.01,
                    "{f} Hz: {measured_db} vs {expected_db}"
                );
            }
        }
    }
}
