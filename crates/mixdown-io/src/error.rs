use std::path::PathBuf;

/// Why a file could not be read or written. Every variant names the file, so the
/// message alone is a complete one-line diagnosis.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The file does not exist or cannot be opened.
    #[error("{path}: cannot open: {source}")]
    Open {
        /// File concerned.
        path: PathBuf,
        /// Operating-system error.
        source: std::io::Error,
    },
    /// The file has no bytes.
    #[error("{path}: file is empty")]
    Empty {
        /// File concerned.
        path: PathBuf,
    },
    /// The bytes are not a supported audio format.
    #[error("{path}: not a supported audio file ({reason})")]
    Unsupported {
        /// File concerned.
        path: PathBuf,
        /// What the probe or decoder said.
        reason: String,
    },
    /// The stream is damaged.
    #[error("{path}: corrupt audio: {reason}")]
    Corrupt {
        /// File concerned.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Fewer frames than the header promises.
    #[error("{path}: truncated: header promises {expected_frames} frames ({expected_s:.2} s), file holds {actual_frames} ({actual_s:.2} s)")]
    Truncated {
        /// File concerned.
        path: PathBuf,
        /// Frames the header declares.
        expected_frames: u64,
        /// Frames actually decoded.
        actual_frames: u64,
        /// Duration the header declares.
        expected_s: f64,
        /// Duration actually decoded.
        actual_s: f64,
    },
    /// The decoded signal contains NaN or infinite samples.
    #[error("{path}: contains non-finite samples (NaN/Inf), the first at {first_s:.3} s")]
    NonFinite {
        /// File concerned.
        path: PathBuf,
        /// Time of the first one.
        first_s: f64,
    },
    /// The output exists and replacing it was not allowed.
    #[error("{path}: already exists (use --force to replace it)")]
    OutputExists {
        /// File concerned.
        path: PathBuf,
    },
    /// Writing failed; nothing was left at the destination.
    #[error("{path}: cannot write: {reason}")]
    Write {
        /// File concerned.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A parameter is out of range (sample rate, bit depth for a container...).
    #[error("{0}")]
    InvalidRequest(String),
}
