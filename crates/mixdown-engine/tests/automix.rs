//! Automix end to end on synthesized stems and on the corpus multitracks: the balance
//! between stems follows the class targets, does not depend on the stems' own gains,
//! pans leave left and right within 1 dB, the session renders to the same bytes, and
//! bad inputs are skipped or refused with a clear message.

use mixdown_analysis::LoudnessMeter;
use mixdown_dsp::AudioBuffer;
use mixdown_engine::automix::{automix, plan, AutomixJob, AutomixReport};
use mixdown_engine::mix::{load_session, mix_session, MixJob};
use mixdown_io::{decode_file, encode_file, EncodeOptions, OutputFormat, Overwrite};
use mixdown_session::InstrumentClass;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};

const RATE: u32 = 44_100;
const SECONDS: f64 = 8.0;

fn frames() -> usize {
    (SECONDS * f64::from(RATE)) as usize
}

/// Deterministic noise in [−1, 1].
fn noise(seed: u64) -> impl FnMut() -> f64 {
    let mut source = mixdown_dsp::dither::NoiseSource::new(seed);
    move || 2.0 * source.next_uniform()
}

/// A harmonic tone with a slow amplitude envelope.
fn harmonic(freq_hz: f64, amplitude: f64, harmonics: usize, phrase_s: f64) -> Vec<f32> {
    (0..frames())
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            let envelope = 0.6 + 0.4 * (2.0 * PI * t / phrase_s).sin().abs();
            let x: f64 = (1..=harmonics)
                .map(|h| (2.0 * PI * freq_hz * h as f64 * t).sin() / h as f64)
                .sum();
            (amplitude * envelope * x) as f32
        })
        .collect()
}

/// Decaying bursts every `period_s`.
fn hits(period_s: f64, decay_s: f64, tone_hz: Option<f64>, amplitude: f64, seed: u64) -> Vec<f32> {
    let mut rng = noise(seed);
    (0..frames())
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            let since = t % period_s;
            let body = match tone_hz {
                Some(f) => (2.0 * PI * f * since).sin(),
                None => rng(),
            };
            (amplitude * body * (-since / decay_s).exp()) as f32
        })
        .collect()
}

fn write(dir: &Path, name: &str, channels: Vec<Vec<f32>>, gain_db: f64) {
    let gain = 10f64.powf(gain_db / 20.0) as f32;
    let channels = channels
        .into_iter()
        .map(|c| c.into_iter().map(|x| x * gain).collect())
        .collect();
    encode_file(
        &dir.join(name),
        &AudioBuffer::from_channels(RATE, channels),
        &EncodeOptions::new(OutputFormat::Float32),
    )
    .unwrap();
}

/// A small band: kick, bass, snare, lead vocal, a guitar pair, a pad; with offsets.
fn write_band(dir: &Path, offsets_db: &[f64; 7]) {
    write(
        dir,
        "kick.wav",
        vec![hits(0.5, 0.08, Some(55.0), 0.9, 1)],
        offsets_db[0],
    );
    write(
        dir,
        "bass.wav",
        vec![harmonic(55.0, 0.3, 6, 2.0)],
        offsets_db[1],
    );
    let snare = hits(1.0, 0.06, None, 0.5, 2);
    write(dir, "snare.wav", vec![snare.clone(), snare], offsets_db[2]);
    write(
        dir,
        "lead vox.wav",
        vec![harmonic(220.0, 0.2, 12, 1.3)],
        offsets_db[3],
    );
    write(
        dir,
        "gtr L.wav",
        vec![harmonic(330.0, 0.1, 8, 0.7)],
        offsets_db[4],
    );
    write(
        dir,
        "gtr R.wav",
        vec![harmonic(247.0, 0.1, 8, 0.9)],
        offsets_db[5],
    );
    let pad = harmonic(440.0, 0.05, 4, 4.0);
    write(dir, "pad.wav", vec![pad.clone(), pad], offsets_db[6]);
}

fn job(dir: &Path) -> AutomixJob {
    AutomixJob {
        output: dir.join("mix.wav"),
        session: Some(dir.join("mix.toml")),
        stems_dir: Some(dir.join("contributions")),
        master_preset: None,
        format: OutputFormat::Float32,
        overwrite: Overwrite::Refuse,
    }
}

fn loudness(path: &Path) -> Option<f64> {
    let audio = decode_file(path).unwrap().audio;
    let mut meter = LoudnessMeter::integrated_only(audio.channel_count(), RATE).unwrap();
    meter.add(&audio.channel_slices()).unwrap();
    meter.finish().integrated_lufs
}

