//! `mixdown automix STEM_DIR|STEM... -o OUT ...`.

use crate::failure::Failure;
use crate::master::parse_format;
use crate::mix::{print_ending, progress_bar, RenderArgs};
use mixdown_engine::automix::{automix, AutomixJob, AutomixReport};
use mixdown_io::check_destination;
use std::path::PathBuf;

/// Arguments of `mixdown automix`.
#[derive(Debug, clap::Args)]
pub struct AutomixArgs {
    /// A folder of stems, or stem files.
    #[arg(required = true)]
    stems: Vec<PathBuf>,
    /// The mix to write (.wav or .flac).
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Also write the editable session (TOML) here; `mixdown mix` renders it to the same audio.
    #[arg(long)]
    session: Option<PathBuf>,
    #[command(flatten)]
    render: RenderArgs,
}

/// Runs `mixdown automix`.
pub fn run(args: &AutomixArgs) -> Result<(), Failure> {
    let render = &args.render;
    let overwrite = render.overwrite();
    if let Some(preset) = &render.master_preset {
        if mixdown_engine::mastering::find_preset(preset).is_none() {
            return Err(Failure::bad_input(format!(
                "--master-preset {preset}: unknown preset (one of: {})",
                mixdown_engine::mastering::preset_names()
            )));
        }
    }
    let outputs = [
        Some(&args.output),
        args.session.as_ref(),
        render.report.as_ref(),
    ];
    for (i, a) in outputs.iter().enumerate() {
        for b in &outputs[i + 1..] {
            if let (Some(a), Some(b)) = (a, b) {
                if a == b {
                    return Err(Failure::bad_input(format!(
                        "{}: given as two different outputs",
                        a.display()
                    )));
                }
            }
        }
    }
    if let Some(report) = &render.report {
        check_destination(report, overwrite)?;
    }
    let job = AutomixJob {
        output: args.output.clone(),
        session: args.session.clone(),
        stems_dir: render.stems_out.clone(),
        master_preset: render.master_preset.clone(),
        format: parse_format(&render.bits)?,
        overwrite,
    };
    let bar = progress_bar("automix");
    let outcome = automix(&args.stems, &job, &mut |fraction| {
        if let Some(bar) = &bar {
            bar.set_position((fraction * 1000.0) as u64);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = outcome.map_err(Failure::bad_input)?;
    render.write_report(&report)?;
    print_report(&report, &args.output);
    print_ending(report.mastering.as_ref(), &report.warnings);
    Ok(())
}

/// The per-stem decisions as a table on stdout.
pub fn print_report(report: &AutomixReport, output: &std::path::Path) {
    println!(
        "{} stems → {}  (mix {} LUFS, peak {} dBFS)",
        report.stems.len(),
        output.display(),
        report
            .mix_loudness_lufs
            .map_or_else(|| "–".into(), |l| format!("{l:.1}")),
        report
            .mix_peak_dbfs
            .map_or_else(|| "–".into(), |p| format!("{p:.1}")),
    );
    println!(
        "  {:<24} {:<14} {:>7} {:>6} {:>9} {:>9}",
        "stem", "class", "gain dB", "pan", "target LU", "after LU"
    );
    for stem in &report.stems {
        let lu = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |v| format!("{v:+.1}"));
        println!(
            "  {:<24} {:<14} {:>7.1} {:>+6.2} {:>9.1} {:>9}{}",
            stem.name,
            stem.classification.class.name(),
            stem.gain_db,
            stem.pan,
            stem.target_relative_lu,
            lu(stem.relative_lu_after),
            if stem.muted { "  (silent, muted)" } else { "" }
        );
    }
    println!(
        "  master fader {:+.1} dB (mix peak at -6 dBFS)",
        report.master_gain_db
    );
    if let Some(session) = &report.session {
        println!("  session: {}", session.display());
    }
}
