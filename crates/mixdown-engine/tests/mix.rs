//! Rendering sessions, checked against computation: the float sum of the stems, pan
//! law gains, analytic filter responses, a click through a lookahead stage, send
//! arithmetic, and identical bytes whatever the block size or thread count.

use mixdown_analysis::LoudnessMeter;
use mixdown_dsp::dither::NoiseSource;
use mixdown_dsp::stereo::PanLaw;
use mixdown_dsp::units::gain_to_db;
use mixdown_dsp::AudioBuffer;
use mixdown_engine::chain::eq_response_db;
use mixdown_engine::mix::{check_session, load_session, mix_session, Metering, MixError, MixJob};
use mixdown_io::{decode_file, encode_file, EncodeOptions, OutputFormat, Overwrite};
use mixdown_session::{EqBand, EqBandKind};
use std::f64::consts::PI;
use std::path::{Path, PathBuf};

const RATE: u32 = 48_000;

fn sine(freq_hz: f64, amplitude: f64, seconds: f64, rate: u32) -> Vec<f32> {
    let frames = (seconds * f64::from(rate)) as usize;
    (0..frames)
        .map(|i| (amplitude * (2.0 * PI * freq_hz * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

/// Deterministic noise in [−amplitude, amplitude].
fn noise(frames: usize, amplitude: f32, seed: u64) -> Vec<f32> {
    let mut source = NoiseSource::new(seed);
    (0..frames)
        .map(|_| amplitude * (2.0 * source.next_uniform()) as f32)
        .collect()
}

fn write_stem(dir: &Path, name: &str, channels: Vec<Vec<f32>>, rate: u32) {
    let options = EncodeOptions::new(OutputFormat::Float32);
    encode_file(
        &dir.join(name),
        &AudioBuffer::from_channels(rate, channels),
        &options,
    )
    .unwrap();
}

fn write_session(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("song.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Renders the session at `path` to 32-bit float and returns the decoded mix.
fn render_with(path: &Path, job: impl FnOnce(MixJob) -> MixJob) -> Vec<Vec<f32>> {
    let output = path.with_file_name("mix.wav");
    let job = job(MixJob {
        format: OutputFormat::Float32,
        overwrite: Overwrite::Replace,
        ..MixJob::new(&output)
    });
    let loaded = load_session(path).unwrap_or_else(|e| panic!("{e}"));
    mix_session(&loaded, &job, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
    decode_file(&job.output).unwrap().audio.channels
}

fn render(path: &Path) -> Vec<Vec<f32>> {
    render_with(path, |job| job)
}

fn rms_db(samples: &[f32]) -> f64 {
    let power = samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / samples.len() as f64;
    10.0 * power.log10()
}

#[test]
fn neutral_session_is_the_float_sum_of_its_stems() {
    let dir = tempfile::tempdir().unwrap();
    let mono = noise(30_000, 0.3, 1);
    let left = noise(50_000, 0.2, 2);
    let right = noise(50_000, 0.2, 3);
    let short = noise(10_000, 0.25, 4);
    write_stem(dir.path(), "mono.wav", vec![mono.clone()], RATE);
    write_stem(
        dir.path(),
        "stereo.wav",
        vec![left.clone(), right.clone()],
        RATE,
    );
    write_stem(
        dir.path(),
        "short.wav",
        vec![short.clone(), short.clone()],
        RATE,
    );
    let session = write_session(
        dir.path(),
        r#"version = 1
[mix]
pan_law_db = 0.0
[[track]]
name = "mono"
file = "mono.wav"
[[track]]
name = "stereo"
file = "stereo.wav"
[[track]]
name = "short"
file = "short.wav"
"#,
    );
    let mix = render(&session);
    assert_eq!(mix.len(), 2);
    assert_eq!(mix[0].len(), 50_000, "runs to the end of the longest stem");
    for (c, channel) in mix.iter().enumerate() {
        let stereo = if c == 0 { &left } else { &right };
        for (i, &y) in channel.iter().enumerate() {
            let mut sum = 0.0f32;
            sum += mono.get(i).copied().unwrap_or(0.0);
            sum += stereo[i];
            sum += short.get(i).copied().unwrap_or(0.0);
            assert_eq!(y.to_bits(), sum.to_bits(), "channel {c} frame {i}");
        }
    }
}

#[test]
fn pan_laws_set_the_centre_level_and_hard_pans_silence_the_far_side() {
    let dir = tempfile::tempdir().unwrap();
    write_stem(
        dir.path(),
        "tone.wav",
        vec![sine(1000.0, 0.5, 0.5, RATE)],
        RATE,
    );
    let tone_db = rms_db(&sine(1000.0, 0.5, 0.5, RATE));
    for law_db in [0.0, -3.0, -4.5, -6.0] {
        for pan in [-1.0, -0.5, 0.0, 0.7] {
            let session = write_session(
                dir.path(),
                &format!(
                    "version = 1\n[mix]\npan_law_db = {law_db}\n[[track]]\nname = \"t\"\nfile = \"tone.wav\"\npan = {pan}\n"
                ),
            );
            let mix = render(&session);
            let expected = PanLaw::from_db(law_db).unwrap().gains(pan);
            for (channel, gain) in mix.iter().zip(expected) {
                if gain == 0.0 {
                    assert!(channel.iter().all(|&x| x == 0.0), "law {law_db} pan {pan}");
                } else {
                    let measured = rms_db(channel) - tone_db;
                    assert!(
                        (measured - gain_to_db(gain)).abs() < 0.01,
                        "law {law_db} pan {pan}: {measured} dB vs {}",
                        gain_to_db(gain)
                    );
                }
            }
        }
    }
}

#[test]
fn track_eq_matches_the_analytic_response_on_every_stem() {
    let dir = tempfile::tempdir().unwrap();
    let freqs = [50.0, 120.0, 400.0, 1000.0, 3000.0, 8000.0, 15000.0];
    let mut text = String::from("version = 1\n[mix]\npan_law_db = 0.0\n");
    let chain = r#"[ { type = "highpass", freq = 80.0, slope_db_per_oct = 24 },
  { type = "eq", bands = [ { kind = "bell", freq = 1000.0, gain_db = 4.0, q = 1.0 },
                           { kind = "low_shelf", freq = 200.0, gain_db = -3.0, q = 0.7 },
                           { kind = "high_shelf", freq = 6000.0, gain_db = 2.5, q = 0.7 },
                           { kind = "notch", freq = 3000.0, q = 4.0 } ] } ]"#;
    for (i, freq) in freqs.iter().enumerate() {
        write_stem(
            dir.path(),
            &format!("{i}.wav"),
            vec![sine(*freq, 0.25, 1.0, RATE)],
            RATE,
        );
        text += &format!("[[track]]\nname = \"t{i}\"\nfile = \"{i}.wav\"\nchain = {chain}\n");
    }
    let session = write_session(dir.path(), &text);
    let stems = dir.path().join("stems");
    render_with(&session, |job| MixJob {
        stems_dir: Some(stems.clone()),
        ..job
    });
    let bands = [
        EqBand {
            kind: EqBandKind::Bell,
            freq: 1000.0,
            gain_db: 4.0,
            q: 1.0,
        },
        EqBand {
            kind: EqBandKind::LowShelf,
            freq: 200.0,
            gain_db: -3.0,
            q: 0.7,
        },
        EqBand {
            kind: EqBandKind::HighShelf,
            freq: 6000.0,
            gain_db: 2.5,
            q: 0.7,
        },
        EqBand {
            kind: EqBandKind::Notch,
            freq: 3000.0,
            gain_db: 0.0,
            q: 4.0,
        },
    ];
    let highpass = mixdown_dsp::filters::FilterChain::new(
        mixdown_dsp::filters::butterworth_sections(
            mixdown_dsp::filters::PassKind::HighPass,
            4,
            80.0,
            f64::from(RATE),
        ),
        mixdown_dsp::filters::FilterTarget::AllChannels,
    );
    for (i, &freq) in freqs.iter().enumerate() {
        let stem = decode_file(&stems.join(format!("{:02}-t{i}.wav", i + 1))).unwrap();
        // Skip the filters' settling (the first 0.25 s).
        let steady = &stem.audio.channels[0][12_000..48_000];
        let measured = rms_db(steady) - rms_db(&sine(freq, 0.25, 1.0, RATE)[12_000..48_000]);
        let expected = eq_response_db(&bands, freq, f64::from(RATE))
            + gain_to_db(highpass.magnitude_at(freq, f64::from(RATE)));
        if expected > -60.0 {
            assert!(
                (measured - expected).abs() < 0.1,
                "{freq} Hz: measured {measured:.3} dB, analytic {expected:.3} dB"
            );
        } else {
            assert!(measured < -55.0, "{freq} Hz: {measured:.1} dB");
        }
    }
}

#[test]
fn a_click_through_a_lookahead_stage_and_a_dry_click_sum_to_one_click() {
    let dir = tempfile::tempdir().unwrap();
    let mut click = vec![0.0f32; 24_000];
    click[10_000] = 0.1;
    write_stem(dir.path(), "click.wav", vec![click], RATE);
    let session = write_session(
        dir.path(),
        r#"version = 1
[mix]
pan_law_db = 0.0
[[track]]
name = "through the limiter"
file = "click.wav"
chain = [ { type = "limiter", ceiling_dbtp = -1.0, lookahead_ms = 5.0, release_ms = 50.0 } ]
[[track]]
name = "dry"
file = "click.wav"
output = "bus"
[[bus]]
name = "bus"
chain = [ { type = "limiter", ceiling_dbtp = -1.0, lookahead_ms = 2.0, release_ms = 50.0 } ]
[[bus]]
name = "plain"
"#,
    );
    let mix = render(&session);
    assert_eq!(mix[0].len(), 24_000);
    let nonzero: Vec<(usize, f32)> = mix[0]
        .iter()
        .enumerate()
        .filter(|(_, &x)| x.abs() > 1e-6)
        .map(|(i, &x)| (i, x))
        .collect();
    assert_eq!(nonzero.len(), 1, "{nonzero:?}");
    assert_eq!(nonzero[0].0, 10_000);
    assert!((nonzero[0].1 - 0.2).abs() < 1e-6, "{nonzero:?}");
}

#[test]
fn sends_pre_and_post_fader_solo_and_mute() {
    let dir = tempfile::tempdir().unwrap();
    let a = noise(20_000, 0.2, 7);
    let b = noise(20_000, 0.2, 8);
    write_stem(dir.path(), "a.wav", vec![a.clone()], RATE);
    write_stem(dir.path(), "b.wav", vec![b.clone()], RATE);
    let base = |a_extra: &str, b_extra: &str| {
        format!(
            r#"version = 1
[mix]
pan_law_db = 0.0
[[track]]
name = "a"
file = "a.wav"
gain_db = -6.0
{a_extra}
[[track]]
name = "b"
file = "b.wav"
{b_extra}
[[bus]]
name = "fx"
"#
        )
    };
    let check = |text: String, expected: &dyn Fn(usize) -> f64| {
        let mix = render(&write_session(dir.path(), &text));
        for i in (0..20_000).step_by(97) {
            let want = expected(i);
            assert!(
                (f64::from(mix[0][i]) - want).abs() < 1e-6,
                "frame {i}: {} vs {want}\n{text}",
                mix[0][i]
            );
        }
    };
    let g6 = 10f64.powf(-6.0 / 20.0);
    let g12 = 10f64.powf(-12.0 / 20.0);
    let (a, b) = (&a, &b);
    let x = |v: &Vec<f32>, i: usize| f64::from(v[i]);
    // Post-fader: the send follows the fader.
    check(
        base("sends = [ { bus = \"fx\", level_db = -12.0 } ]", ""),
        &|i| x(a, i) * g6 * (1.0 + g12) + x(b, i),
    );
    // Pre-fader: it does not.
    check(
        base(
            "sends = [ { bus = \"fx\", level_db = -12.0, pre_fader = true } ]",
            "",
        ),
        &|i| x(a, i) * (g6 + g12) + x(b, i),
    );
    // Solo b: a disappears, its send too; b's route through a bus stays audible.
    check(
        base(
            "sends = [ { bus = \"fx\", level_db = -12.0 } ]",
            "solo = true\noutput = \"fx\"",
        ),
        &|i| x(b, i),
    );
    // Mute a.
    check(base("mute = true", ""), &|i| x(b, i));
}

#[test]
fn stems_and_bus_returns_sum_to_the_mix() {
    let dir = tempfile::tempdir().unwrap();
    write_example_stems(dir.path());
    let session = write_session(dir.path(), &example_session(""));
    let stems = dir.path().join("stems");
    let mix = render_with(&session, |job| MixJob {
        stems_dir: Some(stems.clone()),
        ..job
    });
    let read = |name: &str| decode_file(&stems.join(name)).unwrap().audio.channels;
    // Routed to the master: tracks kick, bass, guitar (the snare goes to the drum bus)
    // and buses drums, verb, echo... minus what is sent on: echo also sends to verb,
    // which is inside verb's return already.
    let parts = [
        read("01-kick.wav"),
        read("02-bass.wav"),
        read("04-gtr.wav"),
        read("bus-drums.wav"),
        read("bus-verb.wav"),
        read("bus-echo.wav"),
    ];
    for c in 0..2 {
        assert_eq!(parts[0][c].len(), mix[c].len());
        let mut worst = 0.0f32;
        for i in 0..mix[c].len() {
            let sum: f32 = parts.iter().map(|p| p[c][i]).sum();
            worst = worst.max((sum - mix[c][i]).abs());
        }
        assert!(worst < 1e-5, "channel {c}: residual {worst}");
    }
}

fn write_example_stems(dir: &Path) {
    let frames = RATE as usize * 2;
    let mut kick = vec![0.0f32; frames];
    for beat in 0..4 {
        for (i, x) in sine(60.0, 0.8, 0.15, RATE).into_iter().enumerate() {
            kick[beat * RATE as usize / 2 + i] = x * (1.0 - i as f32 / 7200.0);
        }
    }
    write_stem(dir, "kick.wav", vec![kick], RATE);
    write_stem(dir, "bass.wav", vec![sine(55.0, 0.4, 2.0, RATE)], RATE);
    write_stem(dir, "snare.wav", vec![noise(frames, 0.3, 11)], RATE);
    write_stem(
        dir,
        "gtr.wav",
        vec![sine(330.0, 0.2, 1.5, 44_100), sine(440.0, 0.2, 1.5, 44_100)],
        44_100,
    );
}

/// A session using every kind of node: groups, sends, effects, sidechain, resampling.
fn example_session(master_chain: &str) -> String {
    format!(
        r#"version = 1
sample_rate = 48000
[mix]
tempo_bpm = 120.0
[[track]]
name = "kick"
file = "kick.wav"
chain = [ {{ type = "highpass", freq = 30.0, slope_db_per_oct = 12 }} ]
[[track]]
name = "bass"
file = "bass.wav"
gain_db = -3.0
automation = [ {{ time_s = 0.5, gain_db = 0.0 }}, {{ time_s = 1.5, gain_db = -6.0 }} ]
chain = [ {{ type = "compressor", threshold_db = -30.0, ratio = 6.0, attack_ms = 1.0, release_ms = 80.0, detector = "peak", sidechain = "kick" }} ]
[[track]]
name = "snare"
file = "snare.wav"
output = "drums"
pan = 0.2
chain = [ {{ type = "gate", threshold_db = -40.0 }}, {{ type = "de_esser", threshold_db = -30.0 }} ]
sends = [ {{ bus = "verb", level_db = -10.0 }} ]
[[track]]
name = "gtr"
file = "gtr.wav"
pan = -0.3
width = 0.7
start_s = 0.25
fade_in_ms = 50.0
fade_out_ms = 200.0
invert_polarity = true
sends = [ {{ bus = "echo", level_db = -8.0, pre_fader = true }} ]
[[bus]]
name = "drums"
chain = [ {{ type = "compressor", threshold_db = -20.0, ratio = 3.0, attack_ms = 5.0, release_ms = 100.0 }},
          {{ type = "limiter", ceiling_dbtp = -3.0, lookahead_ms = 1.5, release_ms = 60.0 }} ]
[[bus]]
name = "verb"
chain = [ {{ type = "reverb", decay_s = 0.8, predelay_ms = 10.0 }} ]
[[bus]]
name = "echo"
chain = [ {{ type = "delay", note = "1/8", feedback = 0.3, ping_pong = true }} ]
sends = [ {{ bus = "verb", level_db = -6.0 }} ]
[master]
chain = [ {master_chain} ]
"#
    )
}

#[test]
fn identical_bytes_whatever_the_block_size_or_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    write_example_stems(dir.path());
    let session = write_session(
        dir.path(),
        &example_session(
            r#"{ type = "limiter", ceiling_dbtp = -1.0, lookahead_ms = 1.5, release_ms = 80.0 }"#,
        ),
    );
    let render_in = |block_frames: usize, threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            render_with(&session, |job| MixJob {
                block_frames,
                ..job
            })
        })
    };
    let reference = render_in(4096, 2);
    // Reverb and delay tails are rendered: the mix is longer than the 2 s stems.
    assert!(reference[0].len() > 2 * RATE as usize + RATE as usize / 2);
    for (block_frames, threads) in [(1000, 1), (4096, 1), (333, 3), (65_536, 2)] {
        let mix = render_in(block_frames, threads);
        assert!(
            mix == reference,
            "block {block_frames}, {threads} threads: different output"
        );
    }
}

#[test]
fn fader_automation_and_fades_shape_the_level() {
    let dir = tempfile::tempdir().unwrap();
    let dc = vec![0.5f32; RATE as usize * 3];
    write_stem(dir.path(), "dc.wav", vec![dc], RATE);
    let session = write_session(
        dir.path(),
        r#"version = 1
[mix]
pan_law_db = 0.0
[[track]]
name = "dc"
file = "dc.wav"
fade_in_ms = 100.0
fade_out_ms = 500.0
automation = [ { time_s = 1.0, gain_db = 0.0 }, { time_s = 2.0, gain_db = -12.0 } ]
"#,
    );
    let mix = render(&session);
    let at = |s: f64| f64::from(mix[0][(s * f64::from(RATE)) as usize]);
    assert_eq!(mix[0][0], 0.0, "the fade-in starts from silence");
    assert!(
        (at(0.05) - 0.25).abs() < 1e-3,
        "half way through the fade-in: {}",
        at(0.05)
    );
    assert!((at(0.5) - 0.5).abs() < 1e-6);
    // Half way between the points: −6 dB (linear in dB).
    assert!(
        (gain_to_db(at(1.5) / 0.5) + 6.0).abs() < 0.01,
        "{}",
        at(1.5)
    );
    // After the last point the offset holds; the fade-out halves it midway.
    let held = 0.5 * 10f64.powf(-12.0 / 20.0);
    assert!((at(2.2) - held).abs() < 1e-6, "{}", at(2.2));
    assert!((at(2.75) - held / 2.0).abs() < 1e-3, "{}", at(2.75));
    assert!(mix[0].last().unwrap().abs() < 1e-4);
}

#[test]
fn stems_at_other_rates_are_resampled_and_delays_place_them() {
    let dir = tempfile::tempdir().unwrap();
    write_stem(
        dir.path(),
        "tone.wav",
        vec![sine(1000.0, 0.5, 1.0, 44_100)],
        44_100,
    );
    write_stem(dir.path(), "long.wav", vec![vec![0.0; 96_000]], RATE);
    let session = write_session(
        dir.path(),
        r#"version = 1
[mix]
pan_law_db = 0.0
[[track]]
name = "tone"
file = "tone.wav"
delay_samples = 4800
[[track]]
name = "silence"
file = "long.wav"
"#,
    );
    let mix = render(&session);
    assert_eq!(mix[0].len(), 96_000);
    assert!(
        mix[0][..4_700].iter().all(|&x| x.abs() < 1e-3),
        "delayed by 100 ms"
    );
    // One second of the tone at 48 kHz, at the same level.
    let steady = &mix[0][10_000..50_000];
    let level = rms_db(steady) - rms_db(&sine(1000.0, 0.5, 1.0, RATE));
    assert!(level.abs() < 0.05, "{level} dB");
    let crossings = steady
        .windows(2)
        .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
        .count();
    assert!(
        (crossings as i64 - 833).abs() <= 1,
        "{crossings} cycles in 40000 frames"
    );
    assert!(mix[0][4_800 + 48_100..].iter().all(|&x| x.abs() < 1e-3));
}

#[test]
fn the_kick_ducks_the_bass_through_a_sidechain() {
    let dir = tempfile::tempdir().unwrap();
    write_example_stems(dir.path());
    let session = write_session(dir.path(), &example_session(""));
    let stems = dir.path().join("stems");
    render_with(&session, |job| MixJob {
        stems_dir: Some(stems.clone()),
        ..job
    });
    let bass = &decode_file(&stems.join("02-bass.wav"))
        .unwrap()
        .audio
        .channels[0];
    // Kicks at 0, 0.5, 1, 1.5 s; the fader is steady until 0.5 s.
    let during_kick = rms_db(&bass[2_000..6_000]);
    let between = rms_db(&bass[16_000..23_000]);
    assert!(
        between - during_kick > 6.0,
        "ducked {during_kick:.1} dB vs {between:.1} dB"
    );
}

#[test]
fn bad_sessions_list_every_problem_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_stem(dir.path(), "ok.wav", vec![vec![0.1; 1000]], RATE);
    std::fs::write(dir.path().join("broken.wav"), b"RIFF....WAVEfmt nonsense").unwrap();
    write_stem(dir.path(), "surround.wav", vec![vec![0.0; 100]; 6], RATE);
    let session = write_session(
        dir.path(),
        r#"version = 1
[[track]]
name = "missing"
file = "nowhere.wav"
[[track]]
name = "broken"
file = "broken.wav"
[[track]]
name = "six"
file = "surround.wav"
[[track]]
name = "ok"
file = "ok.wav"
output = "nobus"
chain = [ { type = "lowpass", freq = 30000.0, slope_db_per_oct = 12 } ]
"#,
    );
    let Err(MixError::Problems(problems)) = load_session(&session) else {
        panic!("the session must be rejected");
    };
    let lines: Vec<String> = problems.0.iter().map(ToString::to_string).collect();
    let expect = [
        (4, "track[0].file"),
        (7, "track[1].file"),
        (10, "track[2].file"),
        (14, "track[3].output"),
        (15, "track[3].chain[0].freq"),
    ];
    assert_eq!(lines.len(), expect.len(), "{lines:#?}");
    for (line, (number, path)) in lines.iter().zip(expect) {
        assert!(
            line.starts_with(&format!("{}:{number}: {path}: ", session.display())),
            "{lines:#?}"
        );
    }
    assert!(lines[2].contains("6 channels"), "{lines:#?}");
    assert!(lines[4].contains("above Nyquist (24000 Hz)"), "{lines:#?}");
    assert!(!dir.path().join("mix.wav").exists());

    // --check decodes every stem: a truncated one is found without rendering.
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/broken");
    let truncated = corpus.join("truncated.flac");
    let session = write_session(
        dir.path(),
        &format!(
            "version = 1\n[[track]]\nname = \"t\"\nfile = {:?}\n",
            truncated.display().to_string()
        ),
    );
    assert!(
        load_session(&session).is_ok(),
        "the header alone looks fine"
    );
    let Err(MixError::Problems(problems)) = check_session(&session) else {
        panic!("--check must find the truncation");
    };
    assert_eq!(problems.0.len(), 1);
    assert!(
        problems.0[0].to_string().contains("truncated"),
        "{}",
        problems.0[0]
    );
}

#[test]
fn an_existing_output_is_kept_without_force() {
    let dir = tempfile::tempdir().unwrap();
    write_stem(dir.path(), "ok.wav", vec![vec![0.1; 1000]], RATE);
    let session = write_session(
        dir.path(),
        "version = 1\n[[track]]\nname = \"a\"\nfile = \"ok.wav\"\n",
    );
    let output = dir.path().join("mix.wav");
    std::fs::write(&output, b"keep me").unwrap();
    let loaded = load_session(&session).unwrap();
    let error = mix_session(&loaded, &MixJob::new(&output), &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("already exists"), "{error}");
    assert_eq!(std::fs::read(&output).unwrap(), b"keep me");
    let into_stem = MixJob {
        overwrite: Overwrite::Replace,
        ..MixJob::new(dir.path().join("ok.wav"))
    };
    let error = mix_session(&loaded, &into_stem, &mut |_| {}).unwrap_err();
    assert!(
        error.to_string().contains("must not be one of the inputs"),
        "{error}"
    );
}

#[test]
fn an_endless_echo_stops_after_a_minute_of_tail() {
    let dir = tempfile::tempdir().unwrap();
    write_stem(dir.path(), "blip.wav", vec![vec![0.5; 480]], RATE);
    let session = write_session(
        dir.path(),
        r#"version = 1
[[track]]
name = "blip"
file = "blip.wav"
sends = [ { bus = "echo" } ]
[[bus]]
name = "echo"
chain = [ { type = "delay", time_ms = 10000.0, feedback = 0.99 } ]
"#,
    );
    let mix = render(&session);
    assert_eq!(
        mix[0].len(),
        480 + 60 * RATE as usize,
        "the tail is capped at {} s",
        mixdown_engine::mix::MAX_TAIL_S
    );
}

#[test]
fn a_measuring_render_writes_nothing_and_meters_what_a_written_one_holds() {
    let dir = tempfile::tempdir().unwrap();
    write_example_stems(dir.path());
    let session = write_session(dir.path(), &example_session(""));
    let loaded = load_session(&session).unwrap();
    let measure = |output: &Path, write_mix: bool, meter: Metering| {
        let job = MixJob {
            format: OutputFormat::Float32,
            overwrite: Overwrite::Replace,
            meter,
            write_mix,
            ..MixJob::new(output)
        };
        mix_session(&loaded, &job, &mut |_| {}).unwrap()
    };
    let written = dir.path().join("written.wav");
    let unwritten = dir.path().join("unwritten.wav");
    let full = measure(&written, true, Metering::Everything);
    let probe = measure(&unwritten, false, Metering::Everything);
    let buses_only = measure(&dir.path().join("other.wav"), true, Metering::MixAndBuses);
    assert!(!unwritten.exists());
    let (full, probe, buses_only) = (
        full.loudness.unwrap(),
        probe.loudness.unwrap(),
        buses_only.loudness.unwrap(),
    );
    // The same render either way; the written file says what the meter said.
    assert_eq!(probe.mix_lufs, full.mix_lufs);
    assert_eq!(probe.tracks_lufs, full.tracks_lufs);
    assert!(full.tracks_lufs.iter().all(Option::is_some));
    assert!(buses_only.tracks_lufs.iter().all(Option::is_none));
    assert_eq!(buses_only.buses_lufs, full.buses_lufs);
    let audio = decode_file(&written).unwrap().audio;
    let mut meter = LoudnessMeter::integrated_only(2, audio.sample_rate_hz).unwrap();
    meter.add(&audio.channel_slices()).unwrap();
    let independent = meter.finish().integrated_lufs.unwrap();
    assert!((full.mix_lufs.unwrap() - independent).abs() < 0.02);
}
