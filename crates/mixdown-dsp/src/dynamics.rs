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
//!
//! ## Implementation
//!
//! Both compressors run the gain computer and the smoother at a control rate (see
//! [`Compressor`]): per frame only a peak or a sum of squares (vectorised) and a
//! multiplication by a linear gain ramp; `10·log10` and `10^(x/20)` at each control
//! update come from `fast_math`, branch-free ports of fdlibm (< 1 ulp, like libm).
//! The multiband compressor splits chunks of at most `CHUNK_FRAMES` (256) frames into
//! its bands, two channels per SIMD register ([`StereoBandSplitter`]), runs one such
//! control loop per band over the band rows, and sums the gained bands.
//!
//! Periods count frames from [`Processor::prepare`], so the output of either does not
//! depend on the block size. The tests compare both with a plain per-frame rendition
//! of the same loop with libm: the single-band output is identical, the multiband's
//! differs by rounding only (≤ 3.7e-9 of full scale), from the splitter's cheaper but
//! equivalent formulation.

use crate::crossover::StereoBandSplitter;
use crate::processor::Processor;
use crate::units::db_to_gain;
use std::f64::consts::LN_10;

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

/// Frames per internal pass. The multiband's scratch for two chunks (48 KB for four
/// stereo bands) stays close to L1 cache.
const CHUNK_FRAMES: usize = 256;

/// dB of a power ratio per neper: `10·log10(p) = ln(p)·10/ln 10`.
const POWER_DB_PER_NEPER: f64 = 10.0 / LN_10;
/// dB of an amplitude ratio per neper: `20·log10(a) = ln(a)·20/ln 10`.
const AMPLITUDE_DB_PER_NEPER: f64 = 20.0 / LN_10;
/// Nepers per amplitude dB, as in [`db_to_gain`].
const NEPERS_PER_AMPLITUDE_DB: f64 = LN_10 / 20.0;

/// Branch-free natural logarithm and exponential for the per-frame gain computer.
///
/// The libm calls cost ~20 cycles each and cannot be vectorised; these straight-line
/// ports of fdlibm (Sun Microsystems, 1993: `e_log.c`, `e_exp.c`; the same polynomial
/// coefficients, argument reduction by bit manipulation instead of branches) inline
/// into the frame loops and compile to SIMD. Both keep fdlibm's error bound of less
/// than 1 ulp (measured against the platform libm in the tests: at most 1 ulp apart,
/// i.e. ≤ 2.3e-16 relative, ~1e-15 dB), so the gain curve is unchanged for all
/// practical purposes.
pub(crate) mod fast_math {
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

    /// Natural logarithm of a positive normal number, exact at `+inf`.
    ///
    /// Reduces `x = 2^k·(1+f)` with `√½ ≤ 1+f < √2`, then `ln(1+f) = 2s + s·R(s²)`,
    /// `s = f/(2+f)`, with fdlibm's degree-14 Remez polynomial (error ≤ 2^-58.45).
    /// Error < 1 ulp. Zero, subnormals, negative numbers and NaN give meaningless finite
    /// values: callers select those lanes away.
    #[inline(always)]
    pub fn ln(x: f64) -> f64 {
        const LG1: f64 = f64::from_bits(0x3fe5_5555_5555_5593);
        const LG2: f64 = f64::from_bits(0x3fd9_9999_9997_fa04);
        const LG3: f64 = f64::from_bits(0x3fd2_4924_9422_9359);
        const LG4: f64 = f64::from_bits(0x3fcc_71c5_1d8e_78af);
        const LG5: f64 = f64::from_bits(0x3fc7_4664_96cb_03de);
        const LG6: f64 = f64::from_bits(0x3fc3_9a09_d078_c69f);
        const LG7: f64 = f64::from_bits(0x3fc2_f112_df3e_5244);
        const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;
        const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;
        // 2^52 + 1023: its low exponent bits hold a biased exponent exactly.
        const EXPONENT_MAGIC_BITS: u64 = 0x4330_0000_0000_0000;
        const EXPONENT_MAGIC: f64 = 4_503_599_627_371_519.0;
        // Offsetting the bits moves √½ to a binade boundary: the exponent field is then
        // k + 1023 and the mantissa, re-based at √½, is 1 + f in [√½, √2).
        let shifted = x.to_bits().wrapping_add(ONE_BITS - SQRT_HALF_BITS);
        let k = f64::from_bits((shifted >> 52) | EXPONENT_MAGIC_BITS) - EXPONENT_MAGIC;
        let f = f64::from_bits((shifted & 0x000f_ffff_ffff_ffff) + SQRT_HALF_BITS) - 1.0;
        let half_f_squared = 0.5 * f * f;
        let s = f / (2.0 + f);
        let z = s * s;
        let w = z * z;
        let t1 = w * (LG2 + w * (LG4 + w * LG6));
        let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
        let r = t2 + t1;
        let ln = k * LN2_HI - ((half_f_squared - (s * (half_f_squared + r) + k * LN2_LO)) - f);
        if x == f64::INFINITY {
            x
        } else {
            ln
        }
    }

