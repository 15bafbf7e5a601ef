//! The mastering report: what went in, what came out, and every decision between.

use super::planner::Decision;
use crate::report::AnalysisRecord;
use mixdown_session::ProcessorSpec;
use serde::Serialize;

/// One point of the applied EQ curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EqCurvePoint {
    /// 1/3-octave centre, Hz.
    pub freq_hz: f64,
    /// Change applied to the mid signal (to every channel for mono), dB.
    pub mid_db: f64,
    /// Change applied to the side signal, dB.
    pub side_db: f64,
}

/// What the limiter did over the whole programme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimiterReport {
    /// Largest gain reduction, dB.
    pub max_gain_reduction_db: f64,
    /// Mean gain reduction, dB.
    pub mean_gain_reduction_db: f64,
    /// Share of the time the limiter reduced gain by more than 0.01 dB, %.
    pub active_percent: f64,
}

/// Everything a mastering run measured and decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MasterReport {
    /// The input, measured.
    pub input: AnalysisRecord,
    /// The written output, measured after dither and quantisation.
    pub output: AnalysisRecord,
    /// Preset the targets came from.
    pub preset: String,
    /// Loudness target, LUFS.
    pub target_lufs: f64,
    /// True-peak ceiling, dBTP.
    pub ceiling_dbtp: f64,
    /// 0 = level-matched bypass … 1 = full moves.
    pub amount: f64,
    /// Reference files matched.
    pub references: Vec<String>,
    /// The chain as run, in the session vocabulary (copy it into a session's
    /// `[master] chain` to reproduce and edit).
    pub chain: Vec<ProcessorSpec>,
    /// The word-length reduction of the last stage (dither kind and bit depth).
    pub dither: String,
    /// The EQ curve applied, at 1/3-octave centres.
    pub eq_curve: Vec<EqCurvePoint>,
    /// Limiter activity.
    pub limiter: LimiterReport,
    /// Every decision, with its reason.
    pub decisions: Vec<Decision>,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

impl MasterReport {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report is plain data")
    }
}
