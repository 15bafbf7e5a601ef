//! # mixdown-session
//!
//! The vocabulary in which mixdown writes down decisions: processor settings
//! (`{ type = "highpass", freq = 30.0, slope_db_per_oct = 12 }`, EQ bands,
//! compressors, limiter...) as serde data, shared by session files and by the
//! mastering report so that any automatic decision can be copied into a session
//! and edited. The session file itself (tracks, buses, sends, validation with line
//! and path) lands with the mixing feature. This crate owns data and validation; it
//! must not decode files or render audio — the engine turns specs into processors.

pub mod processor;

pub use processor::{CompressorBand, EqBand, EqBandKind, ProcessorSpec, StereoPart};
