//! `mixdown mix SESSION -o OUT ...`.

use crate::failure::Failure;
use crate::master::{parse_format, print_summary};
use indicatif::{ProgressBar, ProgressStyle};
use mixdown_engine::mastering::MasterReport;
use mixdown_engine::mix::{check_session, load_session, mix_session, Metering, MixError, MixJob};
use mixdown_io::{check_destination, write_text_atomically, Overwrite};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `mixdown mix`.
#[derive(Debug, clap::Args)]
pub struct MixArgs {
    /// The session file (TOML; see docs/SESSION.md).
    session: PathBuf,
    /// The mix to write (.wav or .flac); not needed with --check.
    #[arg(short = 'o', long = "output", required_unless_present = "check")]
    output: Option<PathBuf>,
    /// Only check the session and its stems: list every problem, render nothing.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    render: RenderArgs,
}

/// The options `mix` and `automix` share: what else to write, and how.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Also write each track's own contribution to the mix (and each bus's output)
    /// into this folder.
    #[arg(long)]
    pub stems_out: Option<PathBuf>,
    /// Master the mix with this preset (spotify, apple, ...; for `mix`, overrides the
    /// session's [master] preset).
    #[arg(long)]
    pub master_preset: Option<String>,
    /// Output sample format: 16, 24 or 32f.
    #[arg(long, default_value = "24")]
    pub bits: String,
    /// Write a JSON report here (for `automix`, every decision and its reason).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
}

impl RenderArgs {
    /// Whether existing outputs may be replaced.
    pub fn overwrite(&self) -> Overwrite {
        if self.force {
            Overwrite::Replace
        } else {
            Overwrite::Refuse
        }
    }

    /// Writes `report` as pretty JSON to `--report`, if given.
    pub fn write_report(&self, report: &impl serde::Serialize) -> Result<(), Failure> {
        let Some(path) = &self.report else {
            return Ok(());
        };
        let json = serde_json::to_string_pretty(report)
            .map_err(|e| Failure::bad_input(format!("cannot write the report: {e}")))?;
        write_text_atomically(path, &(json + "\n"), self.overwrite())?;
        Ok(())
    }
}

/// A 0…1000 progress bar on stderr labelled `label`, when a person watches.
pub fn progress_bar(label: &str) -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(1000);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} {label} [{{bar:40}}] {{percent:>3}}%"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    })
}

/// The mastering summary when the render was mastered (its warnings included), else
/// the render's own warnings.
pub fn print_ending(mastering: Option<&MasterReport>, warnings: &[String]) {
    match mastering {
        Some(mastering) => print_summary(mastering),
        None => {
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
        }
    }
}

/// Every problem of a session on its own line, then a one-line failure.
fn failure(error: MixError) -> Failure {
    match error {
        MixError::Problems(problems) => {
            for problem in &problems.0 {
                eprintln!("{problem}");
            }
            let count = problems.0.len();
            Failure::bad_input(format!(
                "{count} problem{} in the session; nothing was rendered",
                if count == 1 { "" } else { "s" }
            ))
        }
        other => Failure::bad_input(other),
    }
}

/// Runs `mixdown mix`.
pub fn run(args: &MixArgs) -> Result<(), Failure> {
    if args.check {
        let loaded = check_session(&args.session).map_err(failure)?;
        println!(
            "{}: ok — {} tracks, {} buses, {} Hz",
            args.session.display(),
            loaded.session.tracks.len(),
            loaded.session.buses.len(),
            loaded.sample_rate_hz
        );
        return Ok(());
    }
    let Some(output) = &args.output else {
        return Err(Failure::bad_input("give the mix to write with -o OUT"));
    };
    let render = &args.render;
    let overwrite = render.overwrite();
    let job = MixJob {
        format: parse_format(&render.bits)?,
        overwrite,
        stems_dir: render.stems_out.clone(),
        master_preset: render.master_preset.clone(),
        // The report carries the loudness of the mix and of every contribution.
        meter: if render.report.is_some() {
            Metering::Everything
        } else {
            Metering::Off
        },
        ..MixJob::new(output)
    };
    if let Some(report_path) = &render.report {
        if report_path == output || report_path == &args.session {
            return Err(Failure::bad_input(format!(
                "{}: the report must not be the session or the mix",
                report_path.display()
            )));
        }
        check_destination(report_path, overwrite)?;
    }
    let loaded = load_session(&args.session).map_err(failure)?;
    let bar = progress_bar("mixing");
    let outcome = mix_session(&loaded, &job, &mut |fraction| {
        if let Some(bar) = &bar {
            bar.set_position((fraction * 1000.0) as u64);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = outcome.map_err(failure)?;
    render.write_report(&report)?;
    let peak = report
        .mix_peak_dbfs
        .map_or_else(|| "silent".to_string(), |p| format!("peak {p:+.1} dBFS"));
    println!(
        "{} → {}  ({} tracks, {:.1} s at {} Hz, {peak})",
        args.session.display(),
        output.display(),
        report.tracks.len(),
        report.duration_s,
        report.sample_rate_hz
    );
    if !report.stems_written.is_empty() {
        println!("  {} stems written", report.stems_written.len());
    }
    print_ending(report.mastering.as_ref(), &report.warnings);
    Ok(())
}
