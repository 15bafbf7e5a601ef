//! EBU "minimum requirements" conformance cases for the loudness meter.
//!
//! Sources, read in the documents themselves (the November 2023 v4 editions, whose
//! document histories describe v4 as editorial and formatting changes to the
//! January 2016 v3 editions; v3 of Tech 3341 added cases 9-23):
//!
//! * EBU Tech 3341, "Loudness Metering: 'EBU Mode' metering to supplement EBU R 128
//!   loudness normalization", §2.9, Table 1 "Minimum requirements test signals",
//!   cases 1-23;
//! * EBU Tech 3342, "Loudness Range: A measure to supplement EBU R 128 loudness
//!   normalization", §4, Table 1 "Minimum requirements test signals", cases 1-6.
//!
//! Every case the tables define synthetically is generated here, deterministically, at
//! 48 kHz (the rate of the EBU's own files, Tech 3341 §2.9), and held to the tables'
//! tolerances: ±0.1 LU for M, S and I, ±1 LU for LRA, +0.2/−0.4 dB for true peak.
//! "Per-channel peak level" in dBFS is the peak amplitude of the sine, so a stereo
//! 1 kHz tone at −23 dBFS reads −23 LUFS.
//!
//! Not reproducible here: the cases defined only by authentic programme material that
//! the EBU distributes as files (the "EBU loudness test set"), which this repository
//! does not have:
//!
//! * Tech 3341 case 7 (authentic programme 1, stereo, narrow loudness range,
//!   commercial/promo; `seq-3341-7_seq-3342-5-24bit.wav`), I = −23.0 ±0.1 LUFS;
//! * Tech 3341 case 8 (authentic programme 2, stereo, wide loudness range,
//!   movie/drama; `seq-3341-2011-8_seq-3342-6-24bit-v02.wav`), I = −23.0 ±0.1 LUFS;
//! * Tech 3342 case 5 (the same file as Tech 3341 case 7), LRA = 5 ±1 LU;
//! * Tech 3342 case 6 (the same file as Tech 3341 case 8), LRA = 15 ±1 LU.
//!
//! The meter reports the *maximum* momentary and short-term loudness. Where a table
//! expects a constant reading (Tech 3341 cases 1, 2, 9 and 12), the maximum is the
//! reading checked; for the "live meter" cases 11 and 14, which expect one maximum per
//! segment, the streaming [`LoudnessMeter`] is read after each segment, as a live meter
//! would show it (the segment levels rise, so the running maximum is the segment's).

use mixdown_analysis::loudness::{measure_loudness, LoudnessMeter, LoudnessReport};
use std::f64::consts::{PI, TAU};

/// The sample rate of the EBU's test files.
const RATE: u32 = 48_000;
/// Tech 3341 Table 1 tolerance for momentary, short-term and integrated loudness.
const LOUDNESS_TOLERANCE_LU: f64 = 0.1;
/// Tech 3342 Table 1 tolerance for loudness range.
const LRA_TOLERANCE_LU: f64 = 1.0;
/// Tech 3341 Table 1 tolerance for the maximum true-peak level (cases 15-23).
const TRUE_PEAK_OVER_DB: f64 = 0.2;
/// Tech 3341 Table 1 tolerance for the maximum true-peak level (cases 15-23).
const TRUE_PEAK_UNDER_DB: f64 = 0.4;

/// One stretch of a 1 kHz test signal: a tone at a per-channel peak level, or silence.
#[derive(Clone, Copy)]
enum Part {
    /// A 1 kHz sine with this peak level in dBFS, for this many milliseconds.
    Tone(f64, u32),
    /// Digital silence for this many milliseconds.
    Silence(u32),
}

/// A 1 kHz sine "similar to #1" built from `parts`. The oscillator runs on through
/// silences and level changes, so the waveform stays continuous in phase; at 48 kHz
/// every part boundary of the tables (multiples of 10 ms) falls on a zero crossing.
fn tone_1k(rate: u32, parts: &[Part]) -> Vec<f32> {
    let mut samples = Vec::new();
    for &part in parts {
        let (amplitude, ms) = match part {
            Part::Tone(dbfs, ms) => (10f64.powf(dbfs / 20.0), ms),
            Part::Silence(ms) => (0.0, ms),
        };
        let frames = (u64::from(ms) * u64::from(rate) / 1000) as usize;
        let start = samples.len();
        samples.extend(
            (start..start + frames)
                .map(|n| (amplitude * (TAU * 1000.0 * n as f64 / f64::from(rate)).sin()) as f32),
        );
    }
    samples
}

