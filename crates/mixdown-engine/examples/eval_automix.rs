//! Automix evaluation over the corpus multitracks (run by `scripts/eval-automix.sh`).
//!
//! For each song, every stem gets a seeded random gain offset within ±12 dB. Then:
//! - **gain invariance**: each stem's loudness relative to the mix, automix of the
//!   offset stems vs automix of the original stems (should not move);
//! - **balance error**: each stem's loudness relative to the mix against the same
//!   quantity in the artist's reference mix (the plain sum of the original stems), as
//!   the median absolute error in dB, for automix and two baselines on the offset
//!   stems: their plain sum, and their sum with every stem at equal loudness;
//! - the unmastered automix's true peak (goal ≤ −1 dBTP) and clipped samples.
//!
//! Usage: `cargo run --release -p mixdown-engine --example eval_automix -- CORPUS_DIR`

use mixdown_analysis::LoudnessMeter;
use mixdown_dsp::AudioBuffer;
use mixdown_engine::automix::{automix, AutomixJob};
use mixdown_io::{decode_file, encode_file, EncodeOptions, OutputFormat, Overwrite};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Loudness of a planar signal as a stereo contribution (a mono stem plays on both
/// sides, +3.01 dB in BS.1770), LUFS.
fn stereo_loudness(channels: &[Vec<f32>], rate: u32) -> Option<f64> {
    let mut meter = LoudnessMeter::integrated_only(channels.len(), rate).ok()?;
    let slices: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    meter.add(&slices).ok()?;
    let mono_to_stereo = if channels.len() == 1 {
        10.0 * 2f64.log10()
    } else {
        0.0
    };
    meter.finish().integrated_lufs.map(|l| l + mono_to_stereo)
}

/// The plain stereo sum of stems (mono on both sides) with linear gains.
fn sum(stems: &[AudioBuffer], gains: &[f64]) -> Vec<Vec<f32>> {
    let frames = stems
        .iter()
        .map(AudioBuffer::frame_count)
        .max()
        .unwrap_or(0);
    let mut out = vec![vec![0.0f32; frames]; 2];
    for (stem, &gain) in stems.iter().zip(gains) {
        for (c, channel) in out.iter_mut().enumerate() {
            let source = &stem.channels[c.min(stem.channel_count() - 1)];
            for (o, &x) in channel.iter_mut().zip(source) {
                *o += (f64::from(x) * gain) as f32;
            }
        }
    }
    out
}

/// Relative loudness of each stem (with linear `gains`) in their plain sum.
fn relative_in_sum(stems: &[AudioBuffer], gains: &[f64], rate: u32) -> Vec<Option<f64>> {
    let mix = stereo_loudness(&sum(stems, gains), rate);
    stems
        .iter()
        .zip(gains)
        .map(|(s, &g)| Some(stereo_loudness(&s.channels, rate)? + 20.0 * g.log10() - mix?))
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

fn errors(a: &[Option<f64>], b: &[Option<f64>]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter_map(|(x, y)| Some((x.as_ref()? - y.as_ref()?).abs()))
        .collect()
}

/// Automixes `stems` into `dir` and returns each stem's loudness relative to the mix,
/// the mix's true peak, its clipped samples and the wall time.
fn run_automix(stems: &[PathBuf], dir: &Path) -> (Vec<Option<f64>>, f64, usize, f64) {
    let job = AutomixJob {
        output: dir.join("automix.wav"),
        session: None,
        stems_dir: None,
        master_preset: None,
        format: OutputFormat::Float32,
        overwrite: Overwrite::Replace,
    };
    let started = Instant::now();
    let report = automix(stems, &job, &mut |_| {}).expect("automix runs");
    let seconds = started.elapsed().as_secs_f64();
    let mix = decode_file(&job.output).unwrap().audio;
    let mut meter = LoudnessMeter::new(2, mix.sample_rate_hz).unwrap();
    meter.add(&mix.channel_slices()).unwrap();
    let true_peak = meter.finish().true_peak_dbtp.unwrap_or(f64::NEG_INFINITY);
    let clipped = mix
        .channels
        .iter()
        .flatten()
        .filter(|x| x.abs() > 1.0)
        .count();
    // Measured by automix's own meters during its render: each stem's contribution
    // relative to the mix (the master fader moves both alike).
    let relative = report.stems.iter().map(|s| s.relative_lu_after).collect();
    (relative, true_peak, clipped, seconds)
}

fn main() {
    let corpus = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/corpus".into()),
    );
    let mut songs: Vec<PathBuf> = std::fs::read_dir(corpus.join("multitrack"))
        .expect("the corpus multitrack folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("reference-mix.flac").exists())
        .collect();
    songs.sort();
    println!("| song | stems | invariance max dB | automix error dB | plain-sum error dB | equal-loudness error dB | automix true peak dBTP | clipped | automix s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut all = [Vec::new(), Vec::new(), Vec::new()];
    for (song_index, song) in songs.iter().enumerate() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(song)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "flac"))
            .filter(|p| !p.ends_with("reference-mix.flac"))
            .collect();
        files.sort();
        let stems: Vec<AudioBuffer> = files
            .iter()
            .map(|f| decode_file(f).unwrap().audio)
            .collect();
        let rate = stems[0].sample_rate_hz;
        let reference = decode_file(&song.join("reference-mix.flac")).unwrap().audio;
        let reference_lufs = stereo_loudness(&reference.channels, rate).unwrap();
        let reference_relative: Vec<Option<f64>> = stems
            .iter()
            .map(|s| Some(stereo_loudness(&s.channels, rate)? - reference_lufs))
            .collect();

        // Seeded offsets within ±12 dB.
        let mut source = mixdown_dsp::dither::NoiseSource::new(song_index as u64 + 1);
        let offsets_db: Vec<f64> = files
            .iter()
            .map(|_| (source.next_uniform() * 24.0).round())
            .collect();
        let work = tempfile::tempdir().unwrap();
        let offset_dir = work.path().join("offset");
        std::fs::create_dir(&offset_dir).unwrap();
        let offset_files: Vec<PathBuf> = files
            .iter()
            .zip(&stems)
            .zip(&offsets_db)
            .map(|((file, audio), offset_db)| {
                let gain = 10f64.powf(offset_db / 20.0);
                let channels = audio
                    .channels
                    .iter()
                    .map(|c| c.iter().map(|&x| (f64::from(x) * gain) as f32).collect())
                    .collect();
                let path = offset_dir
                    .join(file.file_name().unwrap())
                    .with_extension("wav");
                encode_file(
                    &path,
                    &AudioBuffer::from_channels(rate, channels),
                    &EncodeOptions::new(OutputFormat::Float32),
                )
                .unwrap();
                path
            })
            .collect();

        let original_dir = work.path().join("original-mix");
        let offset_mix_dir = work.path().join("offset-mix");
        std::fs::create_dir_all(&original_dir).unwrap();
        std::fs::create_dir_all(&offset_mix_dir).unwrap();
        let (original, _, _, _) = run_automix(&files, &original_dir);
        let (automixed, true_peak, clipped, seconds) = run_automix(&offset_files, &offset_mix_dir);
        let invariance = errors(&original, &automixed)
            .into_iter()
            .fold(0.0, f64::max);

        let offset_gains: Vec<f64> = offsets_db.iter().map(|o| 10f64.powf(o / 20.0)).collect();
        let plain = relative_in_sum(&stems, &offset_gains, rate);
        let equal_gains: Vec<f64> = stems
            .iter()
            .map(|s| {
                stereo_loudness(&s.channels, rate).map_or(0.0, |l| 10f64.powf((-23.0 - l) / 20.0))
            })
            .collect();
        let equal = relative_in_sum(&stems, &equal_gains, rate);

        let e_auto = errors(&automixed, &reference_relative);
        let e_plain = errors(&plain, &reference_relative);
        let e_equal = errors(&equal, &reference_relative);
        println!(
            "| {} | {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.2} |",
            song.file_name().unwrap().to_string_lossy(),
            files.len(),
            invariance,
            median(e_auto.clone()),
            median(e_plain.clone()),
            median(e_equal.clone()),
            true_peak,
            clipped,
            seconds
        );
        all[0].extend(e_auto);
        all[1].extend(e_plain);
        all[2].extend(e_equal);
    }
    println!(
        "| all stems | {} | | {:.1} | {:.1} | {:.1} | | | |",
        all[0].len(),
        median(all[0].clone()),
        median(all[1].clone()),
        median(all[2].clone())
    );
}
