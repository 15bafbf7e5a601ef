//! Mastering: from a stereo (or mono) mix to a release-ready master that hits a
//! loudness target exactly and never exceeds its true-peak ceiling.
//!
//! The chain, every stage switchable and reported: DC/subsonic high-pass → tonal
//! EQ toward a target spectrum (the reference's, mid and side separately, when
//! given) → 4-band Linkwitz-Riley compression with thresholds from the programme's
//! own level distribution (plus a slow leveler for narrow-range presets) → stereo
//! (mono low end, M/S width) → optional oversampled soft saturation → loudness gain
//! → lookahead true-peak limiter → TPDF dither.

mod planner;
mod presets;
mod profile;
mod render;
mod report;
mod store;
pub mod tonal;

pub use planner::{
    plan, Decision, MasteringPlan, MasteringRequest, MatchDimensions, StageSwitches,
};
pub use presets::{default_preset, find_preset, preset_names, Preset, PRESETS};
pub use profile::{ProfileBuilder, ProgrammeProfile, LOW_END_HZ, MULTIBAND_CROSSOVERS_HZ};
pub(crate) use render::same_file;
pub use render::{master_file, MasterJob, Progress, HEAVY_LIMITING_DB, MIN_REFERENCE_S};
pub use report::{EqCurvePoint, LimiterReport, MasterReport};

use std::path::PathBuf;

/// Why a mastering run could not be done. Each message is a complete line.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(#[from] mixdown_io::IoError),
    /// The programme cannot be measured.
    #[error(transparent)]
    Analysis(#[from] mixdown_analysis::AnalysisError),
    /// The input holds no audible programme.
    #[error("{0}: has no measurable loudness (digital silence, or shorter than 0.4 s); there is nothing to master")]
    Silent(PathBuf),
    /// A reference cannot serve.
    #[error("reference {0}: {1}")]
    BadReference(PathBuf, String),
    /// The output would overwrite an input.
    #[error("{0}: the output must not be one of the inputs")]
    OutputIsInput(PathBuf),
    /// A request that cannot be met.
    #[error("{0}")]
    Invalid(String),
}
