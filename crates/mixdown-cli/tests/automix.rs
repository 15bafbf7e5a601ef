//! `mixdown automix` end to end.

mod common;

use common::{corpus, mixdown};

#[test]
fn automix_writes_the_mix_session_and_report_and_mix_renders_the_session_identically() {
    let dir = tempfile::tempdir().unwrap();
    let song = corpus("multitrack/simutrans-midnight-express");
    let stems: Vec<String> = std::fs::read_dir(&song)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "flac"))
        .filter(|p| !p.ends_with("reference-mix.flac"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let out = dir.path().join("automix.wav");
    let session = dir.path().join("automix.toml");
    let report = dir.path().join("automix.json");
    let mut args = vec!["automix"];
    args.extend(stems.iter().map(String::as_str));
    args.extend([
        "-o",
        out.to_str().unwrap(),
        "--session",
        session.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let run = mixdown(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    let bass_row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("acoustic-bass"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(bass_row.contains(" bass "), "{bass_row}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["stems"].as_array().unwrap().len(), stems.len());
    assert!(json["stems"][0]["reasons"].as_array().unwrap().len() >= 3);

    let again = dir.path().join("again.wav");
    let run = mixdown(&[
        "mix",
        session.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(std::fs::read(&again).unwrap() == std::fs::read(&out).unwrap());

    // Outputs are kept without --force.
    let run = mixdown(&args);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("already exists"));
}

#[test]
fn automix_of_nothing_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mix.wav");
    let run = mixdown(&[
        "automix",
        dir.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no audio stems"), "{stderr}");
    let run = mixdown(&[
        "automix",
        dir.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--master-preset",
        "loudest",
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("unknown preset"));
}
