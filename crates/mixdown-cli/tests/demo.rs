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
fn demo_writes_stems_their_sum_and_analysis_deterministically() {
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

    // mix.wav is the plain sum: the decoded stems add up to it within the 24-bit
    // dither of each file (7 files × ±1.5 LSB at most).
    let mut sum = vec![vec![0.0f64; mix.frame_count()]; 2];
    for stem in STEMS {
        let audio = decode_file(&first.join("stems").join(format!("{stem}.wav")))
            .unwrap()
            .audio;
        assert_eq!(audio.frame_count(), mix.frame_count(), "{stem}");
        assert!(
            audio.channels[0].iter().any(|&x| x != 0.0),
            "{stem} is silent"
        );
        for (acc, channel) in sum.iter_mut().zip(&audio.channels) {
            for (a, &x) in acc.iter_mut().zip(channel) {
                *a += f64::from(x);
            }
        }
    }
    let lsb = 1.0 / 8_388_608.0;
    let worst = sum
        .iter()
        .zip(&mix.channels)
        .flat_map(|(s, m)| s.iter().zip(m).map(|(a, &b)| (a - f64::from(b)).abs()))
        .fold(0.0, f64::max);
    assert!(
        worst <= 7.0 * 1.5 * lsb,
        "mix differs from the stem sum by {worst}"
    );

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
    for file in ["mix.wav", "stems/kick.wav", "stems/lead.wav", "master.wav"] {
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
