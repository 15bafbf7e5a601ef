//! # mixdown (command line)
//!
//! The `mixdown` binary: argument parsing (clap), human and JSON output, exit
//! codes and the guarantee that no input ends in a panic or a backtrace. It owns
//! the conversation with the user; it must not hold logic a library user would
//! need — that lives in the engine, analysis and I/O crates.
//!
//! Exit codes: 0 success, 1 bad input or usage (one line on stderr), 2 internal error.

mod analyze;
mod automix;
mod demo;
mod failure;
mod master;
mod mix;
mod table;

use clap::{Parser, Subcommand};
use failure::Failure;
use std::path::PathBuf;
use std::process::ExitCode;

/// Mix and master music offline: stems to a balanced mix, mixes to release-ready masters.
#[derive(Debug, Parser)]
#[command(name = "mixdown", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Synthesize the embedded demo song and write its stems, their sum and its analysis.
    Demo {
        /// Output folder.
        #[arg(short = 'o', long = "output", default_value = "mixdown-demo")]
        output_dir: PathBuf,
        /// Replace files left by an earlier run.
        #[arg(long)]
        force: bool,
    },
    /// Master a mix: exact loudness, no true-peak overs, every decision reported.
    Master(Box<master::MasterArgs>),
    /// Mix stems automatically: balance, pan, EQ, compression, reverb, every decision explained.
    Automix(Box<automix::AutomixArgs>),
    /// Render a mixing session (tracks, buses, sends, effects) to a stereo mix.
    Mix(Box<mix::MixArgs>),
    /// Measure loudness (BS.1770-4 / EBU R128), peaks, dynamics and stereo image.
    Analyze {
        /// Audio files (WAV, FLAC, AIFF, Ogg Vorbis, MP3).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print one JSON object per file per line (JSON Lines) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    failure::install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return failure::report_usage_error(&error),
    };
    let outcome = std::panic::catch_unwind(|| run(cli));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(failure)) => failure.report(),
        // The panic hook has already printed one line.
        Err(_) => ExitCode::from(failure::EXIT_INTERNAL),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Demo { output_dir, force } => demo::run(&output_dir, force),
        Command::Analyze { files, json } => analyze::run(&files, json),
        Command::Master(args) => master::run(&args),
        Command::Mix(args) => mix::run(&args),
        Command::Automix(args) => automix::run(&args),
    }
}
