//! Mastering end to end, judged on the written files by an independent meter: the
//! `ebur128` crate (libebur128's port) for integrated loudness and true peak, not the
//! engine's own bookkeeping nor `mixdown-analysis`.

use mixdown_analysis::spectrum::third_octave_centers_hz;
use mixdown_analysis::{analyze, Metrics};
use mixdown_dsp::AudioBuffer;
use mixdown_engine::mastering::tonal::{relative_levels_db, tonal_distance_db};
use mixdown_engine::mastering::{
    default_preset, find_preset, master_file, MasterError, MasterJob, MasterReport,
    MasteringRequest, MatchDimensions, StageSwitches, PRESETS,
};
use mixdown_io::{decode_file, encode_file, EncodeOptions, OutputFormat, Overwrite};
use std::path::{Path, PathBuf};

fn corpus(relative: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(relative);
    assert!(
        path.exists(),
        "the test corpus is expected at {}",
        path.display()
    );
    path
}

fn request(preset: &str) -> MasteringRequest {
    let p = find_preset(preset).unwrap();
    MasteringRequest {
        preset: p.name.into(),
        target_lufs: p.target_lufs,
        ceiling_dbtp: p.ceiling_dbtp,
        max_loudness_range_lu: p.max_loudness_range_lu,
        amount: 1.0,
        match_dimensions: MatchDimensions::ALL,
        stages: StageSwitches::ALL,
        max_eq_gain_db: None,
        saturation_drive_db: None,
    }
}

fn job(input: &Path, output: &Path, request: MasteringRequest) -> MasterJob {
    MasterJob {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        references: Vec::new(),
        request,
        output_format: OutputFormat::Int24,
        output_rate_hz: None,
        overwrite: Overwrite::Refuse,
        block_frames: 4_096,
        noise_shaped_dither: false,
    }
}

fn run(job: &MasterJob) -> Result<MasterReport, MasterError> {
    master_file(job, &mut |_| {})
}

/// The analysis of a written file, its integrated loudness and true peak read by the
/// `ebur128` crate.
fn measure(path: &Path) -> Metrics {
    let audio = decode_file(path).unwrap().audio;
    let mut metrics = analyze(&audio).unwrap();
    let channels = audio.channel_count() as u32;
    let mut meter = ebur128::EbuR128::new(
        channels,
        audio.sample_rate_hz,
        ebur128::Mode::I | ebur128::Mode::TRUE_PEAK,
    )
    .unwrap();
    meter
        .add_frames_planar_f32(&audio.channel_slices())
        .unwrap();
    metrics.integrated_lufs = Some(meter.loudness_global().unwrap());
    let peak = (0..channels)
        .map(|c| meter.true_peak(c).unwrap())
        .fold(0.0, f64::max);
    metrics.true_peak_dbtp = Some(20.0 * peak.log10());
    metrics
}

/// Every preset on one corpus mix: the written file is on target within ±0.1 LU and
/// at or under its ceiling.
fn every_preset_on(mix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(mix);
    for preset in PRESETS {
        let output = dir.path().join(format!("{}.flac", preset.name));
        let report = run(&job(&input, &output, request(preset.name))).unwrap();
        let written = measure(&output);
        let lufs = written.integrated_lufs.unwrap();
        let peak = written.true_peak_dbtp.unwrap();
        assert!(
            (lufs - preset.target_lufs).abs() <= 0.1,
            "{mix} {}: {lufs:.3} LUFS vs {}",
            preset.name,
            preset.target_lufs
        );
        assert!(
            peak <= preset.ceiling_dbtp,
            "{mix} {}: true peak {peak:.3} over {}",
            preset.name,
            preset.ceiling_dbtp
        );
        assert_eq!(
            report
                .output
                .integrated_lufs
                .map(|l| (l - lufs).abs() < 0.01),
            Some(true)
        );
    }
}

#[test]
fn presets_hit_target_and_ceiling_on_settel() {
    every_preset_on("mixes/lmms-settel-inner-recreation.flac");
}

#[test]
fn presets_hit_target_and_ceiling_on_momo64() {
    every_preset_on("mixes/lmms-momo64-esp.flac");
}

#[test]
fn presets_hit_target_and_ceiling_on_aberrations() {
    every_preset_on("mixes/singularity-aberrations.flac");
}

#[test]
fn with_every_stage_off_the_output_is_the_input_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus("mixes/singularity-aberrations.flac");
    let output = dir.path().join("null.wav");
    let mut null = request("spotify");
    null.stages = StageSwitches {
        highpass: false,
        eq: false,
        dynamics: false,
        stereo: false,
        loudness: false,
        limiter: false,
    };
    let mut job = job(&input, &output, null);
    job.output_format = OutputFormat::Float32;
    run(&job).unwrap();
    assert_eq!(
        decode_file(&output).unwrap().audio,
        decode_file(&input).unwrap().audio
    );
}