/// `parts` repeated `times` times.
fn repeat(parts: &[Part], times: usize) -> Vec<Part> {
    parts
        .iter()
        .copied()
        .cycle()
        .take(parts.len() * times)
        .collect()
}

/// Meters a signal applied in phase to both channels of a stereo pair.
fn measure_stereo(samples: &[f32], rate: u32) -> LoudnessReport {
    measure_loudness(&[samples, samples], rate).expect("stereo is supported")
}

/// Asserts `measured` lies in `[expected - under, expected + over]` and prints the
/// figure (visible with `--nocapture`) so a run documents the measured values.
#[track_caller]
fn check(what: &str, measured: Option<f64>, expected: f64, under: f64, over: f64) {
    let Some(value) = measured else {
        panic!("{what}: no reading, expected {expected:+.1}");
    };
    println!("{what}: expected {expected:+.1}, measured {value:+.3}");
    assert!(
        (expected - under..=expected + over).contains(&value),
        "{what}: measured {value:+.3}, expected {expected:+.1} (+{over}/-{under})"
    );
}

#[track_caller]
fn check_lu(what: &str, measured: Option<f64>, expected: f64) {
    check(
        what,
        measured,
        expected,
        LOUDNESS_TOLERANCE_LU,
        LOUDNESS_TOLERANCE_LU,
    );
}

#[track_caller]
fn check_lra(what: &str, measured: Option<f64>, expected: f64) {
    check(what, measured, expected, LRA_TOLERANCE_LU, LRA_TOLERANCE_LU);
}

#[track_caller]
fn check_true_peak(what: &str, measured: Option<f64>, expected: f64) {
    check(
        what,
        measured,
        expected,
        TRUE_PEAK_UNDER_DB,
        TRUE_PEAK_OVER_DB,
    );
}

/// M, S and I of a steady tone: the maxima are the (constant) readings.
#[track_caller]
fn check_m_s_i(case: &str, report: &LoudnessReport, expected: f64) {
    check_lu(&format!("{case} M"), report.max_momentary_lufs, expected);
    check_lu(&format!("{case} S"), report.max_short_term_lufs, expected);
    check_lu(&format!("{case} I"), report.integrated_lufs, expected);
}

// ---------------------------------------------------------------------------------
// Tech 3341 Table 1: momentary, short-term and integrated loudness (cases 1-14)
// ---------------------------------------------------------------------------------

/// Tech 3341 case 1: stereo sine, 1000 Hz, −23.0 dBFS per-channel peak, in phase on
/// both channels, 20 s. M, S, I = −23.0 ±0.1 LUFS.
#[test]
fn tech_3341_case_01_stereo_tone_at_minus_23() {
    let report = measure_stereo(&tone_1k(RATE, &[Part::Tone(-23.0, 20_000)]), RATE);
    check_m_s_i("3341 #1", &report, -23.0);
}

/// Tech 3341 case 2: as #1 at −33.0 dBFS. M, S, I = −33.0 ±0.1 LUFS.
#[test]
fn tech_3341_case_02_stereo_tone_at_minus_33() {
    let report = measure_stereo(&tone_1k(RATE, &[Part::Tone(-33.0, 20_000)]), RATE);
    check_m_s_i("3341 #2", &report, -33.0);
}

/// Tech 3341 case 3: 10 s at −36.0 dBFS; 60 s at −23.0 dBFS; 10 s at −36.0 dBFS.
/// I = −23.0 ±0.1 LUFS (the relative gate removes the −36 dBFS parts).
#[test]
fn tech_3341_case_03_relative_gate() {
    let signal = tone_1k(
        RATE,
        &[
            Part::Tone(-36.0, 10_000),
            Part::Tone(-23.0, 60_000),
            Part::Tone(-36.0, 10_000),
        ],
    );
    check_lu(
        "3341 #3 I",
        measure_stereo(&signal, RATE).integrated_lufs,
        -23.0,
    );
}

/// Tech 3341 case 4: 10 s at −72.0; 10 s at −36.0; 60 s at −23.0; 10 s at −36.0;
/// 10 s at −72.0 dBFS. I = −23.0 ±0.1 LUFS (absolute and relative gates).
#[test]
fn tech_3341_case_04_absolute_and_relative_gates() {
    let signal = tone_1k(
        RATE,
        &[
            Part::Tone(-72.0, 10_000),
            Part::Tone(-36.0, 10_000),
            Part::Tone(-23.0, 60_000),
            Part::Tone(-36.0, 10_000),
            Part::Tone(-72.0, 10_000),
        ],
    );
    check_lu(
        "3341 #4 I",
        measure_stereo(&signal, RATE).integrated_lufs,
        -23.0,
    );
}

