//! `mixdown master` end to end: the report, the summary, and bad input.

mod common;

use common::{corpus, fixture, mixdown};
use serde_json::Value;
use std::process::Output;

fn one_line_failure(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn master_writes_the_file_the_report_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("master.flac");
    let report = dir.path().join("report.json");
    let (out_s, report_s) = (out.to_string_lossy(), report.to_string_lossy());
    let output = mixdown(&[
        "master",
        &corpus("mixes/singularity-aberrations.flac"),
        "-o",
        &out_s,
        "--preset",
        "apple",
        "--bits",
        "16",
        "--report",
        &report_s,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.contains("loudness") && summary.contains("-16.0 LUFS"),
        "{summary}"
    );

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for key in [
        "input",
        "output",
        "chain",
        "eq_curve",
        "limiter",
        "decisions",
        "warnings",
    ] {
        assert!(!report[key].is_null(), "report lacks {key}");
    }
    assert_eq!(report["preset"], "apple");
    assert_eq!(report["output"]["sample_rate"], 44_100);
    let lufs = report["output"]["integrated_lufs"].as_f64().unwrap();
    assert!((lufs + 16.0).abs() <= 0.1, "{lufs}");
    let types: Vec<&str> = report["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"highpass"));
    assert!(types.ends_with(&["gain", "limiter"]), "{types:?}");
    assert!(report["limiter"]["max_gain_reduction_db"].is_f64());
    // The output is what the report says: re-measured from the file.
    let analyzed = mixdown(&["analyze", "--json", &out_s]);
    let measured: Value = serde_json::from_slice(&analyzed.stdout).unwrap();
    assert!((measured["integrated_lufs"].as_f64().unwrap() - lufs).abs() < 0.01);
    assert!(measured["true_peak_dbtp"].as_f64().unwrap() <= -1.0);

    // Existing outputs are kept without --force, and replaced with it.
    let before = std::fs::read(&out).unwrap();
    let again = mixdown(&[
        "master",
        &corpus("mixes/singularity-aberrations.flac"),
        "-o",
        &out_s,
    ]);
    assert!(one_line_failure(&again).contains("--force"));
    assert_eq!(std::fs::read(&out).unwrap(), before);
    let forced = mixdown(&[
        "master",
        &corpus("mixes/singularity-aberrations.flac"),
        "-o",
        &out_s,
        "--force",
    ]);
    assert!(forced.status.success());
}

#[test]
fn bad_requests_end_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.wav").to_string_lossy().into_owned();
    let mix = corpus("mixes/lmms-momo64-esp.flac");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--preset".into(), "loud".into()], "unknown preset"),
        (vec!["--amount".into(), "2".into()], "--amount"),
        (vec!["--bits".into(), "12".into()], "--bits"),
        (vec!["--target-lufs".into(), "5".into()], "--target-lufs"),
        (vec!["--match".into(), "tone".into()], "--reference"),
        (
            vec!["--reference".into(), fixture("broken/stereo-96k-24bit.wav")],
            "at least 5 s",
        ),
        (
            vec!["--reference".into(), fixture("broken/silence-5s.wav")],
            "silent",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["master".to_string(), mix.clone(), "-o".into(), out.clone()];
        args.extend(extra.clone());
        let output = mixdown(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let line = one_line_failure(&output);
        assert!(line.contains(expected), "{extra:?}: {line}");
    }
    for broken in [
        "broken/truncated.flac",
        "broken/not-audio.wav",
        "broken/empty.wav",
        "broken/silence-5s.wav",
    ] {
        let output = mixdown(&["master", &fixture(broken), "-o", &out]);
        let line = one_line_failure(&output);
        assert!(
            line.contains(broken.trim_start_matches("broken/")),
            "{line}"
        );
    }
    let onto_itself = mixdown(&["master", &mix, "-o", &mix]);
    assert!(one_line_failure(&onto_itself).contains("must not"));
    assert!(
        !std::path::Path::new(&out).exists(),
        "failed runs leave no output"
    );
}

#[test]
fn low_rate_and_mono_inputs_master_cleanly() {
    // 8 kHz mono: every stage must fit under a 4 kHz Nyquist frequency.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("low.wav");
    let out_s = out.to_string_lossy();
    let output = mixdown(&[
        "master",
        &fixture("broken/mono-8k.wav"),
        "-o",
        &out_s,
        "--preset",
        "broadcast",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let analyzed = mixdown(&["analyze", "--json", &out_s]);
    let measured: Value = serde_json::from_slice(&analyzed.stdout).unwrap();
    assert_eq!(measured["sample_rate"], 8_000);
    assert_eq!(measured["channels"], 1);
    assert!((measured["integrated_lufs"].as_f64().unwrap() + 23.0).abs() <= 0.1);
    assert!(measured["true_peak_dbtp"].as_f64().unwrap() <= -1.0);
}

#[test]
fn noise_shaped_dither_is_asked_for_reported_and_keeps_the_promises() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("master.wav");
    let report = dir.path().join("report.json");
    let (out_s, report_s) = (out.to_string_lossy(), report.to_string_lossy());
    let output = mixdown(&[
        "master",
        &corpus("mixes/singularity-aberrations.flac"),
        "-o",
        &out_s,
        "--bits",
        "16",
        "--dither",
        "shaped",
        "--report",
        &report_s,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(
        report["dither"]
            .as_str()
            .unwrap()
            .starts_with("noise-shaped TPDF to 16 bits"),
        "{}",
        report["dither"]
    );
    let measured = &report["output"];
    assert!((measured["integrated_lufs"].as_f64().unwrap() + 14.0).abs() <= 0.1);
    assert!(measured["true_peak_dbtp"].as_f64().unwrap() <= -1.0);

    let stderr = one_line_failure(&mixdown(&[
        "master",
        &corpus("mixes/singularity-aberrations.flac"),
        "-o",
        &dir.path().join("other.wav").to_string_lossy(),
        "--dither",
        "fancy",
    ]));
    assert!(stderr.contains("--dither fancy"), "{stderr}");
}
