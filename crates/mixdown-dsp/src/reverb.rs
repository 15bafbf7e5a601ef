//! A stereo algorithmic reverb: a feedback delay network (FDN) after Jot & Chaigne,
//! "Digital delay networks for designing artificial reverberators", AES 90th
//! Convention, 1991.
//!
//! Signal flow, per frame:
//!
//! 1. pre-delay, one line per input channel;
//! 2. input diffusion: four Schroeder all-passes per channel (Schroeder, "Natural
//!    sounding artificial reverberation", JAES 10(3), 1962), with the lengths and
//!    gains of Dattorro's plate ("Effect Design, Part 1", JAES 45(9), 1997); the
//!    right channel's chain has other lengths, which decorrelates a mono source;
//! 3. an FDN of eight delay lines of mutually prime lengths (24–60 ms), each
//!    followed by its absorption filter, mixed by an orthogonal Hadamard matrix and
//!    fed back. The diffused left and right inputs enter the lines with orthogonal
//!    sign patterns;
//! 4. the left output sums the even lines, the right output the odd lines (disjoint
//!    sets, so the tails are decorrelated), plus a share of the diffused input itself
//!    so the reverb starts right after the pre-delay instead of after the shortest
//!    line.
//!
//! Decay: line `i` of `d_i` frames gets the gain `g_i = 10^(−3·d_i / (T60·fs))`, i.e.
//! −60 dB per `T60` seconds whatever its length; with an orthogonal (lossless) matrix
//! every mode of the network then decays at that rate (Jot & Chaigne 1991; Schlecht &
//! Habets, "Accurate reverberation time control in feedback delay networks", DAFx-17,
//! 2017; reviewed in Välimäki et al., "Fifty years of artificial reverberation", IEEE
//! TASLP 20(5), 2012). Damping replaces `g_i` by a one-pole low-pass with the same DC
//! gain (Jot's absorption filter), designed per line so that the attenuation per
//! second, hence the decay rate, is the same for every line at every frequency:
//! `decay_s` holds at low and mid frequencies and the decay time is halved at
//! `damping_hz`.

use crate::delay::{flush_tiny, ms_to_frames, DelayLine};
use crate::processor::Processor;
use std::f64::consts::{FRAC_1_SQRT_2, TAU};

/// Delay lines in the feedback network.
const LINES: usize = 8;

/// Nominal line lengths, ms (rounded up to distinct primes at the stream's rate).
const LINE_MS: [f64; LINES] = [24.1, 27.7, 31.3, 35.9, 40.7, 46.3, 52.9, 59.9];

/// Diffusion all-passes per channel.
const DIFFUSERS: usize = 4;

/// All-pass lengths per channel, ms: Dattorro's 142, 107, 379 and 277 samples at
/// 29 761 Hz on the left, other lengths on the right.
const DIFFUSER_MS: [[f64; DIFFUSERS]; 2] =
    [[4.771, 3.595, 12.735, 9.307], [5.311, 3.967, 11.873, 8.531]];

/// All-pass gains (Dattorro's input diffusion 1 and 2).
const DIFFUSER_GAINS: [f64; DIFFUSERS] = [0.75, 0.75, 0.625, 0.625];

/// Signs with which the left and the right input enter the lines: orthogonal, so the
/// two inputs excite independent directions of the network (a centred source enters
/// half of the lines, a side signal the other half).
const INPUT_SIGNS: [[f64; LINES]; 2] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0],
    [1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0],
];

/// Scale of the injection: each input's sign pattern then has unit norm (1/√8).
const INPUT_GAIN: f64 = FRAC_1_SQRT_2 / 2.0;

/// Gain of the diffused input added to each side's sum of lines in the wet output.
const DIRECT_GAIN: f64 = 0.5;

/// Wet output scale: the impulse response of a 1 s reverb carries about the energy of
/// the impulse, growing with `decay_s` (measured at 48 kHz, left side: −3.1 dB at
/// 0.5 s, −0.2 dB at 1 s, +1.8 dB at 1.6 s, +4.5 dB at 3 s).
const OUTPUT_GAIN: f64 = 0.7;

/// How far past `decay_s` [`Reverb::tail_frames`] reaches: 1.2 × T60 is −72 dB.
const TAIL_DECAYS: f64 = 1.2;

