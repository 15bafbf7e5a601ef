//! `mixdown master IN -o OUT ...`.

use crate::failure::Failure;
use indicatif::{ProgressBar, ProgressStyle};
use mixdown_engine::mastering::{
    default_preset, find_preset, master_file, preset_names, MasterJob, MasterReport,
    MasteringRequest, MatchDimensions, StageSwitches,
};
use mixdown_io::{check_destination, write_text_atomically, OutputFormat, Overwrite};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `mixdown master`.
#[derive(Debug, clap::Args)]
pub struct MasterArgs {
    /// The mix to master (WAV, FLAC, AIFF, Ogg Vorbis, MP3).
    input: PathBuf,
    /// The master to write (.wav or .flac).
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Delivery preset: spotify (default), apple, youtube, tidal, amazon, deezer,
    /// soundcloud, club, cd, broadcast, aes, background.
    #[arg(long, conflicts_with = "target_lufs")]
    preset: Option<String>,
    /// Integrated loudness target, LUFS (instead of a preset).
    #[arg(long, allow_hyphen_values = true)]
    target_lufs: Option<f64>,
    /// True-peak ceiling, dBTP (default: the preset's).
    #[arg(long, allow_hyphen_values = true)]
    ceiling: Option<f64>,
    /// Reference track(s) to match; several are averaged.
    #[arg(long = "reference", num_args = 1..)]
    references: Vec<PathBuf>,
    /// How far every stage moves: 0 = level-matched bypass, 1 = full.
    #[arg(long, default_value_t = 1.0)]
    amount: f64,
    /// Reference dimensions to match: any of tone, loudness, width, dynamics.
    #[arg(long = "match", value_delimiter = ',')]
    match_dimensions: Vec<String>,
    /// Output sample format: 16, 24 or 32f.
    #[arg(long, default_value = "24")]
    bits: String,
    /// Dither for integer outputs: tpdf (flat), or shaped (TPDF noise-shaped away from
    /// the ear's most sensitive region; at 44.1 and 48 kHz).
    #[arg(long, default_value = "tpdf")]
    dither: String,
    /// Output sample rate, Hz (default: the input's).
    #[arg(long)]
    rate: Option<u32>,
    /// Write the full decision report here (JSON).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Largest EQ move per band, dB (default 3, or 9 when matching a reference).
    #[arg(long)]
    max_eq_db: Option<f64>,
    /// Add oversampled soft saturation with this drive, dB (0–24; off by default).
    #[arg(long)]
    saturation: Option<f64>,
    /// Switch stages off: highpass, eq, dynamics, stereo, loudness, limiter
    /// (without the limiter, true peaks are not controlled).
    #[arg(long = "skip", value_delimiter = ',')]
    skip: Vec<String>,
    /// Replace existing output files.
    #[arg(long)]
    force: bool,
}

pub fn parse_format(bits: &str) -> Result<OutputFormat, Failure> {
    match bits {
        "16" => Ok(OutputFormat::Int16),
        "24" => Ok(OutputFormat::Int24),
        "32f" | "32" => Ok(OutputFormat::Float32),
        other => Err(Failure::bad_input(format!(
            "--bits {other}: use 16, 24 or 32f"
        ))),
    }
}

fn parse_match(names: &[String], have_references: bool) -> Result<MatchDimensions, Failure> {
    if names.is_empty() {
        return Ok(MatchDimensions::ALL);
    }
    if !have_references {
        return Err(Failure::bad_input("--match needs at least one --reference"));
    }
    let mut dims = MatchDimensions {
        tone: false,
        loudness: false,
        width: false,
        dynamics: false,
    };
    for name in names {
        match name.trim() {
            "tone" => dims.tone = true,
            "loudness" => dims.loudness = true,
            "width" => dims.width = true,
            "dynamics" => dims.dynamics = true,
            other => {
                return Err(Failure::bad_input(format!(
                    "--match {other}: use tone, loudness, width or dynamics"
                )))
            }
        }
    }
    Ok(dims)
}

fn parse_skip(names: &[String]) -> Result<StageSwitches, Failure> {
    let mut stages = StageSwitches::ALL;
    for name in names {
        match name.trim() {
            "highpass" => stages.highpass = false,
            "eq" => stages.eq = false,
            "dynamics" => stages.dynamics = false,
            "stereo" => stages.stereo = false,
            "loudness" => stages.loudness = false,
            "limiter" => stages.limiter = false,
            other => {
                return Err(Failure::bad_input(format!(
                    "--skip {other}: stages are highpass, eq, dynamics, stereo, loudness, limiter"
                )))
            }
        }
    }
    Ok(stages)
}

fn check_range(name: &str, value: f64, low: f64, high: f64, unit: &str) -> Result<(), Failure> {
    if value.is_finite() && (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(Failure::bad_input(format!(
            "{name} {value}: must be between {low} and {high}{unit}"
        )))
    }
}

