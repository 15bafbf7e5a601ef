//! `mixdown demo [-o DIR]`: the embedded song, written and measured.

use crate::failure::Failure;
use crate::table;
use mixdown_analysis::{analyze, Metrics};
use mixdown_dsp::AudioBuffer;
use mixdown_engine::demo::{synthesize_demo_song, DemoStem};
use mixdown_engine::mastering::{
    default_preset, master_file, MasterJob, MasteringRequest, MatchDimensions, StageSwitches,
};
use mixdown_engine::report::AnalysisRecord;
use mixdown_io::{
    check_destination, encode_file, write_text_atomically, EncodeOptions, OutputFormat, Overwrite,
};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The demo renders at the rate most music production runs at.
const DEMO_RATE_HZ: u32 = 48_000;

/// Synthesizes the demo song, writes `stems/*.wav`, `mix.wav` (their plain sum)
/// and `analysis.jsonl`, prints how the stems sit in the mix, then masters the mix
/// with the default preset into `master.wav` and `master-report.json`.
pub fn run(output_dir: &Path, force: bool) -> Result<(), Failure> {
    let overwrite = if force {
        Overwrite::Replace
    } else {
        Overwrite::Refuse
    };
    let stems = synthesize_demo_song(DEMO_RATE_HZ);
    let stems_dir = output_dir.join("stems");
    let stem_paths: Vec<PathBuf> = stems
        .iter()
        .map(|s| stems_dir.join(format!("{}.wav", s.name)))
        .collect();
    let mix_path = output_dir.join("mix.wav");
    let analysis_path = output_dir.join("analysis.jsonl");
    let master_path = output_dir.join("master.wav");
    let report_path = output_dir.join("master-report.json");

    // Refuse before writing anything, so a refused run leaves the folder as it was.
    for path in stem_paths
        .iter()
        .chain([&mix_path, &analysis_path, &master_path, &report_path])
    {
        check_destination(path, overwrite)?;
    }
    std::fs::create_dir_all(&stems_dir).map_err(|e| {
        Failure::bad_input(format!(
            "{}: cannot create folder: {e}",
            stems_dir.display()
        ))
    })?;

    let mix = plain_sum(&stems);
    let options = EncodeOptions {
        overwrite,
        ..EncodeOptions::new(OutputFormat::Int24)
    };
    let mut outputs: Vec<(&Path, &AudioBuffer)> = stem_paths
        .iter()
        .map(PathBuf::as_path)
        .zip(stems.iter().map(|s| &s.audio))
        .collect();
    outputs.push((&mix_path, &mix));
    let measured: Vec<Metrics> = outputs
        .par_iter()
        .map(|(path, audio)| {
            encode_file(path, audio, &options)?;
            Ok(analyze(audio)?)
        })
        .collect::<Result<_, Failure>>()?;

    let jsonl: String = outputs
        .iter()
        .zip(&measured)
        .map(|((path, _), metrics)| AnalysisRecord::new(path, metrics).to_json_line() + "\n")
        .collect();
    write_text_atomically(&analysis_path, &jsonl, overwrite)?;

    let (mix_metrics, stem_metrics) = measured.split_last().expect("the mix is always measured");
    print!("{}", stem_balance_table(&stems, stem_metrics, mix_metrics));
    println!();
    print!(
        "{}",
        table::metrics_table("mix.wav (plain sum of the stems)", mix_metrics)
    );
    println!();

    // Master the mix with the default preset, as a user would.
    let preset = default_preset();
    let job = MasterJob {
        input: mix_path.clone(),
        output: master_path,
        references: Vec::new(),
        request: MasteringRequest {
            preset: preset.name.into(),
            target_lufs: preset.target_lufs,
            ceiling_dbtp: preset.ceiling_dbtp,
            max_loudness_range_lu: preset.max_loudness_range_lu,
            amount: 1.0,
            match_dimensions: MatchDimensions::ALL,
            stages: StageSwitches::ALL,
            max_eq_gain_db: None,
            saturation_drive_db: None,
        },
        output_format: OutputFormat::Int24,
        output_rate_hz: None,
        overwrite,
        block_frames: 4_096,
    };
    let report = master_file(&job, &mut |_| {}).map_err(Failure::bad_input)?;
    write_text_atomically(&report_path, &(report.to_json() + "\n"), overwrite)?;
    crate::master::print_summary(&report);
    println!();
    println!(
        "Wrote {} stems, mix.wav, analysis.jsonl, master.wav and master-report.json to {}",
        stems.len(),
        output_dir.display()
    );
    Ok(())
}

/// The plain (unity-gain) sum of the stems.
fn plain_sum(stems: &[DemoStem]) -> AudioBuffer {
    let mut sum = AudioBuffer::silent(DEMO_RATE_HZ, 2, 0);
    for stem in stems {
        sum.mix_in(&stem.audio);
    }
    sum
}

/// Each stem's loudness and its level relative to the mix — the balance automix
/// will later correct.
fn stem_balance_table(stems: &[DemoStem], stem_metrics: &[Metrics], mix: &Metrics) -> String {
    let mut text = format!(
        "{:<10}{:<12}{:>12}{:>14}{:>12}\n",
        "stem", "class", "loudness", "vs mix", "true peak"
    );
    for (stem, metrics) in stems.iter().zip(stem_metrics) {
        let relative = metrics
            .integrated_lufs
            .zip(mix.integrated_lufs)
            .map(|(s, m)| s - m);
        text += &format!(
            "{:<10}{:<12}{:>12}{:>14}{:>12}\n",
            stem.name,
            stem.class,
            table::value(metrics.integrated_lufs, "LUFS"),
            table::value(relative, "LU"),
            table::value(metrics.true_peak_dbtp, "dBTP"),
        );
    }
    text
}