/// Parameters of a [`Reverb`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReverbSettings {
    /// Time for the tail to decay by 60 dB at low and mid frequencies (RT60), s.
    pub decay_s: f64,
    /// Delay before the reverb starts, ms.
    pub predelay_ms: f64,
    /// Highs decay faster above this: the decay time is half of `decay_s` here, and
    /// shorter still above. 0, or at or above Nyquist, disables damping.
    pub damping_hz: f64,
    /// Wet share in `[0, 1]`: output = (1 − mix)·dry + mix·reverb; buses use 1.
    pub mix: f64,
}

impl ReverbSettings {
    fn validate(&self) {
        assert!(
            self.decay_s > 0.0 && self.decay_s.is_finite(),
            "decay must be finite and > 0 s, got {}",
            self.decay_s
        );
        assert!(
            self.predelay_ms >= 0.0 && self.predelay_ms.is_finite(),
            "pre-delay must be finite and ≥ 0 ms, got {}",
            self.predelay_ms
        );
        assert!(
            self.damping_hz >= 0.0,
            "damping must be ≥ 0 Hz, got {}",
            self.damping_hz
        );
        assert!(
            (0.0..=1.0).contains(&self.mix),
            "mix must lie in [0, 1], got {}",
            self.mix
        );
    }
}

/// Schroeder all-pass `(z^−M − g)/(1 − g·z^−M)`.
#[derive(Debug, Clone, Default)]
struct SchroederAllPass {
    line: DelayLine,
    gain: f64,
}

impl SchroederAllPass {
    #[inline(always)]
    fn process(&mut self, x: f64) -> f64 {
        let delayed = self.line.front();
        let v = x + self.gain * delayed;
        self.line.push(flush_tiny(v));
        delayed - self.gain * v
    }
}

/// The gain (and damping) of one line: `y[n] = gain·x[n] + pole·y[n−1]`, DC gain
/// `gain / (1 − pole)` = `g_i`.
#[derive(Debug, Clone, Copy, Default)]
struct AbsorptionFilter {
    gain: f64,
    pole: f64,
    state: f64,
}

impl AbsorptionFilter {
    /// The filter of a line of `delay_frames`: DC gain `g = 10^(−3·d/(T60·fs))` (Jot &
    /// Chaigne 1991), and with damping a pole `b` such that the one-pole's attenuation
    /// at `damping_hz` equals `g` again: then the line loses twice its DC loss per pass
    /// there, and the decay time is halved for every line alike.
    fn design(delay_frames: usize, settings: &ReverbSettings, sample_rate_hz: f64) -> Self {
        let dc_gain = 10f64.powf(-3.0 * delay_frames as f64 / (settings.decay_s * sample_rate_hz));
        let damped = settings.damping_hz > 0.0 && settings.damping_hz < sample_rate_hz / 2.0;
        let pole = if damped {
            // |(1 − b)/(1 − b·e^−jω)|² = K with K = g², c = cos ω:
            // (1 − K)·b² − 2·(1 − K·c)·b + (1 − K) = 0, whose root below 1 is
            // b = p − √(p² − 1) = 1/(p + √(p² − 1)), p = (1 − K·c)/(1 − K) ≥ 1.
            let k = dc_gain * dc_gain;
            let c = (TAU * settings.damping_hz / sample_rate_hz).cos();
            let p = (1.0 - k * c) / (1.0 - k);
            1.0 / (p + (p * p - 1.0).sqrt())
        } else {
            0.0
        };
        Self {
            gain: dc_gain * (1.0 - pole),
            pole,
            state: 0.0,
        }
    }

    #[inline(always)]
    fn process(&mut self, x: f64) -> f64 {
        self.state = flush_tiny(self.gain * x + self.pole * self.state);
        self.state
    }
}

/// In-place orthonormal Hadamard transform of order 8 (Sylvester construction, fast
/// Walsh-Hadamard butterflies, scaled by 1/√8): the lossless feedback matrix.
#[inline(always)]
fn hadamard(x: &mut [f64; LINES]) {
    let mut half = 1;
    while half < LINES {
        for start in (0..LINES).step_by(2 * half) {
            for i in start..start + half {
                let (a, b) = (x[i], x[i + half]);
                x[i] = a + b;
                x[i + half] = a - b;
            }
        }
        half *= 2;
    }
    let scale = 1.0 / (LINES as f64).sqrt();
    x.iter_mut().for_each(|v| *v *= scale);
}

/// Whether `n` is prime (trial division; lengths are at most a few hundred thousand).
fn is_prime(n: usize) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