/// Each stem's contribution relative to the mix, by track name, from the stems out.
fn relative_loudness(dir: &Path, report: &AutomixReport) -> Vec<(String, f64)> {
    let mix = loudness(&dir.join("mix.wav")).unwrap();
    report
        .stems
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.muted)
        .map(|(i, s)| {
            let file = dir.join("contributions").join(format!(
                "{:02}-{}.wav",
                i + 1,
                s.name.replace(' ', "_")
            ));
            (s.name.clone(), loudness(&file).unwrap() - mix)
        })
        .collect()
}

#[test]
fn a_band_is_balanced_panned_and_its_session_renders_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let stems = dir.path().join("stems");
    std::fs::create_dir(&stems).unwrap();
    write_band(&stems, &[0.0; 7]);
    write(&stems, "silent.wav", vec![vec![0.0; frames()]], 0.0);
    std::fs::write(stems.join("notes.txt"), "not audio").unwrap();

    let report = automix(std::slice::from_ref(&stems), &job(dir.path()), &mut |_| {}).unwrap();
    assert_eq!(report.stems.len(), 8);
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].file.ends_with("notes.txt"));
    let by_name = |name: &str| report.stems.iter().find(|s| s.name == name).unwrap();
    assert!(by_name("silent").muted);
    for (name, class) in [
        ("kick", InstrumentClass::Kick),
        ("bass", InstrumentClass::Bass),
        ("snare", InstrumentClass::Snare),
        ("lead vox", InstrumentClass::LeadVocal),
        ("gtr L", InstrumentClass::Guitar),
        ("pad", InstrumentClass::Pads),
    ] {
        assert_eq!(by_name(name).classification.class, class, "{name}");
    }
    // Foundations centred, the pair opposite each other.
    for name in ["kick", "bass", "snare", "lead vox"] {
        assert_eq!(by_name(name).pan, 0.0, "{name}");
    }
    assert!(by_name("gtr L").pan < -0.4 && by_name("gtr R").pan > 0.4);

    // The balance between stems is the balance between class targets (one common
    // offset: the targets are relative to a mix of any make-up).
    let measured = relative_loudness(dir.path(), &report);
    let offsets: Vec<f64> = measured
        .iter()
        .map(|(name, rel)| rel - by_name(name).target_relative_lu)
        .collect();
    let mean = offsets.iter().sum::<f64>() / offsets.len() as f64;
    for ((name, _), offset) in measured.iter().zip(&offsets) {
        assert!(
            (offset - mean).abs() < 0.5,
            "{name}: {offset:+.2} vs mean {mean:+.2}"
        );
    }

    // Headroom, left/right energy, reverb return.
    let mix = decode_file(&dir.path().join("mix.wav")).unwrap().audio;
    let peak = mix
        .channels
        .iter()
        .flatten()
        .fold(0.0f32, |m, &x| m.max(x.abs()));
    assert!(
        (20.0 * f64::from(peak).log10() + 6.0).abs() < 0.05,
        "peak {peak}"
    );
    let power = |c: &[f32]| c.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
    let balance_db = 10.0 * (power(&mix.channels[0]) / power(&mix.channels[1])).log10();
    assert!(balance_db.abs() < 1.0, "left/right {balance_db:+.2} dB");
    let reverb = report.reverb_return_lu.unwrap();
    assert!((reverb + 9.0).abs() < 1.5, "reverb return {reverb:+.1} LU");

    // `mixdown mix` renders the written session to the same bytes.
    let loaded = load_session(&dir.path().join("mix.toml")).unwrap();
    let again = dir.path().join("again.wav");
    let mix_job = MixJob {
        format: OutputFormat::Float32,
        ..MixJob::new(&again)
    };
    mix_session(&loaded, &mix_job, &mut |_| {}).unwrap();
    assert!(
        std::fs::read(&again).unwrap() == std::fs::read(dir.path().join("mix.wav")).unwrap(),
        "the session must render to the automix"
    );
    // Every decision has its reason.
    assert!(by_name("bass")
        .reasons
        .iter()
        .any(|r| r.contains("ducks under kick")));
    assert!(by_name("kick").reasons.iter().any(|r| r.contains("dry")));
}

#[test]
fn the_automix_does_not_depend_on_the_stems_own_gains() {
    // Seeded offsets within ±12 dB.
    let mut rng = noise(42);
    let offsets: [f64; 7] = std::array::from_fn(|_| (rng() * 12.0).round());
    let run = |offsets: &[f64; 7]| {
        let dir = tempfile::tempdir().unwrap();
        let stems = dir.path().join("stems");
        std::fs::create_dir(&stems).unwrap();
        write_band(&stems, offsets);
        let report = automix(&[stems], &job(dir.path()), &mut |_| {}).unwrap();
        relative_loudness(dir.path(), &report)
    };
    let plain = run(&[0.0; 7]);
    let offset = run(&offsets);
    for ((name, a), (_, b)) in plain.iter().zip(&offset) {
        assert!(
            (a - b).abs() < 0.5,
            "{name}: {a:+.2} vs {b:+.2} LU (offsets {offsets:?})"
        );
    }
}

