//! One thing wrong with a session, located by path and, when read from a file, line.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem found in a session: `track[2].chain[1].freq: 30000 Hz is above Nyquist
/// (24000 Hz)`. Indices count from 0 in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `track[2].chain[1].freq`; empty for the file as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line in the session file, when known.
    pub line: Option<usize>,
    /// The session file, when known.
    pub file: Option<PathBuf>,
}

impl Problem {
    /// A problem at `path` (line not yet known).
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            line: None,
            file: None,
        }
    }

    /// The same problem, attributed to `file`.
    pub fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }
}

impl fmt::Display for Problem {
    /// `session.toml:12: track[2].chain[1].freq: message`, leaving out what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem of a session that cannot be used, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", summary(.0))]
pub struct Problems(pub Vec<Problem>);

fn summary(problems: &[Problem]) -> String {
    match problems {
        [one] => one.to_string(),
        [first, ..] => format!("{first} (and {} more problems)", problems.len() - 1),
        [] => "no problems".into(),
    }
}