/// The FDN line lengths at `sample_rate_hz`: the smallest primes at or above the
/// nominal lengths, strictly ascending, hence mutually prime.
fn line_lengths(sample_rate_hz: f64) -> [usize; LINES] {
    let mut previous = 1;
    LINE_MS.map(|ms| {
        let mut frames = ms_to_frames(ms, sample_rate_hz).max(previous + 1);
        while !is_prime(frames) {
            frames += 1;
        }
        previous = frames;
        frames
    })
}

/// A stereo algorithmic reverb (see the module docs). Stereo blocks are processed as
/// such; a mono block feeds both inputs and gets the sum of both outputs, scaled by
/// √½ to keep the power of one side; with more channels the first two are the stereo
/// pair and the others pass unchanged. No latency.
#[derive(Debug, Clone)]
pub struct Reverb {
    settings: ReverbSettings,
    sample_rate_hz: f64,
    predelays: [DelayLine; 2],
    diffusers: [[SchroederAllPass; DIFFUSERS]; 2],
    lines: [DelayLine; LINES],
    filters: [AbsorptionFilter; LINES],
}

impl Reverb {
    /// A reverb with `settings`, prepared for 48 kHz until [`Processor::prepare`] is
    /// called.
    ///
    /// # Panics
    /// If `settings` are out of range (see [`ReverbSettings`]).
    pub fn new(settings: ReverbSettings) -> Self {
        settings.validate();
        let mut reverb = Self {
            settings,
            sample_rate_hz: 48_000.0,
            predelays: Default::default(),
            diffusers: Default::default(),
            lines: Default::default(),
            filters: [AbsorptionFilter::default(); LINES],
        };
        reverb.prepare(48_000, 0, 2);
        reverb
    }

    /// One frame of the wet signal for a stereo input.
    #[inline(always)]
    fn wet_frame(&mut self, input: [f64; 2]) -> [f64; 2] {
        let mut diffused = [0.0; 2];
        for (side, x) in input.into_iter().enumerate() {
            let delayed = self.predelays[side].process(x);
            diffused[side] = self.diffusers[side]
                .iter_mut()
                .fold(delayed, |x, all_pass| all_pass.process(x));
        }
        let mut mixed = [0.0; LINES];
        for ((mixed, line), filter) in mixed.iter_mut().zip(&self.lines).zip(&mut self.filters) {
            *mixed = filter.process(line.front());
        }
        hadamard(&mut mixed);
        let mut wet = [0.0; 2];
        for (i, (line, &feedback)) in self.lines.iter_mut().zip(&mixed).enumerate() {
            let injected = INPUT_SIGNS[0][i] * diffused[0] + INPUT_SIGNS[1][i] * diffused[1];
            line.push(flush_tiny(feedback + INPUT_GAIN * injected));
            // Even lines to the left, odd lines to the right.
            wet[i % 2] += feedback;
        }
        [
            OUTPUT_GAIN * (wet[0] + DIRECT_GAIN * diffused[0]),
            OUTPUT_GAIN * (wet[1] + DIRECT_GAIN * diffused[1]),
        ]
    }
}

impl Processor for Reverb {
    fn prepare(&mut self, sample_rate_hz: u32, _max_block_frames: usize, _channel_count: usize) {
        let fs = f64::from(sample_rate_hz.max(1));
        self.sample_rate_hz = fs;
        let predelay_frames = ms_to_frames(self.settings.predelay_ms, fs);
        self.predelays = std::array::from_fn(|_| DelayLine::new(predelay_frames));
        self.diffusers = std::array::from_fn(|side| {
            std::array::from_fn(|stage| SchroederAllPass {
                line: DelayLine::new(ms_to_frames(DIFFUSER_MS[side][stage], fs).max(1)),
                gain: DIFFUSER_GAINS[stage],
            })
        });
        let lengths = line_lengths(fs);
        self.lines = lengths.map(DelayLine::new);
        self.filters = lengths.map(|frames| AbsorptionFilter::design(frames, &self.settings, fs));
    }

