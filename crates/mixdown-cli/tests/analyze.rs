//! `mixdown analyze` end to end: the corpus loudness table, the JSON contract, and
//! every kind of bad input ending in one line and exit code 1.

mod common;

use common::{corpus_root as corpus, fixture, mixdown};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is one JSON object"))
        .collect()
}

const KEYS: [&str; 15] = [
    "file",
    "sample_rate",
    "channels",
    "duration_s",
    "integrated_lufs",
    "loudness_range_lu",
    "true_peak_dbtp",
    "sample_peak_dbfs",
    "max_momentary_lufs",
    "max_short_term_lufs",
    "plr_db",
    "crest_db",
    "stereo_correlation",
    "dc_offset_dbfs",
    "clipped_samples",
];

/// (file, integrated LUFS, sample peak dBFS, true peak dBTP) of every corpus file,
/// from the corpus's machine-readable measurement table.
fn corpus_table(root: &Path) -> Vec<(PathBuf, f64, f64, f64)> {
    let table: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("measurements.json")).unwrap())
            .unwrap();
    let row = |path: PathBuf, m: &Value| {
        (
            path,
            m["lufs"].as_f64().unwrap(),
            m["peak_dbfs"].as_f64().unwrap(),
            m["true_peak_dbtp"].as_f64().unwrap(),
        )
    };
    let mut rows = Vec::new();
    for (song, entry) in table["multitrack"].as_object().unwrap() {
        let folder = root.join("multitrack").join(song);
        rows.push(row(
            folder.join("reference-mix.flac"),
            &entry["reference_mix"],
        ));
        for stem in entry["stems"].as_array().unwrap() {
            let name = stem["name"].as_str().unwrap();
            rows.push(row(folder.join(format!("{name}.flac")), &stem["measure"]));
        }
    }
    for group in ["mixes", "refs"] {
        for (name, entry) in table[group].as_object().unwrap() {
            rows.push(row(
                root.join(group).join(format!("{name}.flac")),
                &entry["measure"],
            ));
        }
    }
    rows
}

#[test]
fn corpus_measurements_match_the_published_table() {
    let root = corpus();
    let rows = corpus_table(&root);
    assert!(rows.len() >= 20, "corpus table unexpectedly small");
    let mut args = vec!["analyze".to_string(), "--json".to_string()];
    args.extend(rows.iter().map(|r| r.0.to_string_lossy().into_owned()));
    let output = mixdown(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = json_lines(&output);
    assert_eq!(records.len(), rows.len());
    for ((path, lufs, peak, true_peak), record) in rows.iter().zip(&records) {
        assert_eq!(record["file"].as_str().unwrap(), path.to_string_lossy());
        let measured = record["integrated_lufs"].as_f64().unwrap();
        assert!(
            (measured - lufs).abs() <= 0.1,
            "{}: {measured} LUFS vs {lufs}",
            path.display()
        );
        let measured_peak = record["sample_peak_dbfs"].as_f64().unwrap();
        assert!(
            (measured_peak - peak).abs() <= 0.01,
            "{}: peak {measured_peak} vs {peak}",
            path.display()
        );
        let measured_tp = record["true_peak_dbtp"].as_f64().unwrap();
        assert!(
            (measured_tp - true_peak).abs() <= 0.3,
            "{}: {measured_tp} dBTP vs {true_peak}",
            path.display()
        );
        assert!(
            measured_tp >= measured_peak - 1e-9,
            "true peak below sample peak"
        );
    }
}

#[test]
fn json_lines_carry_exactly_the_contract_keys() {
    let output = mixdown(&[
        "analyze",
        "--json",
        &fixture("broken/mono-8k.wav"),
        &fixture("broken/silence-5s.wav"),
    ]);
    assert!(output.status.success());
    let records = json_lines(&output);
    assert_eq!(records.len(), 2);
    for record in &records {
        let keys: Vec<&str> = record
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = KEYS.to_vec();
        expected.sort_unstable();
        let mut actual = keys.clone();
        actual.sort_unstable();
        assert_eq!(actual, expected);
    }
    let mono = &records[0];
    assert_eq!(mono["sample_rate"], 8_000);
    assert_eq!(mono["channels"], 1);
    assert!(
        mono["stereo_correlation"].is_null(),
        "mono has no stereo correlation"
    );
    assert!(mono["integrated_lufs"].as_f64().unwrap() < -5.0);

    // Digital silence: loudness and peaks are undefined (null), never -inf or NaN.
    let silence = &records[1];
    // Everything but the file's identity and the clip count.
    let measured = KEYS.iter().filter(|k| {
        ![
            "file",
            "sample_rate",
            "channels",
            "duration_s",
            "clipped_samples",
        ]
        .contains(k)
    });
    for key in measured {
        assert!(silence[key].is_null(), "silence: {key} = {}", silence[key]);
    }
    assert_eq!(silence["duration_s"], 5.0);
    assert_eq!(silence["clipped_samples"], 0);
}

#[test]
fn clipped_samples_are_counted() {
    let output = mixdown(&["analyze", "--json", &fixture("broken/clipped.wav")]);
    let record = &json_lines(&output)[0];
    // The file is 3 s of stereo at 44.1 kHz with 48.7 % of its samples at full scale.
    let clipped = record["clipped_samples"].as_u64().unwrap() as f64;
    let share = clipped / (3.0 * 44_100.0 * 2.0);
    assert!((share - 0.487).abs() < 0.005, "clipped share {share}");
}

#[test]
fn each_bad_file_gets_one_line_and_the_good_ones_are_still_reported() {
    let bad = [
        "broken/empty.wav",
        "broken/not-audio.wav",
        "broken/truncated.flac",
        "broken/header-overstates-length.wav",
        "broken/nan-inf-float32.wav",
        "broken/no-such-file.wav",
    ];
    let mut args = vec![
        "analyze".to_string(),
        "--json".to_string(),
        fixture("broken/stereo-96k-24bit.wav"),
    ];
    args.extend(bad.iter().map(|f| fixture(f)));
    args.push(fixture("formats/excerpt.ogg"));
    let output = mixdown(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), bad.len(), "one line per bad file:\n{stderr}");
    for (line, file) in lines.iter().zip(bad) {
        let name = file.trim_start_matches("broken/");
        assert!(
            line.starts_with("mixdown: ") && line.contains(name),
            "{line}"
        );
        assert!(
            !line.contains("panicked") && !line.contains("backtrace"),
            "{line}"
        );
    }
    let records = json_lines(&output);
    assert_eq!(records.len(), 2, "the two good files are still analyzed");
    assert_eq!(records[0]["sample_rate"], 96_000);
    assert_eq!(records[1]["sample_rate"], 44_100);
}

#[test]
fn usage_errors_are_one_line_with_exit_code_1() {
    for args in [
        &["analyze"][..],
        &["frobnicate"],
        &["analyze", "--bogus", "x.wav"],
    ] {
        let output = mixdown(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
    let help = mixdown(&["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("analyze"));
}

#[test]
fn the_table_shows_every_measure() {
    let output = mixdown(&["analyze", &fixture("formats/excerpt.aiff")]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for label in [
        "Integrated loudness",
        "Loudness range",
        "True peak",
        "PLR",
        "Stereo correlation",
        "Clipped samples",
        "Spectrum",
    ] {
        assert!(text.contains(label), "missing {label}:\n{text}");
    }
}
