//! Property: whatever the signal and settings, the limiter's output never has a true
//! peak above the ceiling, measured by an independent reference meter: ideal
//! band-limited 8× interpolation (zero-padding the spectrum of the whole signal,
//! itself zero-padded on both sides so the circular transform does not wrap).
//!
//! Every test signal is band-limited to 0.45·fs, as sampled programme material is. On
//! content between 0.45·fs and fs/2 no finite-lookahead limiter can promise this against
//! an ideal interpolator (see `src/oversampling.rs`); measured on the same families left
//! full-band, the output reads up to ≈ 1.8 dB (white noise) and ≈ 3 dB (naive square
//! waves of a few samples' period) above the ceiling on this reference, while impulses
//! and steps stay within 0.03 dB of the internal threshold.

use mixdown_dsp::dither::NoiseSource;
use mixdown_dsp::limiter::{LimiterSettings, TruePeakLimiter};
use mixdown_dsp::processor::{process_in_blocks, Processor};
use mixdown_dsp::units::{db_to_gain, gain_to_db};
use proptest::prelude::*;
use realfft::RealFftPlanner;
use std::f64::consts::TAU;

/// Reference oversampling factor.
const REFERENCE_FACTOR: usize = 8;

/// Float noise allowed above the ceiling, dB.
const TOLERANCE_DB: f64 = 0.001;

/// Largest magnitude of the ideal 8× interpolation of `signal`.
fn reference_true_peak(signal: &[f32]) -> f64 {
    // Zero padding of the signal's length on each side keeps the periodic sinc close
    // to the aperiodic one over the signal; a power of two keeps the FFTs fast.
    let len = (3 * signal.len()).next_power_of_two();
    let offset = (len - signal.len()) / 2;
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(len);
    let inverse = planner.plan_fft_inverse(len * REFERENCE_FACTOR);

    let mut time = forward.make_input_vec();
    for (t, &s) in time[offset..].iter_mut().zip(signal) {
        *t = f64::from(s);
    }
    let mut spectrum = forward.make_output_vec();
    forward.process(&mut time, &mut spectrum).unwrap();

    let mut wide = inverse.make_input_vec();
    let nyquist = len / 2;
    wide[..nyquist].copy_from_slice(&spectrum[..nyquist]);
    // A real signal's Nyquist bin is shared between +fs/2 and −fs/2.
    wide[nyquist] = spectrum[nyquist] * 0.5;
    wide[0].im = 0.0;
    wide[nyquist].im = 0.0;
    let mut oversampled = inverse.make_output_vec();
    inverse.process(&mut wide, &mut oversampled).unwrap();
    // Unnormalised transforms: forward then inverse scales by `len`.
    oversampled.iter().fold(0.0f64, |max, &v| max.max(v.abs())) / len as f64
}

/// Highest frequency of the test signals, relative to the sample rate: the detector
/// is accurate to 0.45·fs (see `oversampling.rs` for why nothing finite reaches fs/2).
const BAND_EDGE: f64 = 0.45;

/// Frames of ringing kept on each side of a band-limited signal.
const BAND_LIMIT_PADDING: usize = 512;

/// Removes everything above `BAND_EDGE`·fs with a raised-cosine taper from 0.43·fs, so
/// the kernel decays fast; the ringing before and after the signal is kept, so no edge
/// is cut.
fn band_limit(signal: &[f32]) -> Vec<f32> {
    let frames = signal.len() + 2 * BAND_LIMIT_PADDING;
    let len = frames.next_power_of_two() * 2;
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(len);
    let inverse = planner.plan_fft_inverse(len);
    let mut time = forward.make_input_vec();
    for (t, &s) in time[BAND_LIMIT_PADDING..].iter_mut().zip(signal) {
        *t = f64::from(s);
    }
    let mut spectrum = forward.make_output_vec();
    forward.process(&mut time, &mut spectrum).unwrap();
    let taper_start = BAND_EDGE - 0.02;
    for (bin, value) in spectrum.iter_mut().enumerate() {
        let f = bin as f64 / len as f64;
        let mask = if f <= taper_start {
            1.0
        } else if f >= BAND_EDGE {
            0.0
        } else {
            0.5 + 0.5 * (std::f64::consts::PI * (f - taper_start) / (BAND_EDGE - taper_start)).cos()
        };
        *value *= mask / len as f64;
    }
    let last = spectrum.len() - 1;
    spectrum[0].im = 0.0;
    spectrum[last].im = 0.0;
    inverse.process(&mut spectrum, &mut time).unwrap();
    time[..frames].iter().map(|&v| v as f32).collect()
}

/// The families of test signal, each normalised to a sample peak of 1.
#[derive(Debug, Clone, Copy)]
enum Family {
    /// Uniform white noise (flat to Nyquist).
    WhiteNoise,
    /// A sine between 0.40·fs and 0.45·fs with random phase.
    NearNyquistSine { frequency_ratio: f64, phase: f64 },
    /// A naive ±1 square wave (aliased, edges at sample boundaries).
    Square { period_frames: f64 },
    /// One non-zero sample.
    Impulse { position: f64 },
    /// Zero, then a constant to the end.
    DcStep { position: f64 },
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![
        Just(Family::WhiteNoise),
        (0.40..0.45f64, 0.0..TAU).prop_map(|(frequency_ratio, phase)| {
            Family::NearNyquistSine {
                frequency_ratio,
                phase,
            }
        }),
        (2.0..400.0f64).prop_map(|period_frames| Family::Square { period_frames }),
        (0.0..1.0f64).prop_map(|position| Family::Impulse { position }),
        (0.0..1.0f64).prop_map(|position| Family::DcStep { position }),
    ]
}