    fn reset(&mut self) {
        self.predelays.iter_mut().for_each(DelayLine::reset);
        for all_pass in self.diffusers.iter_mut().flatten() {
            all_pass.line.reset();
        }
        self.lines.iter_mut().for_each(DelayLine::reset);
        self.filters
            .iter_mut()
            .for_each(|filter| filter.state = 0.0);
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        let mix = self.settings.mix;
        if mix == 0.0 {
            return;
        }
        let dry = 1.0 - mix;
        match block {
            [] => {}
            [mono] => {
                for sample in mono.iter_mut() {
                    let x = f64::from(*sample);
                    let [left, right] = self.wet_frame([x, x]);
                    let wet = FRAC_1_SQRT_2 * (left + right);
                    *sample = (dry * x + mix * wet) as f32;
                }
            }
            [left, right, ..] => {
                for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                    let input = [f64::from(*l), f64::from(*r)];
                    let [wet_left, wet_right] = self.wet_frame(input);
                    *l = (dry * input[0] + mix * wet_left) as f32;
                    *r = (dry * input[1] + mix * wet_right) as f32;
                }
            }
        }
    }

    /// Pre-delay plus 1.2 × `decay_s` (the tail is then 72 dB down); 0 at mix 0.
    fn tail_frames(&self) -> usize {
        if self.settings.mix == 0.0 {
            return 0;
        }
        let tail_s = TAIL_DECAYS * self.settings.decay_s + self.settings.predelay_ms / 1_000.0;
        (tail_s * self.sample_rate_hz).round() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crossover::LinkwitzRiley4;
    use crate::processor::process_in_blocks;
    use crate::units::power_to_db;

    const FS: u32 = 48_000;

    fn settings(decay_s: f64) -> ReverbSettings {
        ReverbSettings {
            decay_s,
            predelay_ms: 0.0,
            damping_hz: 0.0,
            mix: 1.0,
        }
    }

    /// Stereo impulse response (unit impulse in both inputs).
    fn impulse_response(settings: ReverbSettings, frames: usize) -> Vec<Vec<f32>> {
        let mut reverb = Reverb::new(settings);
        reverb.prepare(FS, 4_096, 2);
        let mut channels = vec![vec![0.0f32; frames]; 2];
        channels[0][0] = 1.0;
        channels[1][0] = 1.0;
        process_in_blocks(&mut reverb, &mut channels, 4_096);
        channels
    }

    fn energy(x: &[f32]) -> f64 {
        x.iter().map(|&s| f64::from(s).powi(2)).sum()
    }

    /// Reverberation time from the energy decay curve (Schroeder, "New method of
    /// measuring reverberation time", JASA 37, 1965: backward integration of h²),
    /// extrapolated to 60 dB from a least-squares line over the EDC between `-5` and
    /// `-5 - span_db` dB (ISO 3382-1: T20 for a span of 20, T30 for 30).
    fn reverberation_time_s(ir: &[f32], span_db: f64) -> f64 {
        let mut edc = vec![0.0; ir.len()];
        let mut sum = 0.0;
        for (n, &h) in ir.iter().enumerate().rev() {
            sum += f64::from(h).powi(2);
            edc[n] = sum;
        }
        let total = edc[0];
        let (mut count, mut sum_t, mut sum_db, mut sum_tt, mut sum_tdb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (n, &e) in edc.iter().enumerate() {
            let level_db = power_to_db(e / total);
            if level_db <= -5.0 && level_db >= -5.0 - span_db {
                let t = n as f64 / f64::from(FS);
                count += 1.0;
                sum_t += t;
                sum_db += level_db;
                sum_tt += t * t;
                sum_tdb += t * level_db;
            }
        }
        let slope_db_per_s = (count * sum_tdb - sum_t * sum_db) / (count * sum_tt - sum_t * sum_t);
        -60.0 / slope_db_per_s
    }

    /// The band of `ir` between `low_hz` and `high_hz` (LR4 high-pass then low-pass).
    fn band(ir: &[f32], low_hz: f64, high_hz: f64) -> Vec<f32> {
        let fs = f64::from(FS);
        let mut high_pass = LinkwitzRiley4::new(low_hz, fs);
        let mut low_pass = LinkwitzRiley4::new(high_hz, fs);
        ir.iter()
            .map(|&x| {
                let (_, above) = high_pass.split_sample(f64::from(x));
                low_pass.split_sample(above).0 as f32
            })
            .collect()
    }

    #[test]
    fn broadband_rt60_matches_the_decay_setting() {
        for decay_s in [0.5, 1.6, 3.0] {
            let frames = ((2.0 * decay_s + 0.3) * f64::from(FS)) as usize;
            let ir = impulse_response(settings(decay_s), frames);
            for (side, channel) in ir.iter().enumerate() {
                let t20 = reverberation_time_s(channel, 20.0);
                let t30 = reverberation_time_s(channel, 30.0);
                println!(
                    "reverb {decay_s} s, side {side}: T20 {t20:.3} s ({:+.1} %), \
                     T30 {t30:.3} s ({:+.1} %)",
                    100.0 * (t20 / decay_s - 1.0),
                    100.0 * (t30 / decay_s - 1.0)
                );
                for measured in [t20, t30] {
                    assert!(
                        (measured / decay_s - 1.0).abs() < 0.1,
                        "{decay_s} s: {measured} s"
                    );
                }
            }
        }
    }

    #[test]
    fn damping_shortens_the_highs_and_keeps_the_mids() {
        let decay_s = 1.6;
        let frames = ((2.0 * decay_s + 0.3) * f64::from(FS)) as usize;
        let damped = ReverbSettings {
            damping_hz: 5_000.0,
            ..settings(decay_s)
        };
        let ir = impulse_response(damped, frames);
        let mid = reverberation_time_s(&band(&ir[0], 500.0, 1_000.0), 20.0);
        let high = reverberation_time_s(&band(&ir[0], 8_000.0, 16_000.0), 20.0);
        let low = reverberation_time_s(&band(&ir[0], 125.0, 250.0), 20.0);
        println!(
            "reverb 1.6 s damped at 5 kHz, T20: 125-250 Hz {low:.3} s, \
             500-1000 Hz {mid:.3} s, 8-16 kHz {high:.3} s"
        );
        assert!((mid / decay_s - 1.0).abs() < 0.1, "mid {mid}");
        assert!((low / decay_s - 1.0).abs() < 0.1, "low {low}");
        assert!(high < 0.5 * decay_s, "high {high}");
    }

    #[test]
    fn nothing_comes_out_before_the_predelay() {
        let predelay_ms = 37.0;
        let predelay_frames = 1_776;
        let ir = impulse_response(
            ReverbSettings {
                predelay_ms,
                ..settings(1.0)
            },
            24_000,
        );
        for channel in &ir {
            assert!(channel[..predelay_frames].iter().all(|&s| s == 0.0));
            assert!(channel[predelay_frames] != 0.0);
        }
    }

    #[test]
    fn the_tail_is_finite_decays_and_ends_within_tail_frames() {
        for damping_hz in [0.0, 6_000.0] {
            let settings = ReverbSettings {
                damping_hz,
                predelay_ms: 20.0,
                ..settings(1.2)
            };
            let mut reverb = Reverb::new(settings);
            reverb.prepare(FS, 1_024, 2);
            let tail = reverb.tail_frames();
            assert_eq!(tail, 70_080, "1.2 × 1.2 s + 20 ms at 48 kHz");
            let ir = impulse_response(settings, tail + 48_000);
            for channel in &ir {
                assert!(channel.iter().all(|s| s.is_finite()));
                // Energy of successive 100 ms windows after the build-up falls.
                let windows: Vec<f64> = channel[9_600..].chunks(4_800).map(energy).collect();
                assert!(
                    windows.windows(2).all(|w| w[1] < w[0]),
                    "{damping_hz}: {windows:?}"
                );
                let peak = channel.iter().fold(0.0f32, |m, &s| m.max(s.abs()));
                let after = channel[tail..].iter().fold(0.0f32, |m, &s| m.max(s.abs()));
                assert!(after < 1e-3 * peak, "{after} vs {peak}");
            }
        }
        // Loud noise-like input stays bounded.
        let mut reverb = Reverb::new(settings(3.0));
        reverb.prepare(FS, 512, 2);
        let mut state = 1u32;
        let mut channels: Vec<Vec<f32>> = (0..2)
            .map(|_| {
                (0..96_000)
                    .map(|_| {
                        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
                    })
                    .collect()
            })
            .collect();
        process_in_blocks(&mut reverb, &mut channels, 512);
        assert!(channels
            .iter()
            .flatten()
            .all(|s| s.is_finite() && s.abs() < 20.0));
    }

    #[test]
    fn left_and_right_are_decorrelated() {
        let ir = impulse_response(settings(1.6), 96_000);
        let dot: f64 = ir[0]
            .iter()
            .zip(&ir[1])
            .map(|(&l, &r)| f64::from(l) * f64::from(r))
            .sum();
        let correlation = dot / (energy(&ir[0]) * energy(&ir[1])).sqrt();
        let level_difference_db = power_to_db(energy(&ir[0]) / energy(&ir[1]));
        println!(
            "reverb: L/R impulse response correlation {correlation:+.4}, \
             level difference {level_difference_db:+.2} dB"
        );
        println!(
            "reverb: impulse response energy {:+.2} dB (left, 1.6 s)",
            power_to_db(energy(&ir[0]))
        );
        assert!(correlation.abs() < 0.2);
        assert!(level_difference_db.abs() < 1.0);
    }

    #[test]
    fn wet_energy_is_about_unity_at_one_second_and_grows_with_the_decay() {
        let mut previous_db = f64::NEG_INFINITY;
        for decay_s in [0.5, 1.0, 3.0] {
            let frames = ((2.0 * decay_s + 0.3) * f64::from(FS)) as usize;
            let ir = impulse_response(settings(decay_s), frames);
            let energy_db = power_to_db(energy(&ir[0]));
            println!("reverb {decay_s} s: impulse response energy {energy_db:+.2} dB");
            assert!(energy_db > previous_db);
            previous_db = energy_db;
            if decay_s == 1.0 {
                assert!(energy_db.abs() < 1.0);
            }
        }
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        let frames = 30_000;
        let input: Vec<Vec<f32>> = (0..2)
            .map(|c| {
                (0..frames)
                    .map(|n| {
                        let burst = if (n / 3_000) % 2 == 0 { 1.0 } else { 0.0 };
                        (burst * (n as f64 * (0.05 + 0.03 * c as f64)).sin()) as f32
                    })
                    .collect()
            })
            .collect();
        let settings = ReverbSettings {
            decay_s: 1.0,
            predelay_ms: 12.0,
            damping_hz: 7_000.0,
            mix: 0.3,
        };
        let run = |block_frames: usize, channels: usize| {
            let mut output = input[..channels].to_vec();
            let mut reverb = Reverb::new(settings);
            reverb.prepare(FS, 4_096, channels);
            process_in_blocks(&mut reverb, &mut output, block_frames);
            output
        };
        for channels in [1, 2] {
            let reference = run(4_096, channels);
            assert_ne!(reference, input[..channels]);
            for block_frames in [1, 64] {
                assert_eq!(
                    run(block_frames, channels),
                    reference,
                    "block of {block_frames}"
                );
            }
        }
    }

    #[test]
    fn zero_mix_is_dry_and_mono_is_the_scaled_sum() {
        let input: Vec<f32> = (0..10_000).map(|n| ((n as f32) * 0.01).sin()).collect();
        let mut output = vec![input.clone(), input.clone()];
        let mut reverb = Reverb::new(ReverbSettings {
            mix: 0.0,
            ..settings(2.0)
        });
        reverb.prepare(FS, 1_024, 2);
        process_in_blocks(&mut reverb, &mut output, 1_024);
        assert_eq!(output, vec![input.clone(), input.clone()]);
        assert_eq!(reverb.tail_frames(), 0);

        // Mono: the stereo outputs for the same signal on both sides, summed, × √½.
        let mut stereo = vec![input.clone(), input.clone()];
        let mut mono = vec![input.clone()];
        for (channels, count) in [(&mut stereo, 2), (&mut mono, 1)] {
            let mut reverb = Reverb::new(settings(2.0));
            reverb.prepare(FS, 1_024, count);
            process_in_blocks(&mut reverb, channels, 1_024);
        }
        for n in 0..input.len() {
            let expected = FRAC_1_SQRT_2 * (f64::from(stereo[0][n]) + f64::from(stereo[1][n]));
            assert!((f64::from(mono[0][n]) - expected).abs() < 1e-5, "frame {n}");
        }

        // A partial mix is the weighted sum of dry and wet.
        let mut half = vec![input.clone(), input.clone()];
        let mut reverb = Reverb::new(ReverbSettings {
            mix: 0.25,
            ..settings(2.0)
        });
        reverb.prepare(FS, 1_024, 2);
        process_in_blocks(&mut reverb, &mut half, 1_024);
        for n in 0..input.len() {
            let expected = 0.75 * f64::from(input[n]) + 0.25 * f64::from(stereo[0][n]);
            assert!((f64::from(half[0][n]) - expected).abs() < 1e-5);
        }
    }

    #[test]
    fn line_lengths_are_distinct_primes() {
        for rate in [8_000.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0] {
            let lengths = line_lengths(rate);
            assert!(lengths.windows(2).all(|w| w[0] < w[1]));
            assert!(lengths.iter().all(|&n| is_prime(n)));
        }
        assert_eq!(
            (0..30).filter(|&n| is_prime(n)).collect::<Vec<_>>(),
            [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
        );
    }
}