/// Tech 3341 case 5: 20 s at −26.0; 20.1 s at −20.0; 20 s at −26.0 dBFS.
/// I = −23.0 ±0.1 LUFS (blocks are averaged as power, not in dB).
#[test]
fn tech_3341_case_05_power_average_of_levels() {
    let signal = tone_1k(
        RATE,
        &[
            Part::Tone(-26.0, 20_000),
            Part::Tone(-20.0, 20_100),
            Part::Tone(-26.0, 20_000),
        ],
    );
    check_lu(
        "3341 #5 I",
        measure_stereo(&signal, RATE).integrated_lufs,
        -23.0,
    );
}

/// The five channels of Tech 3341 case 6, in the order L, R, C, Ls, Rs.
fn case_6_channels() -> [Vec<f32>; 5] {
    let at = |dbfs| tone_1k(RATE, &[Part::Tone(dbfs, 20_000)]);
    [at(-28.0), at(-28.0), at(-24.0), at(-30.0), at(-30.0)]
}

/// Tech 3341 case 6: 5.0-channel sine, 1000 Hz, 20 s; per-channel peak levels
/// −28.0 dBFS in L and R, −24.0 dBFS in C, −30.0 dBFS in Ls and Rs.
/// I = −23.0 ±0.1 LUFS (surrounds weighted +1.5 dB by BS.1770).
/// Channel order L, R, C, Ls, Rs, as in the EBU's `seq-3341-6-5channels` file.
#[test]
fn tech_3341_case_06_five_channels() {
    let [l, r, c, ls, rs] = case_6_channels();
    let report = measure_loudness(&[&l, &r, &c, &ls, &rs], RATE).unwrap();
    check_lu("3341 #6 (5.0) I", report.integrated_lufs, -23.0);
}

/// Tech 3341 case 6 as the EBU also distributes it
/// (`seq-3341-6-6channels-WAVEEX`): the same 5.0 signal in 5.1 order L, R, C, LFE,
/// Ls, Rs with a silent LFE, which "shall not be included" (Tech 3341 §2.10).
/// I = −23.0 ±0.1 LUFS.
#[test]
fn tech_3341_case_06_five_channels_in_5_1_order() {
    let [l, r, c, ls, rs] = case_6_channels();
    let lfe = vec![0.0f32; l.len()];
    let report = measure_loudness(&[&l, &r, &c, &lfe, &ls, &rs], RATE).unwrap();
    check_lu("3341 #6 (5.1) I", report.integrated_lufs, -23.0);
}

/// Tech 3341 case 9: (1.34 s at −20.0 dBFS; 1.66 s at −30.0 dBFS) repeated 5 times.
/// S = −23.0 ±0.1 LUFS, constant after 3 s: every 3 s window holds one period.
#[test]
fn tech_3341_case_09_short_term_constant() {
    let parts = repeat(&[Part::Tone(-20.0, 1_340), Part::Tone(-30.0, 1_660)], 5);
    let report = measure_stereo(&tone_1k(RATE, &parts), RATE);
    check_lu("3341 #9 S", report.max_short_term_lufs, -23.0);
}

/// Tech 3341 case 10 (file-based meters): 20 separate signals
/// (i × 0.15 s of silence; 3 s at −23.0 dBFS; 1 s of silence), i = 0..19.
/// Max S = −23.0 ±0.1 LUFS for each.
#[test]
fn tech_3341_case_10_max_short_term_per_file() {
    for i in 0..20u32 {
        let signal = tone_1k(
            RATE,
            &[
                Part::Silence(150 * i),
                Part::Tone(-23.0, 3_000),
                Part::Silence(1_000),
            ],
        );
        let report = measure_stereo(&signal, RATE);
        check_lu(
            &format!("3341 #10-{} max S", i + 1),
            report.max_short_term_lufs,
            -23.0,
        );
    }
}

/// Feeds `samples` (applied to both channels) to `meter` in blocks of an awkward size,
/// so the meter's own cutting onto its polling grid is exercised.
fn feed_stereo(meter: &mut LoudnessMeter, samples: &[f32]) {
    for block in samples.chunks(1_021) {
        meter.add(&[block, block]).unwrap();
    }
}