#[test]
fn output_does_not_depend_on_block_size_or_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus("mixes/lmms-momo64-esp.flac");
    let mut outputs = Vec::new();
    for (block_frames, threads) in [(4_096, 2), (1_000, 1), (65_536, 2)] {
        let output = dir.path().join(format!("b{block_frames}-t{threads}.wav"));
        let mut job = job(&input, &output, request("spotify"));
        job.block_frames = block_frames;
        job.references = vec![corpus("refs/hyperrogue-hell.flac")];
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| run(&job)).unwrap();
        outputs.push(std::fs::read(&output).unwrap());
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]), "outputs differ");
}

#[test]
fn reference_matching_halves_the_spectral_distance() {
    let dir = tempfile::tempdir().unwrap();
    let centres: Vec<f64> = third_octave_centers_hz().collect();
    let relative = |m: &Metrics| relative_levels_db(&m.spectrum, m.integrated_lufs.unwrap());
    // The other corpus reference is an MP3 decode with nothing above 16 kHz: its top
    // band sits 40 dB under its neighbour, which no mastering EQ should (or can,
    // within its limits) copy; the planner leaves such band-limited tops alone.
    for (mix, reference) in [
        (
            "mixes/lmms-settel-inner-recreation.flac",
            "refs/hyperrogue-hell.flac",
        ),
        ("mixes/lmms-momo64-esp.flac", "refs/hyperrogue-hell.flac"),
        (
            "mixes/singularity-aberrations.flac",
            "refs/hyperrogue-hell.flac",
        ),
    ] {
        let input = corpus(mix);
        let output = dir.path().join("matched.wav");
        let _ = std::fs::remove_file(&output);
        let mut job = job(&input, &output, request("spotify"));
        job.references = vec![corpus(reference)];
        run(&job).unwrap();
        let target = relative(&measure(&corpus(reference)));
        let before = tonal_distance_db(&centres, &relative(&measure(&input)), &target).unwrap();
        let after = tonal_distance_db(&centres, &relative(&measure(&output)), &target).unwrap();
        println!("{mix} → {reference}: distance {before:.2} dB → {after:.2} dB");
        assert!(
            after <= before / 2.0,
            "{mix} → {reference}: distance {before:.2} dB → {after:.2} dB"
        );
    }
}

#[test]
fn a_louder_input_is_turned_down_not_limited() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus("refs/hyperrogue-hell.flac"); // about -10 LUFS, peaks over 0 dBTP
    let output = dir.path().join("quieter.wav");
    let mut quiet = request("apple"); // -16 LUFS: 6 dB down
    quiet.amount = 0.0;
    let report = run(&job(&input, &output, quiet)).unwrap();
    assert!(
        report.limiter.max_gain_reduction_db < 0.5,
        "{:?}",
        report.limiter
    );
    let written = measure(&output);
    assert!((written.integrated_lufs.unwrap() + 16.0).abs() <= 0.1);
    assert!(written.true_peak_dbtp.unwrap() <= -1.0);
    // Amount 0 is a level-matched bypass: only the gain and the safety limiter run.
    let kinds: Vec<String> = report.chain.iter().map(|p| format!("{p:?}")).collect();
    assert!(
        kinds
            .iter()
            .all(|k| k.starts_with("Gain") || k.starts_with("Limiter")),
        "{kinds:?}"
    );
}

fn write_test_file(path: &Path, audio: &AudioBuffer) {
    encode_file(path, audio, &EncodeOptions::new(OutputFormat::Float32)).unwrap();
}

fn noise_song(rate: u32, channels: usize, seconds: f64, level: f32) -> AudioBuffer {
    let mut noise = mixdown_dsp::dither::NoiseSource::new(9);
    let frames = (f64::from(rate) * seconds) as usize;
    AudioBuffer::from_channels(
        rate,
        (0..channels)
            .map(|_| {
                (0..frames)
                    .map(|n| {
                        level * (noise.next_uniform() as f32) * (1.0 + (n as f32 * 3e-4).sin())
                    })
                    .collect()
            })
            .collect(),
    )
}

#[test]
fn rate_and_layout_are_kept_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mono = dir.path().join("mono48k.wav");
    write_test_file(&mono, &noise_song(48_000, 1, 8.0, 0.2));
    let out = dir.path().join("mono-master.wav");
    run(&job(&mono, &out, request("spotify"))).unwrap();
    let written = decode_file(&out).unwrap().audio;
    assert_eq!(
        (written.sample_rate_hz, written.channel_count()),
        (48_000, 1)
    );
    let m = measure(&out);
    assert!((m.integrated_lufs.unwrap() + 14.0).abs() <= 0.1 && m.true_peak_dbtp.unwrap() <= -1.0);

    let resampled = dir.path().join("mono-44k1.wav");
    let mut to_44k1 = job(&mono, &resampled, request("spotify"));
    to_44k1.output_rate_hz = Some(44_100);
    run(&to_44k1).unwrap();
    assert_eq!(
        decode_file(&resampled).unwrap().audio.sample_rate_hz,
        44_100
    );
}