/// Validates the arguments into a job.
fn job_from(args: &MasterArgs) -> Result<MasterJob, Failure> {
    let preset = match &args.preset {
        Some(name) => find_preset(name).ok_or_else(|| {
            Failure::bad_input(format!(
                "unknown preset '{name}' (presets: {})",
                preset_names()
            ))
        })?,
        None => default_preset(),
    };
    let target_lufs = args.target_lufs.unwrap_or(preset.target_lufs);
    let ceiling_dbtp = args.ceiling.unwrap_or(preset.ceiling_dbtp);
    check_range("--target-lufs", target_lufs, -40.0, -3.0, " LUFS")?;
    check_range("--ceiling", ceiling_dbtp, -20.0, 0.0, " dBTP")?;
    check_range("--amount", args.amount, 0.0, 1.0, "")?;
    if let Some(max_eq_db) = args.max_eq_db {
        check_range("--max-eq-db", max_eq_db, 0.0, 12.0, " dB")?;
    }
    if let Some(drive_db) = args.saturation {
        check_range("--saturation", drive_db, 0.0, 24.0, " dB")?;
    }
    if let Some(rate) = args.rate {
        check_range("--rate", f64::from(rate), 8_000.0, 192_000.0, " Hz")?;
    }
    Ok(MasterJob {
        input: args.input.clone(),
        output: args.output.clone(),
        references: args.references.clone(),
        request: MasteringRequest {
            preset: if args.target_lufs.is_some() {
                "custom".into()
            } else {
                preset.name.into()
            },
            target_lufs,
            ceiling_dbtp,
            max_loudness_range_lu: preset
                .max_loudness_range_lu
                .filter(|_| args.target_lufs.is_none()),
            amount: args.amount,
            match_dimensions: parse_match(&args.match_dimensions, !args.references.is_empty())?,
            stages: parse_skip(&args.skip)?,
            max_eq_gain_db: args.max_eq_db,
            saturation_drive_db: args.saturation,
        },
        output_format: parse_format(&args.bits)?,
        output_rate_hz: args.rate,
        overwrite: if args.force {
            Overwrite::Replace
        } else {
            Overwrite::Refuse
        },
        block_frames: 4_096,
        noise_shaped_dither: match args.dither.as_str() {
            "tpdf" => false,
            "shaped" => true,
            other => {
                return Err(Failure::bad_input(format!(
                    "--dither {other}: use tpdf or shaped"
                )))
            }
        },
    })
}

/// Runs `mixdown master`.
pub fn run(args: &MasterArgs) -> Result<(), Failure> {
    let job = job_from(args)?;
    if let Some(report_path) = &args.report {
        if [&job.input, &job.output]
            .into_iter()
            .chain(&job.references)
            .any(|p| p == report_path)
        {
            return Err(Failure::bad_input(format!(
                "{}: the report must not be the input or the output",
                report_path.display()
            )));
        }
        check_destination(report_path, job.overwrite)?;
    }
    let bar = progress_bar(&job);
    let outcome = master_file(&job, &mut |p| {
        if let Some(bar) = &bar {
            bar.set_message(p.stage);
            bar.set_position((p.fraction * 1000.0) as u64);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = outcome.map_err(Failure::bad_input)?;
    if let Some(report_path) = &args.report {
        write_text_atomically(report_path, &(report.to_json() + "\n"), job.overwrite)?;
    }
    print_summary(&report);
    Ok(())
}

/// A progress bar on stderr for inputs longer than a few seconds, when a person watches.
fn progress_bar(job: &MasterJob) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let reader = mixdown_io::AudioReader::open(&job.input).ok()?;
    let seconds = reader.declared_frames()? as f64 / f64::from(reader.sample_rate_hz());
    (seconds > 5.0).then(|| {
        let bar = ProgressBar::new(1000);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:<18} [{bar:40}] {percent:>3}%")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    })
}

/// Prints the before → after summary, and warnings on stderr.
pub fn print_summary(report: &MasterReport) {
    let value = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |v| format!("{v:.1}"));
    let (i, o) = (&report.input, &report.output);
    println!(
        "{} → {}  (preset {}, target {:.1} LUFS, ceiling {:.1} dBTP)",
        i.file, o.file, report.preset, report.target_lufs, report.ceiling_dbtp
    );
    println!(
        "  loudness   {:>7} → {:>7} LUFS",
        value(i.integrated_lufs),
        value(o.integrated_lufs)
    );
    println!(
        "  true peak  {:>7} → {:>7} dBTP",
        value(i.true_peak_dbtp),
        value(o.true_peak_dbtp)
    );
    println!(
        "  LRA        {:>7} → {:>7} LU",
        value(i.loudness_range_lu),
        value(o.loudness_range_lu)
    );
    println!(
        "  limiter    max {:.1} dB, mean {:.2} dB, active {:.1} % of the time",
        report.limiter.max_gain_reduction_db,
        report.limiter.mean_gain_reduction_db,
        report.limiter.active_percent
    );
    for warning in &report.warnings {
        eprintln!("mixdown: warning: {warning}");
    }
}