/// Tech 3341 case 11 ('live' meters): one signal of 20 segments
/// (i × 0.15 s of silence; 3 s at (−38.0 + i) dBFS; (3 − i × 0.15) s of silence),
/// i = 0..19. Max S = −38.0, −37.0, …, −19.0 ±0.1 LUFS, successive values.
#[test]
fn tech_3341_case_11_max_short_term_successive() {
    let mut meter = LoudnessMeter::new(2, RATE).unwrap();
    for i in 0..20u32 {
        let level = -38.0 + f64::from(i);
        let segment = tone_1k(
            RATE,
            &[
                Part::Silence(150 * i),
                Part::Tone(level, 3_000),
                Part::Silence(3_000 - 150 * i),
            ],
        );
        feed_stereo(&mut meter, &segment);
        check_lu(
            &format!("3341 #11 segment {} max S", i + 1),
            meter.finish().max_short_term_lufs,
            level,
        );
    }
}

/// Tech 3341 case 12: (0.18 s at −20.0 dBFS; 0.22 s at −30.0 dBFS) repeated 25 times.
/// M = −23.0 ±0.1 LUFS, constant after 1 s: every 400 ms window holds one period.
#[test]
fn tech_3341_case_12_momentary_constant() {
    let parts = repeat(&[Part::Tone(-20.0, 180), Part::Tone(-30.0, 220)], 25);
    let report = measure_stereo(&tone_1k(RATE, &parts), RATE);
    check_lu("3341 #12 M", report.max_momentary_lufs, -23.0);
}

/// Tech 3341 case 13 (file-based meters): 20 separate signals
/// (i × 20 ms of silence; 400 ms at −23.0 dBFS; 1 s of silence), i = 0..19.
/// Max M = −23.0 ±0.1 LUFS for each.
#[test]
fn tech_3341_case_13_max_momentary_per_file() {
    for i in 0..20u32 {
        let signal = tone_1k(
            RATE,
            &[
                Part::Silence(20 * i),
                Part::Tone(-23.0, 400),
                Part::Silence(1_000),
            ],
        );
        let report = measure_stereo(&signal, RATE);
        check_lu(
            &format!("3341 #13-{} max M", i + 1),
            report.max_momentary_lufs,
            -23.0,
        );
    }
}

/// Tech 3341 case 14 ('live' meters): one signal of 20 segments
/// (i × 20 ms of silence; 400 ms at (−38.0 + i) dBFS; (400 − i × 20) ms of silence),
/// i = 0..19. Max M = −38.0, −37.0, …, −19.0 ±0.1 LUFS, successive values.
#[test]
fn tech_3341_case_14_max_momentary_successive() {
    let mut meter = LoudnessMeter::new(2, RATE).unwrap();
    for i in 0..20u32 {
        let level = -38.0 + f64::from(i);
        let segment = tone_1k(
            RATE,
            &[
                Part::Silence(20 * i),
                Part::Tone(level, 400),
                Part::Silence(400 - 20 * i),
            ],
        );
        feed_stereo(&mut meter, &segment);
        check_lu(
            &format!("3341 #14 segment {} max M", i + 1),
            meter.finish().max_momentary_lufs,
            level,
        );
    }
}

// ---------------------------------------------------------------------------------
// Tech 3341 Table 1: maximum true-peak level (cases 15-23)
// ---------------------------------------------------------------------------------

/// A raised-cosine taper of `fade` samples at both ends of `samples`.
fn taper(samples: &mut [f64], fade: usize) {
    let len = samples.len();
    for k in 0..fade.min(len / 2) {
        let gain = 0.5 - 0.5 * (PI * (k as f64 + 0.5) / fade as f64).cos();
        samples[k] *= gain;
        samples[len - 1 - k] *= gain;
    }
}

/// A sine of frequency `rate / period` (in samples), `amplitude` (fraction of full
/// scale) and starting `phase_deg`, lasting `seconds`, tapered with a 10 ms fade-in
/// and fade-out as Tech 3341 case 15 asks.
fn true_peak_sine(rate: u32, period: f64, amplitude: f64, phase_deg: f64) -> Vec<f32> {
    let frames = rate as usize; // 1 s: "the duration of the synthesized tone does not matter"
    let phase = phase_deg.to_radians();
    let mut samples: Vec<f64> = (0..frames)
        .map(|n| amplitude * (TAU * n as f64 / period + phase).sin())
        .collect();
    taper(&mut samples, rate as usize / 100);
    samples.into_iter().map(|x| x as f32).collect()
}