fn generate(family: Family, frames: usize, seed: u64) -> Vec<f32> {
    // The generator ignores its seed's lowest bit.
    let mut noise = NoiseSource::new(seed << 1);
    let signal: Vec<f64> = match family {
        Family::WhiteNoise => (0..frames).map(|_| noise.next_uniform()).collect(),
        Family::NearNyquistSine {
            frequency_ratio,
            phase,
        } => (0..frames)
            .map(|n| (TAU * frequency_ratio * n as f64 + phase).sin())
            .collect(),
        Family::Square { period_frames } => {
            let offset = noise.next_uniform() + 0.5;
            (0..frames)
                .map(|n| {
                    if (n as f64 / period_frames + offset).fract() < 0.5 {
                        1.0
                    } else {
                        -1.0
                    }
                })
                .collect()
        }
        Family::Impulse { position } => {
            let at = (position * frames as f64) as usize;
            (0..frames)
                .map(|n| if n == at { 1.0 } else { 0.0 })
                .collect()
        }
        Family::DcStep { position } => {
            let at = (position * frames as f64) as usize;
            let sign = if noise.next_uniform() < 0.0 {
                -1.0
            } else {
                1.0
            };
            (0..frames)
                .map(|n| if n >= at { sign } else { 0.0 })
                .collect()
        }
    };
    let peak = signal.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let scale = if peak > 0.0 { 1.0 / peak } else { 0.0 };
    signal.iter().map(|v| (v * scale) as f32).collect()
}

/// One channel: one family or the sum of up to three.
#[derive(Debug, Clone)]
struct ChannelSpec {
    families: Vec<Family>,
    seed: u64,
}

fn channel_spec() -> impl Strategy<Value = ChannelSpec> {
    (prop::collection::vec(family(), 1..=3), any::<u64>())
        .prop_map(|(families, seed)| ChannelSpec { families, seed })
}

/// The channel's families summed, band-limited, normalised to a sample peak of 1.
fn render_channel(spec: &ChannelSpec, frames: usize) -> Vec<f32> {
    let mut mix = vec![0.0f32; frames];
    for (i, &family) in spec.families.iter().enumerate() {
        let part = generate(family, frames, spec.seed.wrapping_add(i as u64));
        for (m, p) in mix.iter_mut().zip(part) {
            *m += p;
        }
    }
    let mut mix = band_limit(&mix);
    let peak = mix.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak > 0.0 {
        mix.iter_mut().for_each(|v| *v /= peak);
    }
    mix
}

const SAMPLE_RATES_HZ: [u32; 3] = [44_100, 48_000, 96_000];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    })]

    #[test]
    fn output_true_peak_never_exceeds_the_ceiling(
        channel_specs in prop::collection::vec(channel_spec(), 1..=2),
        frames in 2_000usize..20_000,
        level_over_ceiling_db in -6.0..20.0f64,
        ceiling_dbtp in -3.0..0.0f64,
        lookahead_ms in 0.5..5.0f64,
        release_ms in 10.0..500.0f64,
        rate_index in 0..SAMPLE_RATES_HZ.len(),
        block_frames in 1usize..2_048,
    ) {
        let settings = LimiterSettings { ceiling_dbtp, lookahead_ms, release_ms };
        let mut limiter = TruePeakLimiter::new(settings);
        limiter.prepare(SAMPLE_RATES_HZ[rate_index], block_frames, channel_specs.len());
        let latency = limiter.latency_frames();

        let level = db_to_gain(ceiling_dbtp + level_over_ceiling_db) as f32;
        let mut channels: Vec<Vec<f32>> = channel_specs
            .iter()
            .map(|spec| {
                let mut signal: Vec<f32> =
                    render_channel(spec, frames).iter().map(|v| v * level).collect();
                // Flush the lookahead so the whole signal comes out.
                signal.resize(signal.len() + latency, 0.0);
                signal
            })
            .collect();
        process_in_blocks(&mut limiter, &mut channels, block_frames);

        for channel in &channels {
            prop_assert!(channel.iter().all(|v| v.is_finite()));
            let true_peak_dbtp = gain_to_db(reference_true_peak(channel));
            prop_assert!(
                true_peak_dbtp <= ceiling_dbtp + TOLERANCE_DB,
                "true peak {true_peak_dbtp:.4} dBTP over the ceiling {ceiling_dbtp:.4} dBTP"
            );
        }
    }
}

#[test]
fn reference_meter_reads_known_true_peaks() {
    // A sine at fs/4 sampled 45° off its peaks: samples at 0.707, true peak 1. Faded
    // in and out over 500 samples, so its edges do not splatter.
    let frames = 4_000;
    let quarter: Vec<f32> = (0..frames)
        .map(|n| {
            let fade = (n.min(frames - 1 - n) as f64 / 500.0).min(1.0);
            let envelope = 0.5 - 0.5 * (std::f64::consts::PI * fade).cos();
            (envelope * (TAU * 0.25 * n as f64 + TAU / 8.0).sin()) as f32
        })
        .collect();
    let sample_peak = quarter.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!((f64::from(sample_peak) - 0.5f64.sqrt()).abs() < 1e-6);
    assert!((reference_true_peak(&quarter) - 1.0).abs() < 1e-6);

    // An impulse's interpolation peaks at the sample itself.
    let mut impulse = vec![0.0f32; 1_000];
    impulse[400] = -0.5;
    assert!((reference_true_peak(&impulse) - 0.5).abs() < 1e-9);
}
