//! `mixdown demo [-o DIR]`: the embedded song, written and measured.

use crate::failure::Failure;
use crate::table;
use mixdown_analysis::{analyze, Metrics};
use mixdown_engine::automix::{automix, AutomixJob};
use mixdown_engine::demo::{synthesize_demo_song, DemoStem};
use mixdown_engine::mastering::{default_preset, master_file, MasterJob, MasteringRequest};
use mixdown_engine::report::AnalysisRecord;
use mixdown_io::{
    check_destination, decode_file, encode_file, write_text_atomically, EncodeOptions,
    OutputFormat, Overwrite,
};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The demo renders at the rate most music production runs at.
const DEMO_RATE_HZ: u32 = 48_000;

/// Synthesizes the demo song, writes `stems/*.wav`, automixes them into `mix.wav`
/// with its editable session `mix.toml` and `automix-report.json`, measures
/// everything into `analysis.jsonl`, then masters the automix with the default preset
/// into `master.wav` and `master-report.json`.
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
    let session_path = output_dir.join("mix.toml");
    let automix_report_path = output_dir.join("automix-report.json");
    let analysis_path = output_dir.join("analysis.jsonl");
    let master_path = output_dir.join("master.wav");
    let report_path = output_dir.join("master-report.json");

    // Refuse before writing anything, so a refused run leaves the folder as it was.
    for path in stem_paths.iter().chain([
        &mix_path,
        &session_path,
        &automix_report_path,
        &analysis_path,
        &master_path,
        &report_path,
    ]) {
        check_destination(path, overwrite)?;
    }
    std::fs::create_dir_all(&stems_dir).map_err(|e| {
        Failure::bad_input(format!(
            "{}: cannot create folder: {e}",
            stems_dir.display()
        ))
    })?;

    let options = EncodeOptions {
        overwrite,
        ..EncodeOptions::new(OutputFormat::Int24)
    };
    let mut measured: Vec<Metrics> = stem_paths
        .par_iter()
        .zip(&stems)
        .map(|(path, stem)| {
            encode_file(path, &stem.audio, &options)?;
            Ok(analyze(&stem.audio)?)
        })
        .collect::<Result<_, Failure>>()?;

    // Automix the stems, as a user with stems and no engineer would.
    let job = AutomixJob {
        output: mix_path.clone(),
        session: Some(session_path),
        stems_dir: None,
        master_preset: None,
        format: OutputFormat::Int24,
        overwrite,
    };
    let automix_report = automix(&stem_paths, &job, &mut |_| {}).map_err(Failure::bad_input)?;
    let json = serde_json::to_string_pretty(&automix_report)
        .map_err(|e| Failure::bad_input(format!("cannot write the automix report: {e}")))?;
    write_text_atomically(&automix_report_path, &(json + "\n"), overwrite)?;
    measured.push(analyze(&decode_file(&mix_path)?.audio)?);

    let jsonl: String = stem_paths
        .iter()
        .chain([&mix_path])
        .zip(&measured)
        .map(|(path, metrics)| AnalysisRecord::new(path, metrics).to_json_line() + "\n")
        .collect();
    write_text_atomically(&analysis_path, &jsonl, overwrite)?;

    let (mix_metrics, stem_metrics) = measured.split_last().expect("the mix is always measured");
    print!("{}", stem_balance_table(&stems, stem_metrics));
    println!();
    crate::automix::print_report(&automix_report, &mix_path);
    println!();
    print!(
        "{}",
        table::metrics_table("mix.wav (the automix)", mix_metrics)
    );
    println!();

    // Master the automix with the default preset, as a user would.
    let job = MasterJob {
        input: mix_path.clone(),
        output: master_path,
        references: Vec::new(),
        request: MasteringRequest::for_preset(&default_preset()),
        output_format: OutputFormat::Int24,
        output_rate_hz: None,
        overwrite,
        block_frames: 4_096,
        noise_shaped_dither: false,
    };
    let report = master_file(&job, &mut |_| {}).map_err(Failure::bad_input)?;
    write_text_atomically(&report_path, &(report.to_json() + "\n"), overwrite)?;
    crate::master::print_summary(&report);
    println!();
    println!(
        "Wrote {} stems, the automix (mix.wav, its session mix.toml, automix-report.json), analysis.jsonl, master.wav and master-report.json to {}",
        stems.len(),
        output_dir.display()
    );
    Ok(())
}

/// Each stem as synthesized: its loudness and true peak, before automix balances it.
fn stem_balance_table(stems: &[DemoStem], stem_metrics: &[Metrics]) -> String {
    let mut text = format!(
        "{:<10}{:<12}{:>12}{:>12}\n",
        "stem", "class", "loudness", "true peak"
    );
    for (stem, metrics) in stems.iter().zip(stem_metrics) {
        text += &format!(
            "{:<10}{:<12}{:>12}{:>12}\n",
            stem.name,
            stem.class,
            table::value(metrics.integrated_lufs, "LUFS"),
            table::value(metrics.true_peak_dbtp, "dBTP"),
        );
    }
    text
}
