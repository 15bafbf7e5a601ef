//! Sessions over the real multitracks of the shared corpus: a neutral session (unity
//! gains, centred, 0 dB pan law, no processing) reproduces each song's reference
//! mix, which the corpus defines as the plain sum of its stems; a processed session
//! renders to a finite, sensible mix.

use mixdown_engine::mix::{load_session, mix_session, MixJob};
use mixdown_io::{decode_file, OutputFormat, Overwrite};
use std::path::{Path, PathBuf};

fn multitracks() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/multitrack");
    let mut songs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("the test corpus is expected at {}: {e}", root.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("reference-mix.flac").exists())
        .collect();
    songs.sort();
    assert!(songs.len() >= 3, "{songs:?}");
    songs
}

fn stems_of(song: &Path) -> Vec<PathBuf> {
    let mut stems: Vec<PathBuf> = std::fs::read_dir(song)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "flac"))
        .filter(|p| !p.ends_with("reference-mix.flac"))
        .collect();
    stems.sort();
    stems
}

fn render(session_text: &str) -> Vec<Vec<f32>> {
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("song.toml");
    std::fs::write(&session, session_text).unwrap();
    let output = dir.path().join("mix.wav");
    let job = MixJob {
        format: OutputFormat::Float32,
        overwrite: Overwrite::Replace,
        ..MixJob::new(&output)
    };
    let loaded = load_session(&session).unwrap_or_else(|e| panic!("{e}"));
    mix_session(&loaded, &job, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
    decode_file(&output).unwrap().audio.channels
}

fn tracks(stems: &[PathBuf], extra: impl Fn(usize, &str) -> String) -> String {
    stems
        .iter()
        .enumerate()
        .map(|(i, stem)| {
            let name = stem.file_stem().unwrap().to_string_lossy().to_string();
            format!(
                "[[track]]\nname = {name:?}\nfile = {:?}\n{}\n",
                stem.display().to_string(),
                extra(i, &name)
            )
        })
        .collect()
}

#[test]
fn neutral_sessions_reproduce_the_reference_mixes() {
    for song in multitracks() {
        let stems = stems_of(&song);
        let text = format!(
            "version = 1\n[mix]\npan_law_db = 0.0\n{}",
            tracks(&stems, |_, _| String::new())
        );
        let mix = render(&text);
        let reference = decode_file(&song.join("reference-mix.flac")).unwrap().audio;
        assert_eq!(mix.len(), reference.channel_count(), "{}", song.display());
        let mut worst = 0.0f32;
        for (ours, theirs) in mix.iter().zip(&reference.channels) {
            assert_eq!(ours.len(), theirs.len(), "{}", song.display());
            for (a, b) in ours.iter().zip(theirs) {
                worst = worst.max((a - b).abs());
            }
        }
        // The stems sit on a 16-bit grid, so their sum is exact in f32.
        assert!(
            worst < 1.0 / 65_536.0,
            "{}: largest difference {worst}",
            song.display()
        );
    }
}

#[test]
fn a_processed_session_over_a_multitrack_renders_a_finite_mix_with_its_tail() {
    let song = multitracks()
        .into_iter()
        .find(|s| s.ends_with("thomasso-axe-from-the-80s"))
        .expect("thomasso multitrack");
    let stems = stems_of(&song);
    let body = tracks(&stems, |i, name| {
        let pan = [-0.4, 0.0, 0.3, -0.2, 0.5, 0.1, -0.5, 0.2, 0.0][i % 9];
        let mut extra = format!(
            "pan = {pan}\nchain = [ {{ type = \"highpass\", freq = 40.0, slope_db_per_oct = 12 }}, {{ type = \"compressor\", threshold_db = -24.0, ratio = 3.0, attack_ms = 5.0, release_ms = 120.0 }} ]\nsends = [ {{ bus = \"verb\", level_db = -14.0 }} ]\n"
        );
        if name.starts_with("slap-bass") {
            extra += "gain_db = -2.0\n";
        }
        extra
    });
    let text = format!(
        "version = 1\n{body}\n[[bus]]\nname = \"verb\"\nchain = [ {{ type = \"reverb\", decay_s = 1.5, predelay_ms = 20.0 }} ]\n[master]\nchain = [ {{ type = \"limiter\", ceiling_dbtp = -1.0, lookahead_ms = 1.5, release_ms = 80.0 }} ]\n"
    );
    let mix = render(&text);
    let reference = decode_file(&song.join("reference-mix.flac")).unwrap().audio;
    // The reverb tail (1.2 × 1.5 s) follows the 30 s excerpt.
    let extra_s = (mix[0].len() - reference.frame_count()) as f64 / 44_100.0;
    assert!((extra_s - 1.8).abs() < 0.05, "tail {extra_s} s");
    let peak = mix.iter().flatten().fold(0.0f32, |m, &x| m.max(x.abs()));
    assert!(mix.iter().flatten().all(|x| x.is_finite()));
    // The limiter's ceiling is a true-peak one: sample peaks stay at or below it.
    assert!(peak <= 10f32.powf(-1.0 / 20.0) + 1e-4, "peak {peak}");
    assert!(peak > 0.1, "peak {peak}");
}
