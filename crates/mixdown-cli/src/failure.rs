//! How the binary ends when something goes wrong: one line on stderr, a meaningful
//! exit code, never a backtrace.

use std::process::ExitCode;

/// Exit code for bad input or usage.
pub const EXIT_BAD_INPUT: u8 = 1;
/// Exit code for a defect in mixdown itself.
pub const EXIT_INTERNAL: u8 = 2;

/// A command's failure: what to print and which exit code to use.
#[derive(Debug)]
pub struct Failure {
    exit_code: u8,
    message: String,
}

impl Failure {
    /// Bad input: a file that cannot be read, an impossible request.
    pub fn bad_input(message: impl std::fmt::Display) -> Self {
        Self {
            exit_code: EXIT_BAD_INPUT,
            message: message.to_string(),
        }
    }

    /// Several inputs failed and each has already been reported on its own line.
    pub fn already_reported() -> Self {
        Self {
            exit_code: EXIT_BAD_INPUT,
            message: String::new(),
        }
    }

    /// Prints the message (if any) and returns the exit code.
    pub fn report(self) -> ExitCode {
        if !self.message.is_empty() {
            eprintln!("mixdown: {}", one_line(&self.message));
        }
        ExitCode::from(self.exit_code)
    }
}

impl From<mixdown_io::IoError> for Failure {
    fn from(error: mixdown_io::IoError) -> Self {
        Self::bad_input(error)
    }
}

impl From<mixdown_analysis::AnalysisError> for Failure {
    fn from(error: mixdown_analysis::AnalysisError) -> Self {
        Self::bad_input(error)
    }
}

/// Collapses a message onto one line (errors from libraries sometimes carry newlines).
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Replaces Rust's panic output (message plus backtrace hint) with one line.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "mixdown: internal error{place}: {} (please report this)",
            one_line(&what)
        );
    }));
}

/// Prints help/version normally; a usage error as one line with exit code 1.
pub fn report_usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // clap prints these itself; a failing stdout is not worth a second error.
            let _ = error.print();
            if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let rendered = error.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("mixdown: {first} (see 'mixdown --help')");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