#[test]
fn bad_requests_fail_cleanly_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let silence = dir.path().join("silence.wav");
    write_test_file(&silence, &AudioBuffer::silent(44_100, 2, 44_100 * 6));
    let short = dir.path().join("short.wav");
    write_test_file(&short, &noise_song(44_100, 2, 2.0, 0.3));
    let mix = corpus("mixes/lmms-momo64-esp.flac");
    let out = dir.path().join("out.wav");

    assert!(matches!(
        run(&job(&silence, &out, request("spotify"))),
        Err(MasterError::Silent(_))
    ));
    let mut with_short_reference = job(&mix, &out, request("spotify"));
    with_short_reference.references = vec![short.clone()];
    let error = run(&with_short_reference).unwrap_err();
    assert!(error.to_string().contains("at least 5 s"), "{error}");
    let mut with_silent_reference = job(&mix, &out, request("spotify"));
    with_silent_reference.references = vec![silence.clone()];
    assert!(matches!(
        run(&with_silent_reference),
        Err(MasterError::BadReference(..))
    ));
    assert!(!out.exists(), "a failed run must leave no output");

    std::fs::write(&out, b"keep").unwrap();
    assert!(matches!(
        run(&job(&mix, &out, request("spotify"))),
        Err(MasterError::Io(_))
    ));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep");
    let onto_input = job(&short, &short, request("spotify"));
    assert!(matches!(
        run(&onto_input),
        Err(MasterError::OutputIsInput(_))
    ));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    assert_eq!(default_preset().name, "spotify");
}

mod full_band {
    use super::*;
    use proptest::prelude::*;

    /// Full-band test signals: white noise, a square wave, a near-Nyquist tone and
    /// clicks, mixed at random levels. The limiter alone cannot bound the
    /// inter-sample peaks of content right at Nyquist (that needs samples from far
    /// away); the engine's check of the written file must.
    fn signal(
        seed: u64,
        rate: u32,
        noise: f32,
        square: f32,
        tone: f32,
        clicks: f32,
    ) -> AudioBuffer {
        let mut rng = mixdown_dsp::dither::NoiseSource::new(seed);
        let frames = rate as usize * 6;
        let channel = |phase: f64, rng: &mut mixdown_dsp::dither::NoiseSource| -> Vec<f32> {
            (0..frames)
                .map(|n| {
                    let t = n as f64 / f64::from(rate);
                    let sq = if (n / 7) % 2 == 0 { 1.0 } else { -1.0 };
                    let hf =
                        (std::f64::consts::TAU * 0.49 * f64::from(rate) * t + phase).sin() as f32;
                    let click = if n % 9_973 == 0 { 1.0 } else { 0.0 };
                    noise * rng.next_uniform() as f32 * 2.0
                        + square * sq
                        + tone * hf
                        + clicks * click
                })
                .collect()
        };
        let left = channel(0.0, &mut rng);
        let right = channel(1.3, &mut rng);
        AudioBuffer::from_channels(rate, vec![left, right])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]
        #[test]
        fn written_true_peak_never_exceeds_the_ceiling(
            seed in 0u64..1_000,
            rate in prop::sample::select(vec![44_100u32, 48_000]),
            noise in 0.0f32..0.5,
            square in 0.0f32..0.3,
            tone in 0.0f32..0.3,
            clicks in 0.0f32..1.0,
            ceiling in -3.0f64..-0.1,
            target in -16.0f64..-8.0,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let input = dir.path().join("in.wav");
            write_test_file(&input, &signal(seed, rate, noise.max(0.01), square, tone, clicks));
            let output = dir.path().join("out.wav");
            let mut request = request("spotify");
            request.target_lufs = target;
            request.ceiling_dbtp = ceiling;
            let report = run(&job(&input, &output, request)).unwrap();
            let written = measure(&output);
            let peak = written.true_peak_dbtp.unwrap();
            prop_assert!(peak <= ceiling, "true peak {} over ceiling {}; {:?}", peak, ceiling, report.decisions);
            prop_assert!(written.channels == 2 && written.sample_rate_hz == rate);
        }
    }
}

#[test]
fn saturation_is_off_unless_asked_and_keeps_the_promises_when_on() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus("mixes/lmms-settel-inner-recreation.flac");
    let plain = run(&job(
        &input,
        &dir.path().join("plain.wav"),
        request("spotify"),
    ))
    .unwrap();
    assert!(!plain
        .chain
        .iter()
        .any(|p| matches!(p, mixdown_session::ProcessorSpec::Saturation { .. })));
    let mut warm = request("spotify");
    warm.saturation_drive_db = Some(9.0);
    let output = dir.path().join("warm.wav");
    let report = run(&job(&input, &output, warm)).unwrap();
    assert!(report
        .chain
        .iter()
        .any(|p| matches!(p, mixdown_session::ProcessorSpec::Saturation { drive_db, .. } if *drive_db == 9.0)));
    let written = measure(&output);
    assert!((written.integrated_lufs.unwrap() + 14.0).abs() <= 0.1);
    assert!(written.true_peak_dbtp.unwrap() <= -1.0);
}