/// Tech 3341 cases 15-19 at `rate`: (case, period of the sine in samples, amplitude in
/// FFS, phase in degrees, expected maximum true-peak level in dBTP). The amplitudes
/// are the table's as written: 0.50 FFS is −6.02 dBFS, 1.41 FFS is +2.98 dBFS.
fn check_sine_true_peak_cases(rate: u32) {
    let cases = [
        (15, 4.0, 0.50, 0.0, -6.0),
        (16, 4.0, 0.50, 45.0, -6.0),
        (17, 6.0, 0.50, 60.0, -6.0),
        (18, 8.0, 0.50, 67.5, -6.0),
        (19, 4.0, 1.41, 45.0, 3.0),
    ];
    for (case, period, amplitude, phase_deg, expected) in cases {
        let report = measure_stereo(&true_peak_sine(rate, period, amplitude, phase_deg), rate);
        check_true_peak(
            &format!("3341 #{case} at {rate} Hz true peak"),
            report.true_peak_dbtp,
            expected,
        );
    }
}

/// Tech 3341 cases 15-19: stereo sines at fs/4, fs/6 and fs/8 whose peaks fall
/// between samples.
/// * #15: fs/4, amplitude 0.50 FFS, phase 0.0°, 10 ms fade-in and fade-out;
/// * #16: fs/4, 0.50 FFS, 45.0°; #17: fs/6, 0.50 FFS, 60.0°; #18: fs/8, 0.50 FFS, 67.5°:
///   max true-peak level = −6.0 +0.2/−0.4 dBTP;
/// * #19: fs/4, 1.41 FFS, 45.0°: max true-peak level = +3.0 +0.2/−0.4 dBTP.
#[test]
fn tech_3341_cases_15_to_19_true_peak_of_sines() {
    check_sine_true_peak_cases(RATE);
}

/// Cases 15-19 are defined relative to fs ("fs/4 denotes 12 kHz for a sample-rate of
/// 48 kHz, etc."), so they apply at the other common rates as well; the meter
/// oversamples 4× below 96 kHz and 2× from 96 kHz.
#[test]
fn tech_3341_cases_15_to_19_true_peak_of_sines_at_44_1_and_96_khz() {
    check_sine_true_peak_cases(44_100);
    check_sine_true_peak_cases(96_000);
}

/// A 257-tap Blackman-Harris windowed-sinc low-pass with its cutoff at `cutoff`
/// cycles per sample and unity gain at DC.
fn windowed_sinc_lowpass(cutoff: f64) -> Vec<f64> {
    const TAPS: usize = 257;
    let m = (TAPS - 1) as f64;
    let mut h: Vec<f64> = (0..TAPS)
        .map(|n| {
            let t = n as f64 - m / 2.0;
            let sinc = if t == 0.0 {
                2.0 * cutoff
            } else {
                (TAU * cutoff * t).sin() / (PI * t)
            };
            let x = TAU * n as f64 / m;
            let window = 0.358_75 - 0.488_29 * x.cos() + 0.141_28 * (2.0 * x).cos()
                - 0.011_68 * (3.0 * x).cos();
            sinc * window
        })
        .collect();
    let dc: f64 = h.iter().sum();
    h.iter_mut().for_each(|c| *c /= dc);
    h
}