    /// `e^x` for `x ≤ 0`: error < 1 ulp down to −708 and exactly 1 at 0; anything
    /// below −708 (and NaN) gives `e^−708` ≈ 3.3e-308 (a gain of −6 150 dB). No
    /// branch or select on the result, which would cost the loop its vectorisation.
    ///
    /// Reduces `x = k·ln 2 + r` with `|r| ≤ ln 2 / 2`, then
    /// `e^r = 1 + r + r·c/(2 − c)` with fdlibm's degree-10 polynomial `c(r)`
    /// (error ≤ 2^-59), and scales by `2^k` through the exponent field.
    #[inline(always)]
    pub fn exp_non_positive(x: f64) -> f64 {
        const INV_LN2: f64 = f64::from_bits(0x3ff7_1547_652b_82fe);
        const P1: f64 = f64::from_bits(0x3fc5_5555_5555_553e);
        const P2: f64 = f64::from_bits(0xbf66_c16c_16be_bd93);
        const P3: f64 = f64::from_bits(0x3f11_566a_af25_de2c);
        const P4: f64 = f64::from_bits(0xbebb_bd41_c5d2_6bf1);
        const P5: f64 = f64::from_bits(0x3e66_3769_72be_a4d0);
        // Adding 1.5·2^52 rounds to the nearest integer (ties to even) and leaves
        // that integer, in two's complement, in the low bits.
        const ROUND: f64 = 6_755_399_441_055_744.0;
        const LOW: f64 = -708.0;
        // One `maxpd`; NaN becomes LOW.
        let clamped = if x > LOW { x } else { LOW };
        let shifted = clamped * INV_LN2 + ROUND;
        let k = shifted - ROUND;
        // k·LN2_HI is exact: LN2_HI has 21 trailing zero bits and |k| ≤ 1 022.
        let hi = clamped - k * LN2_HI;
        let lo = k * LN2_LO;
        let r = hi - lo;
        let rr = r * r;
        let c = r - rr * (P1 + rr * (P2 + rr * (P3 + rr * (P4 + rr * P5))));
        let y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
        // 2^k: k + 1023 (in [2, 1 023] here) in the exponent field.
        let scale = f64::from_bits(shifted.to_bits().wrapping_add(1_023) << 52);
        y * scale
    }
}

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
    pub(crate) fn validate(&self) {
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
    GainCurve::new(settings).gain_db(level_db)
}

/// [`static_gain_db`] with its per-setting constants hoisted, written as selects so
/// that loops over frames or bands vectorise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GainCurve {
    threshold_db: f64,
    half_knee_db: f64,
    /// `slope / (2·knee)`: the knee's quadratic without a division per frame (the
    /// result may differ from dividing in the last bit).
    knee_factor: f64,
    slope: f64,
}

impl GainCurve {
    pub(crate) fn new(settings: &CompressorSettings) -> Self {
        let slope = 1.0 / settings.ratio - 1.0;
        Self {
            threshold_db: settings.threshold_db,
            half_knee_db: settings.knee_db / 2.0,
            // Unused (never selected) for a hard knee, where it is infinite or NaN.
            knee_factor: slope / (2.0 * settings.knee_db),
            slope,
        }
    }

    #[inline(always)]
    pub(crate) fn gain_db(&self, level_db: f64) -> f64 {
        let over_db = level_db - self.threshold_db;
        let in_knee = (over_db + self.half_knee_db).powi(2) * self.knee_factor;
        let above = self.slope * over_db;
        // `over > −knee/2` is `2·over > −knee` exactly (scaling by 2 is exact); tested
        // as `a > b` rather than `a <= b` so that NaN lands in the zero branch.
        if over_db > -self.half_knee_db {
            if over_db <= self.half_knee_db {
                in_knee
            } else {
                above
            }
        } else {
            0.0
        }
    }
}

