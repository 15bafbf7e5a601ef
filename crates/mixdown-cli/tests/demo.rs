//! `mixdown demo` end to end: what it writes, that it is deterministic, and that it
//! never replaces existing files without `--force`.

use mixdown_io::decode_file;
use std::path::Path;
use std::process::{Command, Output};

fn demo(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mixdown"))
        .arg("demo")
        .arg("-o")
        .arg(dir)
        .args(extra)
        .output()
        .expect("the mixdown binary runs")
}

const STEMS: [&str; 6] = ["kick", "snare", "hats", "bass", "pad", "lead"];

#[test]
fn demo_writes_stems_their_automix_session_analysis_and_master_deterministically() {
    let root = tempfile::tempdir().unwrap();
    let first = root.path().join("first");
    let output = demo(&first, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Integrated loudness"), "{stdout}");

    let mix = decode_file(&first.join("mix.wav")).unwrap().audio;
    assert_eq!(mix.sample_rate_hz, 48_000);
    assert_eq!(mix.channel_count(), 2);
    assert!(mix.duration_s() >= 30.0);

    // mix.wav is the automix of the stems; its session renders to the same bytes.
    for stem in STEMS {
        let audio = decode_file(&first.join("stems").join(format!("{stem}.wav")))
            .unwrap()
            .audio;
        assert!(
            audio.channels[0].iter().any(|&x| x != 0.0),
            "{stem} is silent"
        );
    }
    let rendered = first.join("rendered.wav");
    let run = Command::new(env!("CARGO_BIN_EXE_mixdown"))
        .args(["mix", first.join("mix.toml").to_str().unwrap(), "-o"])
        .arg(&rendered)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        std::fs::read(&rendered).unwrap() == std::fs::read(first.join("mix.wav")).unwrap(),
        "mix.toml must render to mix.wav"
    );
    std::fs::remove_file(&rendered).unwrap();
    let automix: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(first.join("automix-report.json")).unwrap())
            .unwrap();
    let decided = automix["stems"].as_array().unwrap();
    assert_eq!(decided.len(), STEMS.len());
    // The lead sits on top of the balance.
    let after = |name: &str| {
        decided.iter().find(|s| s["name"] == name).unwrap()["relative_lu_after"]
            .as_f64()
            .unwrap()
    };
    for stem in STEMS.iter().filter(|&&s| s != "lead") {
        assert!(after("lead") > after(stem), "lead vs {stem}");
    }
    assert!(stdout.contains("the automix"), "{stdout}");

    let analysis = std::fs::read_to_string(first.join("analysis.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = analysis
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), STEMS.len() + 1);
    assert!(records.last().unwrap()["file"]
        .as_str()
        .unwrap()
        .ends_with("mix.wav"));
    assert!(records.iter().all(|r| r["integrated_lufs"].is_f64()));

    // The mix is mastered with the default preset (spotify: -14 LUFS, -1 dBTP).
    let master =
        mixdown_analysis::analyze(&decode_file(&first.join("master.wav")).unwrap().audio).unwrap();
    assert!((master.integrated_lufs.unwrap() + 14.0).abs() <= 0.1);
    assert!(master.true_peak_dbtp.unwrap() <= -1.0);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(first.join("master-report.json")).unwrap())
            .unwrap();
    assert_eq!(report["preset"], "spotify");
    assert!(stdout.contains("→"), "{stdout}");

    // Same program, same bytes.
    let second = root.path().join("second");
    assert!(demo(&second, &[]).status.success());
    for file in [
        "mix.wav",
        "mix.toml",
        "stems/kick.wav",
        "stems/lead.wav",
        "master.wav",
    ] {
        assert_eq!(
            std::fs::read(first.join(file)).unwrap(),
            std::fs::read(second.join(file)).unwrap(),
            "{file} differs between runs"
        );
    }
}

#[test]
fn demo_keeps_existing_files_unless_forced() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mix.wav"), b"keep me").unwrap();

    let refused = demo(&dir, &[]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("mix.wav") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(dir.join("mix.wav")).unwrap(), b"keep me");
    assert!(
        !dir.join("stems").exists(),
        "a refused run must write nothing"
    );

    let forced = demo(&dir, &["--force"]);
    assert!(forced.status.success());
    assert_ne!(std::fs::read(dir.join("mix.wav")).unwrap(), b"keep me");
}