/// Tech 3341 cases 20-23 at `rate`, as the table defines them: a sine at fs/6,
/// amplitude 0.50 FFS, containing a single period of a sine at fs/4, amplitude 1.00,
/// continuous in phase on both sides (each part joins the next at a rising zero
/// crossing); synthesized at 4·fs, tapered with a short (10 ms) fade-in and fade-out,
/// low-pass (anti-aliasing) filtered at fs/2, and downsampled to fs starting
/// `offset` samples (at 4·fs) into the signal. 1 s long, the single period in the
/// middle. The table leaves the anti-aliasing filter open; with this one the largest
/// sample for each offset (0.985, 0.948, 0.749, 0.948) matches the EBU's own
/// `seq-3341-20` to `-23` files within 3·10⁻⁴ (compared once, outside this
/// repository).
fn inter_sample_burst(rate: u32, offset: usize) -> Vec<f32> {
    const UP: usize = 4;
    let frames = rate as usize;
    let len = frames * UP;
    // Periods at 4·fs: fs/6 → 24 samples, fs/4 → 16 samples. The burst starts on a
    // multiple of 4 so that offset 0 puts an output sample on its crest.
    let (slow, fast) = (24.0, 16usize);
    let burst = len / 2 / UP * UP;
    let mut hi: Vec<f64> = (0..len)
        .map(|i| {
            if i < burst {
                0.5 * (TAU * (i as f64 - burst as f64) / slow).sin()
            } else if i < burst + fast {
                (TAU * (i - burst) as f64 / fast as f64).sin()
            } else {
                0.5 * (TAU * (i - burst - fast) as f64 / slow).sin()
            }
        })
        .collect();
    taper(&mut hi, len / 100);
    let h = windowed_sinc_lowpass(0.5 / UP as f64);
    let centre = h.len() / 2;
    (0..frames)
        .map(|n| {
            let at = UP * n + offset;
            let acc: f64 = h
                .iter()
                .enumerate()
                .filter_map(|(k, c)| {
                    (at + centre)
                        .checked_sub(k)
                        .and_then(|j| hi.get(j))
                        .map(|x| c * x)
                })
                .sum();
            acc as f32
        })
        .collect()
}

/// Tech 3341 cases 20-23: the inter-sample burst of [`inter_sample_burst`],
/// downsampled with a 0 (#20), 1 (#21), 2 (#22) and 3 (#23) sample offset at the 4·fs
/// rate. Max true-peak level = 0.0 +0.2/−0.4 dBTP for each.
#[test]
fn tech_3341_cases_20_to_23_true_peak_of_inter_sample_burst() {
    for (case, offset) in [(20, 0), (21, 1), (22, 2), (23, 3)] {
        let report = measure_stereo(&inter_sample_burst(RATE, offset), RATE);
        check_true_peak(
            &format!("3341 #{case} true peak"),
            report.true_peak_dbtp,
            0.0,
        );
    }
}

// ---------------------------------------------------------------------------------
// Tech 3342 Table 1: loudness range (cases 1-4)
// ---------------------------------------------------------------------------------

/// Meters Tech 3342 `levels` (20 s stereo 1 kHz tones, one after the other), once and
/// then repeated: "the expected response is unchanged if the test signal is repeated
/// one or more times in its full length".
#[track_caller]
fn check_lra_case(case: u32, levels: &[f64], expected: f64) {
    let parts: Vec<Part> = levels
        .iter()
        .map(|&dbfs| Part::Tone(dbfs, 20_000))
        .collect();
    let signal = tone_1k(RATE, &parts);
    let mut meter = LoudnessMeter::new(2, RATE).unwrap();
    meter.add(&[&signal, &signal]).unwrap();
    check_lra(
        &format!("3342 #{case} LRA"),
        meter.finish().loudness_range_lu,
        expected,
    );
    meter.add(&[&signal, &signal]).unwrap();
    check_lra(
        &format!("3342 #{case} LRA (signal repeated)"),
        meter.finish().loudness_range_lu,
        expected,
    );
}

/// Tech 3342 case 1: stereo sine, 1000 Hz, 20 s at −20.0 dBFS followed immediately by
/// 20 s at −30.0 dBFS. LRA = 10 ±1 LU.
#[test]
fn tech_3342_case_1_ten_lu_step() {
    check_lra_case(1, &[-20.0, -30.0], 10.0);
}

/// Tech 3342 case 2: as #1 with the tones at −20.0 and −15.0 dBFS. LRA = 5 ±1 LU.
#[test]
fn tech_3342_case_2_five_lu_step() {
    check_lra_case(2, &[-20.0, -15.0], 5.0);
}

/// Tech 3342 case 3: as #1 with the tones at −40.0 and −20.0 dBFS. LRA = 20 ±1 LU
/// (the −40 dBFS tone sits above the −20 LU relative gate).
#[test]
fn tech_3342_case_3_twenty_lu_step() {
    check_lra_case(3, &[-40.0, -20.0], 20.0);
}

/// Tech 3342 case 4: five 20 s tones at −50.0, −35.0, −20.0, −35.0 and −50.0 dBFS.
/// LRA = 15 ±1 LU (the −50 dBFS tones fall below the relative gate).
#[test]
fn tech_3342_case_4_five_segments_with_gated_ends() {
    check_lra_case(4, &[-50.0, -35.0, -20.0, -35.0, -50.0], 15.0);
}
