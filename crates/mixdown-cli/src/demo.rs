//! `mixdown demo [-o DIR]`: the embedded song, written and measured.

use crate::failure::Failure;
use crate::table;
use mixdown_analysis::{analyze, Metrics};
use mixdown_dsp::AudioBuffer;
use mixdown_engine::demo::{synthesize_demo_song, DemoStem};
use mixdown_engine::report::AnalysisRecord;
use mixdown_io::{
    check_destination, encode_file, write_text_atomically, EncodeOptions, OutputFormat, Overwrite,
};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The demo renders at the rate most music production runs at.
const DEMO_RATE_HZ: u32 = 48_000;

/// Synthesizes the demo song, writes `stems/*.wav`, `mix.wav` (their plain sum)
/// and `analysis.jsonl`, and prints how the stems sit in the mix.
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

    // Refuse before writing anything, so a refused run leaves the folder as it was.
    for path in stem_paths.iter().chain([&mix_path, &analysis_path]) {
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
    println!(
        "Wrote {} stems, mix.wav and analysis.jsonl to {}",
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