/// The larger of `accumulator` and `x`, ignoring a NaN `x` like [`f64::max`] (equal
/// to it whenever `accumulator` is not NaN) but a single `maxsd`/`maxpd`.
#[inline(always)]
pub(crate) fn max_into(accumulator: f64, x: f64) -> f64 {
    if x > accumulator {
        x
    } else {
        accumulator
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
    curve: GainCurve,
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
pub(crate) fn one_pole_coeff(time_ms: f64, sample_rate_hz: f64) -> f64 {
    (-1000.0 / (time_ms * sample_rate_hz)).exp()
}

/// One step of a mean-square integrator, flushing to 0 below `POWER_FLOOR`.
#[inline(always)]
pub(crate) fn integrate(state: f64, coeff: f64, square: f64) -> f64 {
    let state = coeff * state + (1.0 - coeff) * square;
    if state < POWER_FLOOR {
        0.0
    } else {
        state
    }
}

/// One step of the smooth branching peak detector on the reduction (Giannoulis et al.
/// eq. 17), flushing to 0 below `REDUCTION_FLOOR_DB`. Both branches are computed and
/// one is selected, which keeps the loop-carried dependency short.
#[inline(always)]
pub(crate) fn smooth(reduction_db: f64, target_db: f64, attack: f64, release: f64) -> f64 {
    let attacking = attack * reduction_db + (1.0 - attack) * target_db;
    let releasing = release * reduction_db + (1.0 - release) * target_db;
    let next = if target_db > reduction_db {
        attacking
    } else {
        releasing
    };
    if next < REDUCTION_FLOOR_DB {
        0.0
    } else {
        next
    }
}

impl GainEnvelope {
    fn new(settings: CompressorSettings, sample_rate_hz: f64, channel_count: usize) -> Self {
        let mut envelope = Self {
            settings,
            curve: GainCurve::new(&settings),
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
        self.curve = GainCurve::new(&settings);
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
}

/// Frames common to every channel of a block.
fn block_frames(block: &[&mut [f32]]) -> usize {
    block.iter().map(|c| c.len()).min().unwrap_or(0)
}

/// The compressors' gain computer and smoother run once per control
/// period of at most this many frames (1.3 ms at 48 kHz)…
const MAX_CONTROL_FRAMES: usize = 64;

/// `0, 1, 2, …` as `f64`, indexed by the frame's place in its period: a table rather
/// than an integer conversion, which SSE2 cannot vectorise for 64-bit integers.
const RAMP_STEPS: [f64; MAX_CONTROL_FRAMES + 1] = {
    let mut steps = [0.0; MAX_CONTROL_FRAMES + 1];
    let mut k = 0;
    while k <= MAX_CONTROL_FRAMES {
        steps[k] = k as f64;
        k += 1;
    }
    steps
};

/// …and of at most this fraction of the shorter time constant, so that the one
/// period of reaction delay stays within about 6 % of the attack (a 0 ms attack runs
/// the control loop at every frame).
const CONTROL_PERIODS_PER_TIME_CONSTANT: f64 = 16.0;

/// Frames per control period for `settings` at `sample_rate_hz`.
fn control_period_frames(settings: &CompressorSettings, sample_rate_hz: f64) -> usize {
    let shortest_frames = settings.attack_ms.min(settings.release_ms) * sample_rate_hz / 1000.0;
    let frames = (shortest_frames / CONTROL_PERIODS_PER_TIME_CONSTANT).floor();
    // `as` saturates; the clamp keeps 0 and NaN at one frame.
    (frames as usize).clamp(1, MAX_CONTROL_FRAMES)
}

/// The larger of `peak` and the largest `|x|` of `samples`, in four independent
/// lanes so that the loop vectorises (a max is exact, so the lane order does not matter).
fn max_abs<T: Copy + Into<f64>>(samples: &[T], peak: f64) -> f64 {
    let mut lanes = [0.0f64; 4];
    let mut chunks = samples.chunks_exact(4);
    for chunk in &mut chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = max_into(*lane, x.into().abs());
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(peak, |m, &x| max_into(m, x.into().abs()));
    lanes.iter().fold(tail, |m, &x| max_into(m, x))
}

/// `Σ x²` over `samples` in `f64`, in four lanes (a fixed order: deterministic).
fn sum_of_squares<T: Copy + Into<f64>>(samples: &[T]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let mut chunks = samples.chunks_exact(4);
    for chunk in &mut chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            let x: f64 = x.into();
            *lane += x * x;
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&x| x.into().powi(2)).sum();
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

/// The control loop of a compressor (or of one band of the multiband): what the detector
/// gathered in the current period and the gain ramp being applied.
#[derive(Debug, Clone)]
struct ControlLoop {
    /// Frames per period (changes with the settings, at a period boundary).
    period_frames: usize,
    /// Frames per period for the current settings, from the next period on.
    next_period_frames: usize,
    /// Frames of the current period already processed.
    phase: usize,
    /// Per-period one-pole coefficients: the per-frame ones to the power of the period.
    attack_coeff: f64,
    release_coeff: f64,
    rms_coeff: f64,
    /// Peak of the key over the period so far (peak detector).
    peak: f64,
    /// `Σ x²` of the period so far, one per mean-square integrator (RMS detector).
    square_sums: Vec<f64>,
    /// The gain ramp of the current period: from `gain_from` at its start (exclusive)
    /// to `gain_to` at its last frame, `gain_step` per frame. Make-up included.
    gain_from: f64,
    gain_to: f64,
    gain_step: f64,
}

impl ControlLoop {
    fn new(envelope: &GainEnvelope, sample_rate_hz: f64) -> Self {
        let mut control = Self {
            period_frames: 1,
            next_period_frames: 1,
            phase: 0,
            attack_coeff: 0.0,
            release_coeff: 0.0,
            rms_coeff: 0.0,
            peak: 0.0,
            square_sums: vec![0.0; envelope.mean_squares.len()],
            gain_from: envelope.makeup_gain,
            gain_to: envelope.makeup_gain,
            gain_step: 0.0,
        };
        control.set_settings(&envelope.settings, sample_rate_hz);
        control
    }

    /// Back to the state after [`ControlLoop::new`], without allocating.
    fn reset(&mut self, envelope: &GainEnvelope, sample_rate_hz: f64) {
        self.phase = 0;
        self.peak = 0.0;
        self.square_sums.fill(0.0);
        self.gain_from = envelope.makeup_gain;
        self.gain_to = envelope.makeup_gain;
        self.gain_step = 0.0;
        self.set_settings(&envelope.settings, sample_rate_hz);
    }

    /// New period length and coefficients; they take effect at the next period.
    fn set_settings(&mut self, settings: &CompressorSettings, sample_rate_hz: f64) {
        let period_frames = control_period_frames(settings, sample_rate_hz);
        let control_rate_hz = sample_rate_hz / period_frames as f64;
        self.attack_coeff = one_pole_coeff(settings.attack_ms, control_rate_hz);
        self.release_coeff = one_pole_coeff(settings.release_ms, control_rate_hz);
        self.rms_coeff = one_pole_coeff(RMS_WINDOW_MS, control_rate_hz);
        self.next_period_frames = period_frames;
        if self.phase == 0 {
            self.period_frames = period_frames;
        }
    }

    /// Adds frames `start..start + frames` of `key` to the period's detector readings.
    /// Key channels beyond the integrators share the last one (loudest sample wins);
    /// frames missing from a short key channel count as silence.
    fn detect<'k, T: Copy + Into<f64> + 'k>(
        &mut self,
        detector: Detector,
        channel_count: usize,
        channel: impl Fn(usize) -> &'k [T],
        start: usize,
        frames: usize,
    ) {
        let samples = |i: usize| -> &[T] {
            let channel = channel(i);
            &channel[start.min(channel.len())..(start + frames).min(channel.len())]
        };
        match detector {
            Detector::Peak => {
                for i in 0..channel_count {
                    self.peak = max_abs(samples(i), self.peak);
                }
            }
            Detector::Rms => {
                let last = self.square_sums.len() - 1;
                for i in 0..channel_count.min(last) {
                    self.square_sums[i] += sum_of_squares(samples(i));
                }
                if channel_count == last + 1 {
                    self.square_sums[last] += sum_of_squares(samples(last));
                } else if channel_count > last {
                    for n in 0..frames {
                        let loudest = (last..channel_count)
                            .filter_map(|i| samples(i).get(n))
                            .fold(0.0f64, |m, &x| max_into(m, x.into().powi(2)));
                        self.square_sums[last] += loudest;
                    }
                }
            }
        }
    }

    /// The gains of the current ramp for the next `gains.len()` frames of the period.
    fn fill_ramp(&self, gains: &mut [f64]) {
        if self.gain_step == 0.0 {
            gains.fill(self.gain_to);
        } else {
            let steps = &RAMP_STEPS[self.phase + 1..self.phase + 1 + gains.len()];
            for (gain, &k) in gains.iter_mut().zip(steps) {
                *gain = self.gain_from + k * self.gain_step;
            }
        }
    }

    /// Runs the loop over `frames` frames: `segment(loop, start, len)` gets each run of
    /// frames within one period (to detect, then apply or store the ramp), and the
    /// loop updates at each period's end.
    fn run(
        &mut self,
        envelope: &mut GainEnvelope,
        frames: usize,
        mut segment: impl FnMut(&mut Self, usize, usize),
    ) {
        let mut start = 0;
        while start < frames {
            let len = (self.period_frames - self.phase).min(frames - start);
            segment(self, start, len);
            self.phase += len;
            if self.phase == self.period_frames {
                self.update(envelope);
            }
            start += len;
        }
        envelope.frames += frames as u64;
    }

    /// Applies the current ramp to frames `start..start + frames` of `block`, which
    /// are the next `frames` of the period.
    fn apply(&self, block: &mut [&mut [f32]], start: usize, frames: usize) {
        if self.gain_step == 0.0 && self.gain_to == 1.0 {
            return;
        }
        let mut gains = [0.0; MAX_CONTROL_FRAMES];
        let gains = &mut gains[..frames];
        self.fill_ramp(gains);
        for channel in block.iter_mut() {
            for (x, &gain) in channel[start..start + frames].iter_mut().zip(&*gains) {
                *x = (f64::from(*x) * gain) as f32;
            }
        }
    }

    /// End of a period: detector level → gain computer → smoother (Giannoulis et al.
    /// eq. 17 at the control rate) → the next period's ramp toward the new gain.
    fn update(&mut self, envelope: &mut GainEnvelope) {
        let period = self.period_frames as f64;
        let target_db = match envelope.settings.detector {
            Detector::Peak => {
                let level = std::mem::take(&mut self.peak);
                if level <= envelope.knee_start_peak {
                    0.0
                } else {
                    -envelope
                        .curve
                        .gain_db(fast_math::ln(level) * AMPLITUDE_DB_PER_NEPER)
                }
            }
            Detector::Rms => {
                let mut power: f64 = 0.0;
                for (state, sum) in envelope.mean_squares.iter_mut().zip(&mut self.square_sums) {
                    *state = integrate(*state, self.rms_coeff, std::mem::take(sum) / period);
                    power = max_into(power, *state);
                }
                if power <= envelope.knee_start_power {
                    0.0
                } else {
                    -envelope
                        .curve
                        .gain_db(fast_math::ln(power) * POWER_DB_PER_NEPER)
                }
            }
        };
        let reduction_db = smooth(
            envelope.reduction_db,
            target_db,
            self.attack_coeff,
            self.release_coeff,
        );
        envelope.reduction_db = reduction_db;
        envelope.reduction_sum_db += reduction_db * period;
        envelope.reduction_max_db = max_into(envelope.reduction_max_db, reduction_db);
        let gain = if reduction_db == 0.0 {
            envelope.makeup_gain
        } else {
            // 10^(−r/20) = e^(−r·ln 10/20), as in the multiband's `reductions_to_gains`.
            envelope.makeup_gain
                * fast_math::exp_non_positive(-reduction_db * NEPERS_PER_AMPLITUDE_DB)
        };
        // A settings change takes effect here, at the period boundary.
        self.period_frames = self.next_period_frames;
        self.gain_from = self.gain_to;
        self.gain_to = gain;
        self.gain_step = (gain - self.gain_from) / self.period_frames as f64;
        self.phase = 0;
    }
}

/// A feed-forward, stereo-linked compressor: one detector listens to the loudest
/// channel (of the programme, or of a sidechain key) and one gain goes to every channel.
///
/// The detector reads every frame; the gain computer and smoother run at a control
/// rate, once per period of at most 64 frames and at most 1/16 of the shorter time
/// constant (every frame for a 0 ms attack), and the gain moves linearly from one
/// control value to the next across the following period. The reaction is thereby
/// one period late (≤ 1/16 of the shorter time constant and ≤ 1.3 ms at 48 kHz) and the gain
/// curve piecewise linear at that resolution; in exchange the per-frame work is a
/// peak or a sum of squares and a multiplication, several times cheaper than a
/// per-frame smoother, whose recurrence cannot be vectorised. Periods count frames
/// from [`Processor::prepare`], so the output does not depend on the block size.
#[derive(Debug, Clone)]
pub struct Compressor {
    envelope: GainEnvelope,
    control: ControlLoop,
    sample_rate_hz: f64,
}

impl Compressor {
    /// A compressor prepared for 48 kHz stereo until [`Processor::prepare`] is called.
    ///
    /// # Panics
    /// If `settings` are out of range (see [`CompressorSettings`]).
    pub fn new(settings: CompressorSettings) -> Self {
        let sample_rate_hz = 48_000.0;
        let envelope = GainEnvelope::new(settings, sample_rate_hz, 2);
        Self {
            control: ControlLoop::new(&envelope, sample_rate_hz),
            envelope,
            sample_rate_hz,
        }
    }

    /// The current settings.
    pub fn settings(&self) -> &CompressorSettings {
        &self.envelope.settings
    }

    /// Changes the settings without resetting the envelope (no allocation, no click);
    /// they take effect from the next control period.
    ///
    /// # Panics
    /// If `settings` are out of range.
    pub fn set_settings(&mut self, settings: CompressorSettings) {
        self.envelope.set_settings(settings, self.sample_rate_hz);
        self.control.set_settings(&settings, self.sample_rate_hz);
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
        self.process_keyed(block, Some(key));
    }

    /// Period by period: the key's frames go to the detector before the programme's
    /// frames get the current ramp, and the loop updates at each period's end.
    fn process_keyed(&mut self, block: &mut [&mut [f32]], key: Option<&[&[f32]]>) {
        let frames = block_frames(block);
        let detector = self.envelope.settings.detector;
        self.control
            .run(&mut self.envelope, frames, |control, start, len| {
                match key {
                    Some(key) => control.detect(detector, key.len(), |i| key[i], start, len),
                    None => {
                        let programme: &[&mut [f32]] = block;
                        control.detect(detector, programme.len(), |i| &*programme[i], start, len);
                    }
                }
                control.apply(block, start, len);
            });
    }
}

impl Processor for Compressor {
    fn prepare(&mut self, sample_rate_hz: u32, _max_block_frames: usize, channel_count: usize) {
        self.sample_rate_hz = f64::from(sample_rate_hz);
        self.envelope =
            GainEnvelope::new(self.envelope.settings, self.sample_rate_hz, channel_count);
        self.control = ControlLoop::new(&self.envelope, self.sample_rate_hz);
    }

    fn reset(&mut self) {
        self.envelope.reset();
        self.control.reset(&self.envelope, self.sample_rate_hz);
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        self.process_keyed(block, None);
    }
}

/// A multiband compressor: each channel is split into the LR4 bands of a
/// [`BandSplitter`] (they sum to an all-pass; computed two channels at a time by a
/// [`StereoBandSplitter`]), each band has its own stereo-linked compressor (the same
/// control loop as [`Compressor`]), and the bands are summed. With every ratio at 1
/// the output is the all-pass of the input: flat magnitude, with the phase shift of
/// the crossovers (no added latency).
///
/// [`BandSplitter`]: crate::crossover::BandSplitter
#[derive(Debug, Clone)]
pub struct MultibandCompressor {
    crossovers_hz: Vec<f64>,
    bands: Vec<GainEnvelope>,
    controls: Vec<ControlLoop>,
    /// Prepared channel count.
    channel_count: usize,
    /// One splitter per pair of prepared channels (an odd last channel pairs with silence).
    splitters: Vec<StereoBandSplitter>,
    /// Band samples of one chunk, `[channel][band][frame]` in rows of `chunk_frames`.
    band_samples: Vec<f64>,
    /// Gains of one chunk, one row of `chunk_frames` per band.
    band_gains: Vec<f64>,
    chunk_frames: usize,
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
            controls: Vec::new(),
            channel_count: 0,
            splitters: Vec::new(),
            band_samples: Vec::new(),
            band_gains: Vec::new(),
            chunk_frames: 0,
            sample_rate_hz,
        };
        compressor.allocate(sample_rate_hz, CHUNK_FRAMES, 2);
        compressor
    }

    fn allocate(&mut self, sample_rate_hz: f64, max_block_frames: usize, channel_count: usize) {
        self.sample_rate_hz = sample_rate_hz;
        self.channel_count = channel_count;
        let splitter = StereoBandSplitter::new(&self.crossovers_hz, sample_rate_hz);
        self.splitters = vec![splitter; channel_count.div_ceil(2)];
        self.chunk_frames = max_block_frames.clamp(1, CHUNK_FRAMES);
        let band_count = self.bands.len();
        self.band_samples = vec![0.0; self.chunk_frames * channel_count * band_count];
        self.band_gains = vec![1.0; self.chunk_frames * band_count];
        for band in &mut self.bands {
            *band = GainEnvelope::new(band.settings, sample_rate_hz, channel_count);
        }
        self.controls = self
            .bands
            .iter()
            .map(|band| ControlLoop::new(band, sample_rate_hz))
            .collect();
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

    /// Changes the settings of `band` without resetting its envelope (no allocation);
    /// they take effect from the band's next control period.
    ///
    /// # Panics
    /// If `band >= band_count()` or the settings are out of range.
    pub fn set_band_settings(&mut self, band: usize, settings: CompressorSettings) {
        self.bands[band].set_settings(settings, self.sample_rate_hz);
        self.controls[band].set_settings(&settings, self.sample_rate_hz);
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

    /// Splits frames `start..start + frames` of every channel into the band rows.
    fn split_chunk(&mut self, block: &[&mut [f32]], start: usize, frames: usize) {
        let channels = block.len();
        let band_count = self.bands.len();
        let stride = self.chunk_frames;
        for (pair, splitter) in self.splitters.iter_mut().enumerate() {
            let first = 2 * pair;
            if first >= channels {
                break;
            }
            let left = &block[first][start..start + frames];
            let right = block.get(first + 1).map(|c| &c[start..start + frames]);
            // Rows of this pair: `[lane][band][frame]`.
            let rows = &mut self.band_samples[first * band_count * stride..];
            let (left_rows, right_rows) = rows.split_at_mut(band_count * stride);
            let input = |n: usize| {
                let r = right.map_or(0.0, |r| f64::from(r[n]));
                [f64::from(left[n]), r]
            };
            splitter.split_frames(frames, input, |n, bands| {
                for (band, &[l, r]) in bands.iter().enumerate() {
                    left_rows[band * stride + n] = l;
                    if right.is_some() {
                        right_rows[band * stride + n] = r;
                    }
                }
            });
        }
    }

    /// Each band's control loop over the first `frames` frames of the band rows of
    /// `channels` channels, filling its gain row.
    fn gains_chunk(&mut self, frames: usize, channels: usize) {
        let band_count = self.bands.len();
        let stride = self.chunk_frames;
        let samples = &self.band_samples;
        for (band, ((envelope, control), gains)) in self
            .bands
            .iter_mut()
            .zip(&mut self.controls)
            .zip(self.band_gains.chunks_exact_mut(stride))
            .enumerate()
        {
            let detector = envelope.settings.detector;
            let row = |channel: usize| &samples[(channel * band_count + band) * stride..][..frames];
            control.run(envelope, frames, |control, start, len| {
                control.detect(detector, channels, row, start, len);
                control.fill_ramp(&mut gains[start..start + len]);
            });
        }
    }

    /// Sums the gained bands into frames `start..start + frames` of `block`
    /// (vectorised over frames; the first band's row is the accumulator).
    fn sum_chunk(&mut self, block: &mut [&mut [f32]], start: usize, frames: usize) {
        let band_count = self.bands.len();
        let stride = self.chunk_frames;
        let gains = &self.band_gains;
        for (channel, rows) in block
            .iter_mut()
            .zip(self.band_samples.chunks_exact_mut(band_count * stride))
        {
            let (sum, rows) = rows.split_at_mut(stride);
            let sum = &mut sum[..frames];
            for (x, &gain) in sum.iter_mut().zip(&gains[..frames]) {
                *x *= gain;
            }
            for (band, row) in rows.chunks_exact(stride).enumerate() {
                let gains = &gains[(band + 1) * stride..][..frames];
                for ((x, &y), &gain) in sum.iter_mut().zip(&row[..frames]).zip(gains) {
                    *x += y * gain;
                }
            }
            for (y, &x) in channel[start..start + frames].iter_mut().zip(&*sum) {
                *y = x as f32;
            }
        }
    }
}

impl Processor for MultibandCompressor {
    fn prepare(&mut self, sample_rate_hz: u32, max_block_frames: usize, channel_count: usize) {
        self.allocate(f64::from(sample_rate_hz), max_block_frames, channel_count);
    }

    fn reset(&mut self) {
        self.splitters
            .iter_mut()
            .for_each(StereoBandSplitter::reset);
        for (band, control) in self.bands.iter_mut().zip(&mut self.controls) {
            band.reset();
            control.reset(band, self.sample_rate_hz);
        }
    }

    /// Channels beyond the prepared count (a contract violation) pass through untouched.
    ///
    /// Chunk by chunk: split, the bands' control loops, sum.
    fn process(&mut self, block: &mut [&mut [f32]]) {
        let channels = block.len().min(self.channel_count);
        let block = &mut block[..channels];
        let frames = block_frames(block);
        let mut start = 0;
        while start < frames {
            let len = (frames - start).min(self.chunk_frames);
            self.split_chunk(block, start, len);
            self.gains_chunk(len, channels);
            self.sum_chunk(block, start, len);
            start += len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crossover::BandSplitter;
    use crate::dither::NoiseSource;
    use crate::processor::process_in_blocks;
    use crate::units::{gain_to_db, power_to_db};
    use std::f64::consts::TAU;

    use crate::test_signals::{sine, tone_level_db, FS};

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

    /// Distance between two doubles in units in the last place.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn fast_ln_and_exp_agree_with_libm_to_one_ulp() {
        let mut noise = NoiseSource::new(5);
        let (mut worst_ln, mut worst_exp) = (0, 0);
        for i in 0..1_000_000 {
            // Log-uniform over the normal range, and densely around 1.
            let x = if i % 2 == 0 {
                2f64.powf(2_040.0 * noise.next_uniform())
            } else {
                1.0 + 0.5 * noise.next_uniform()
            };
            worst_ln = worst_ln.max(ulps(fast_math::ln(x), x.ln()));
            let y = -708.0 * (noise.next_uniform() + 0.5);
            let y = if i % 4 == 1 { y * 1e-3 } else { y };
            worst_exp = worst_exp.max(ulps(fast_math::exp_non_positive(y), y.exp()));
        }
        assert!(worst_ln <= 1 && worst_exp <= 1, "{worst_ln} {worst_exp}");
        assert_eq!(fast_math::ln(1.0), 0.0);
        assert_eq!(fast_math::ln(f64::INFINITY), f64::INFINITY);
        assert_eq!(fast_math::exp_non_positive(0.0), 1.0);
        assert_eq!(fast_math::exp_non_positive(-0.0), 1.0);
        assert!(fast_math::exp_non_positive(-1e4) < 1e-307);
        println!("fast_math vs libm: ln {worst_ln} ulp, exp {worst_exp} ulp");
    }

    /// Largest difference between two signals, relative to full scale.
    fn worst_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs())
            .fold(0.0, f64::max)
    }

    /// The compressors' control loop written plainly, frame by frame, with libm:
    /// key → peak / per-period mean square → static curve → smoother at the control
    /// rate → linear ramp to the next gain.
    struct ReferenceLoop {
        settings: CompressorSettings,
        period: usize,
        attack: f64,
        release: f64,
        rms: f64,
        gain_from: f64,
        gain_to: f64,
        phase: usize,
        peak: f64,
        sums: Vec<f64>,
        mean_squares: Vec<f64>,
        reduction_db: f64,
        sum_db: f64,
        max_db: f64,
        frames: u64,
    }

    impl ReferenceLoop {
        fn new(settings: CompressorSettings, integrators: usize) -> Self {
            let fs = f64::from(FS);
            let period = control_period_frames(&settings, fs);
            let per_period = |time_ms: f64| (-1000.0 * period as f64 / (time_ms * fs)).exp();
            let makeup = db_to_gain(settings.makeup_db);
            Self {
                settings,
                period,
                attack: per_period(settings.attack_ms),
                release: per_period(settings.release_ms),
                rms: per_period(RMS_WINDOW_MS),
                gain_from: makeup,
                gain_to: makeup,
                phase: 0,
                peak: 0.0,
                sums: vec![0.0; integrators],
                mean_squares: vec![0.0; integrators],
                reduction_db: 0.0,
                sum_db: 0.0,
                max_db: 0.0,
                frames: 0,
            }
        }

        /// The gain of the next frame, whose key samples are `key`.
        fn next_gain(&mut self, key: &[f64]) -> f64 {
            let integrators = self.sums.len();
            for (c, x) in key.iter().enumerate() {
                self.peak = self.peak.max(x.abs());
                if c < integrators - 1 {
                    self.sums[c] += x * x;
                }
            }
            let tail = key.get(integrators - 1..).unwrap_or(&[]);
            self.sums[integrators - 1] += tail.iter().fold(0.0f64, |m, x| m.max(x * x));
            let period = self.period as f64;
            let gain =
                self.gain_from + (self.phase + 1) as f64 * (self.gain_to - self.gain_from) / period;
            self.frames += 1;
            self.phase += 1;
            if self.phase < self.period {
                return gain;
            }
            let level_db = match self.settings.detector {
                Detector::Peak => gain_to_db(self.peak),
                Detector::Rms => {
                    for (state, sum) in self.mean_squares.iter_mut().zip(&self.sums) {
                        *state = self.rms * *state + (1.0 - self.rms) * sum / period;
                    }
                    power_to_db(self.mean_squares.iter().fold(0.0, |m: f64, &p| m.max(p)))
                }
            };
            let target_db = -static_gain_db(&self.settings, level_db);
            let coeff = if target_db > self.reduction_db {
                self.attack
            } else {
                self.release
            };
            self.reduction_db = coeff * self.reduction_db + (1.0 - coeff) * target_db;
            if self.reduction_db < REDUCTION_FLOOR_DB {
                self.reduction_db = 0.0;
            }
            self.sum_db += self.reduction_db * period;
            self.max_db = self.max_db.max(self.reduction_db);
            self.gain_from = self.gain_to;
            self.gain_to = db_to_gain(self.settings.makeup_db - self.reduction_db);
            (self.phase, self.peak) = (0, 0.0);
            self.sums.fill(0.0);
            gain
        }

        fn stats(&self) -> GainReductionStats {
            GainReductionStats {
                max_db: self.max_db,
                mean_db: self.sum_db / self.frames as f64,
                frames: self.frames,
            }
        }
    }

    /// The single-band compressor written plainly with [`ReferenceLoop`].
    fn control_loop_reference(
        settings: CompressorSettings,
        integrators: usize,
        programme: &[Vec<f32>],
        key: Option<&[Vec<f32>]>,
    ) -> (Vec<Vec<f32>>, GainReductionStats) {
        let mut reference = ReferenceLoop::new(settings, integrators);
        let mut output = programme.to_vec();
        for n in 0..programme[0].len() {
            let key_samples: Vec<f64> = match key {
                Some(key) => key
                    .iter()
                    .map(|c| c.get(n).map_or(0.0, |&x| f64::from(x)))
                    .collect(),
                None => programme.iter().map(|c| f64::from(c[n])).collect(),
            };
            let gain = reference.next_gain(&key_samples);
            for channel in &mut output {
                channel[n] = (f64::from(channel[n]) * gain) as f32;
            }
        }
        (output, reference.stats())
    }

    #[test]
    fn block_kernels_match_the_per_frame_reference() {
        let mut worst: f64 = 0.0;
        let input = programme(60_000);
        for detector in [Detector::Peak, Detector::Rms] {
            for (channels, key_channels) in [(1, 0), (2, 0), (3, 0), (2, 1), (2, 3), (1, 2)] {
                let settings = CompressorSettings {
                    makeup_db: 2.0,
                    ..settings(-26.0, 3.0, 6.0, detector)
                };
                let block: Vec<Vec<f32>> = (0..channels).map(|c| input[c % 2].clone()).collect();
                // A short key exercises the frames missing from a key channel.
                let key: Vec<Vec<f32>> = (0..key_channels)
                    .map(|c| input[(c + 1) % 2][..50_000].to_vec())
                    .collect();
                let mut compressor = prepared(Compressor::new(settings), channels);
                let mut output = block.clone();
                let mut start = 0;
                for len in [1, 255, 256, 257, 4_096, 60_000] {
                    let end = (start + len).min(output[0].len());
                    let mut chunk: Vec<&mut [f32]> =
                        output.iter_mut().map(|c| &mut c[start..end]).collect();
                    if key_channels == 0 {
                        compressor.process(&mut chunk);
                    } else {
                        let key: Vec<&[f32]> = key
                            .iter()
                            .map(|c| &c[start.min(c.len())..end.min(c.len())])
                            .collect();
                        compressor.process_with_key(&mut chunk, &key);
                    }
                    start = end;
                }
                let key = (key_channels > 0).then_some(&key[..]);
                let (expected, expected_stats) =
                    control_loop_reference(settings, channels, &block, key);
                worst = worst.max(worst_difference(&output, &expected));
                let stats = compressor.gain_reduction_stats();
                assert!(stats.max_db > 1.0 && stats.frames == expected_stats.frames);
                assert!((stats.mean_db - expected_stats.mean_db).abs() < 1e-12);
                assert!((stats.max_db - expected_stats.max_db).abs() < 1e-12);
            }
        }
        assert!(worst < 1e-7, "compressor: {worst:e}");
        println!("compressor vs per-frame reference: worst difference {worst:.1e}");

        // Multiband: scalar splitters and per-frame envelopes with libm. 1 to 6 bands:
        // padded SIMD groups, two groups, and every path of the splitter.
        let mut worst: f64 = 0.0;
        let layouts: [&[f64]; 4] = [
            &[],
            &[500.0],
            &[120.0, 1_000.0, 6_000.0],
            &[100.0, 300.0, 1_000.0, 3_000.0, 10_000.0],
        ];
        for crossovers_hz in layouts {
            for (mix, channels) in [(false, 1), (true, 2), (false, 2), (true, 3)] {
                let bands: Vec<CompressorSettings> = (0..=crossovers_hz.len())
                    .map(|band| CompressorSettings {
                        makeup_db: 1.0,
                        ..settings(
                            -30.0 - 4.0 * band as f64,
                            2.5,
                            6.0,
                            if mix && band % 2 == 0 {
                                Detector::Peak
                            } else {
                                Detector::Rms
                            },
                        )
                    })
                    .collect();
                let mut compressor = prepared(
                    MultibandCompressor::new(crossovers_hz.to_vec(), bands.clone()),
                    channels,
                );
                let block: Vec<Vec<f32>> = (0..channels).map(|c| input[c % 2].clone()).collect();
                let mut output = block.clone();
                process_in_blocks(&mut compressor, &mut output, 1_000);
                let mut splitters = vec![BandSplitter::new(crossovers_hz, f64::from(FS)); channels];
                let mut references: Vec<ReferenceLoop> = bands
                    .iter()
                    .map(|&band| ReferenceLoop::new(band, channels))
                    .collect();
                let mut expected = block.clone();
                let mut split = vec![vec![0.0; bands.len()]; channels];
                for n in 0..expected[0].len() {
                    for ((splitter, bands), channel) in
                        splitters.iter_mut().zip(&mut split).zip(&expected)
                    {
                        splitter.split_sample(f64::from(channel[n]), bands);
                    }
                    let gains: Vec<f64> = references
                        .iter_mut()
                        .enumerate()
                        .map(|(band, reference)| {
                            let key: Vec<f64> = split.iter().map(|b| b[band]).collect();
                            reference.next_gain(&key)
                        })
                        .collect();
                    for (channel, bands) in expected.iter_mut().zip(&split) {
                        channel[n] =
                            bands.iter().zip(&gains).map(|(x, g)| x * g).sum::<f64>() as f32;
                    }
                }
                worst = worst.max(worst_difference(&output, &expected));
                for (band, reference) in references.iter().enumerate() {
                    let stats = compressor.band_gain_reduction_stats(band);
                    assert!(stats.max_db > 0.5 && stats.frames == reference.stats().frames);
                    assert!((stats.mean_db - reference.stats().mean_db).abs() < 1e-9);
                }
            }
        }
        assert!(worst < 1e-7, "multiband: {worst:e}");
        println!("multiband vs per-frame reference: worst difference {worst:.1e}");
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
