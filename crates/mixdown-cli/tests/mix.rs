//! `mixdown mix` end to end: render, stems, check, and how bad sessions end.

mod common;

use common::{corpus, mixdown};
use std::path::Path;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn session_over_corpus_song(dir: &Path, extra: &str) -> String {
    let song = corpus("multitrack/sectoid-war-of-freedom");
    let text = format!(
        r#"version = 1
[[track]]
name = "backing"
file = "{song}/backing.flac"
gain_db = -3.0
sends = [ {{ bus = "verb", level_db = -15.0 }} ]
[[track]]
name = "guitar"
file = "{song}/guitar.flac"
pan = -0.3
chain = [ {{ type = "highpass", freq = 90.0, slope_db_per_oct = 12 }} ]
{extra}
[[bus]]
name = "verb"
chain = [ {{ type = "reverb", decay_s = 1.2 }} ]
"#
    );
    let path = dir.join("song.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn mix_renders_the_session_its_stems_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let session = session_over_corpus_song(dir.path(), "");
    let out = dir.path().join("mix.flac");
    let stems = dir.path().join("stems");
    let report = dir.path().join("report.json");
    let run = mixdown(&[
        "mix",
        &session,
        "-o",
        out.to_str().unwrap(),
        "--stems-out",
        stems.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("2 tracks"), "{stdout}");
    let analysis = mixdown(&["analyze", "--json", out.to_str().unwrap()]);
    let line: serde_json::Value = serde_json::from_slice(&analysis.stdout).unwrap();
    assert_eq!(line["channels"], 2);
    assert!(line["integrated_lufs"].as_f64().unwrap() > -40.0);
    for stem in ["01-backing.wav", "02-guitar.wav", "bus-verb.wav"] {
        assert!(stems.join(stem).exists(), "{stem}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["tracks"].as_array().unwrap().len(), 2);
    assert_eq!(report["sample_rate_hz"], 44_100);
    // The loudness of the mix and of each contribution, as `analyze` measures the mix.
    let loudness = &report["loudness"];
    let mix_lufs = loudness["mix_lufs"].as_f64().unwrap();
    assert!((mix_lufs - line["integrated_lufs"].as_f64().unwrap()).abs() < 0.05);
    assert_eq!(loudness["tracks_lufs"].as_array().unwrap().len(), 2);
    assert!(loudness["tracks_lufs"][0].as_f64().unwrap() < mix_lufs);

    // An existing output is kept without --force.
    let again = mixdown(&["mix", &session, "-o", out.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn mix_with_a_master_preset_hits_the_preset_loudness() {
    let dir = tempfile::tempdir().unwrap();
    let session = session_over_corpus_song(dir.path(), "");
    let out = dir.path().join("master.wav");
    let run = mixdown(&[
        "mix",
        &session,
        "-o",
        out.to_str().unwrap(),
        "--master-preset",
        "apple",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let analysis = mixdown(&["analyze", "--json", out.to_str().unwrap()]);
    let line: serde_json::Value = serde_json::from_slice(&analysis.stdout).unwrap();
    let lufs = line["integrated_lufs"].as_f64().unwrap();
    assert!((lufs + 16.0).abs() <= 0.1, "{lufs} LUFS");
    assert!(line["true_peak_dbtp"].as_f64().unwrap() <= -1.0);
    // Only the master is left beside the session: the float mix was temporary.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn check_lists_every_problem_on_its_own_line_and_renders_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let session = session_over_corpus_song(
        dir.path(),
        r#"[[track]]
name = "ghost"
file = "missing.flac"
output = "drums"
chain = [ { type = "eq", bands = [ { kind = "bell", freq = 30000.0, gain_db = 2.0, q = 1.0 } ] } ]"#,
    );
    let out = dir.path().join("mix.wav");
    for args in [
        vec!["mix", session.as_str(), "--check"],
        vec!["mix", session.as_str(), "-o", out.to_str().unwrap()],
    ] {
        let run = mixdown(&args);
        assert_eq!(run.status.code(), Some(1), "{args:?}");
        let err = stderr(&run);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 4, "{err}");
        assert!(lines[0].contains("song.toml:14: track[2].file:"), "{err}");
        assert!(
            lines[1].contains("song.toml:15: track[2].output: no bus named \"drums\""),
            "{err}"
        );
        assert!(
            lines[2].contains("song.toml:16: track[2].chain[0].bands[0].freq: 30000 Hz is above Nyquist (22050 Hz)"),
            "{err}"
        );
        assert_eq!(
            lines[3],
            "mixdown: 3 problems in the session; nothing was rendered"
        );
        assert!(!err.contains("panicked"));
        assert!(!out.exists());
    }
    let fine = session_over_corpus_song(dir.path(), "");
    let run = mixdown(&["mix", &fine, "--check"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("ok"));
}

#[test]
fn malformed_sessions_and_usage_errors_end_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "version = 1\n[[track]\n").unwrap();
    let run = mixdown(&["mix", path.to_str().unwrap(), "--check"]);
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert!(
        err.lines()
            .next()
            .unwrap()
            .contains("bad.toml:2: not valid TOML"),
        "{err}"
    );

    let run = mixdown(&["mix", path.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(stderr(&run).lines().count(), 1, "{}", stderr(&run));

    let run = mixdown(&["mix", "no-such-session.toml", "--check"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("cannot read the session"),
        "{}",
        stderr(&run)
    );
}