#[test]
fn unmasking_cuts_the_less_important_stem_where_both_are_strong() {
    let dir = tempfile::tempdir().unwrap();
    let stems = dir.path().join("stems");
    std::fs::create_dir(&stems).unwrap();
    write_band(&stems, &[0.0; 7]);
    let report = automix(&[stems], &job(dir.path()), &mut |_| {}).unwrap();
    let cuts = |name: &str| -> Vec<mixdown_session::EqBand> {
        let stem = report.stems.iter().find(|s| s.name == name).unwrap();
        stem.chain
            .iter()
            .filter_map(|p| match p {
                mixdown_session::ProcessorSpec::Eq { bands, .. } => Some(bands.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    };
    assert!(
        cuts("lead vox").is_empty(),
        "the lead is never cut for others"
    );
    let guitar = cuts("gtr L");
    assert!(!guitar.is_empty(), "the guitar makes room for the vocal");
    for band in guitar {
        assert!(band.gain_db < 0.0 && band.gain_db >= -plan::MAX_UNMASK_CUT_DB);
        assert!(band.q <= 1.5, "broad cuts only");
    }
}

#[test]
fn bad_inputs_end_in_one_clear_error_and_odd_ones_still_mix() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let error = automix(std::slice::from_ref(&empty), &job(dir.path()), &mut |_| {}).unwrap_err();
    assert!(
        error.to_string().starts_with("no audio stems in"),
        "{error}"
    );
    std::fs::write(empty.join("readme.txt"), "hello").unwrap();
    let error = automix(&[empty], &job(dir.path()), &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("1 files skipped"), "{error}");
    assert!(!dir.path().join("mix.wav").exists());

    // One stem, and stems at different rates and lengths.
    let single = dir.path().join("single");
    std::fs::create_dir(&single).unwrap();
    write(
        &single,
        "vox.wav",
        vec![harmonic(220.0, 0.2, 8, 1.0)],
        -20.0,
    );
    let out = tempfile::tempdir().unwrap();
    let report = automix(&[single.join("vox.wav")], &job(out.path()), &mut |_| {}).unwrap();
    assert_eq!(report.stems.len(), 1);
    assert!((report.mix_peak_dbfs.unwrap() + 6.0).abs() < 0.05);

    let mixed_rates = dir.path().join("rates");
    std::fs::create_dir(&mixed_rates).unwrap();
    write(
        &mixed_rates,
        "kick.wav",
        vec![hits(0.5, 0.08, Some(55.0), 0.9, 1)],
        0.0,
    );
    let short: Vec<f32> = harmonic(110.0, 0.3, 6, 2.0)[..RATE as usize * 3].to_vec();
    encode_file(
        &mixed_rates.join("bass.wav"),
        &AudioBuffer::from_channels(48_000, vec![short]),
        &EncodeOptions::new(OutputFormat::Float32),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = automix(&[mixed_rates], &job(out.path()), &mut |_| {}).unwrap();
    assert_eq!(report.stems.len(), 2);
    let mix = decode_file(&out.path().join("mix.wav")).unwrap().audio;
    assert_eq!(mix.sample_rate_hz, 48_000, "the highest stem rate");
    assert!(mix.frame_count() >= 8 * 48_000);
}

#[test]
fn the_corpus_multitracks_automix_without_overs() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/multitrack");
    for song in std::fs::read_dir(&root).unwrap() {
        let song = song.unwrap().path();
        let mut stems: Vec<PathBuf> = std::fs::read_dir(&song)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "flac"))
            .filter(|p| !p.ends_with("reference-mix.flac"))
            .collect();
        stems.sort();
        let out = tempfile::tempdir().unwrap();
        let report = automix(&stems, &job(out.path()), &mut |_| {}).unwrap();
        assert_eq!(report.stems.len(), stems.len());
        let audio = decode_file(&out.path().join("mix.wav")).unwrap().audio;
        let mut meter = LoudnessMeter::new(2, audio.sample_rate_hz).unwrap();
        meter.add(&audio.channel_slices()).unwrap();
        let true_peak = meter.finish().true_peak_dbtp.unwrap();
        assert!(true_peak <= -1.0, "{}: {true_peak} dBTP", song.display());
    }
}
