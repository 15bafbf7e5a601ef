//! Processor specifications: what a chain stage is and how it is set, in the
//! units a user reads (Hz, dB, ms), independent of sample rate.

use serde::{Deserialize, Serialize};

/// Which part of a stereo signal a stage works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StereoPart {
    /// Left and right alike.
    #[default]
    Stereo,
    /// The mid signal (L+R)/2 only.
    Mid,
    /// The side signal (L−R)/2 only.
    Side,
}

/// The shape of one EQ band (RBJ cookbook).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EqBandKind {
    /// Peaking band.
    Bell,
    /// Low shelf.
    LowShelf,
    /// High shelf.
    HighShelf,
    /// Band reject.
    Notch,
}

/// One EQ band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EqBand {
    /// Shape.
    pub kind: EqBandKind,
    /// Centre or corner frequency, Hz.
    pub freq: f64,
    /// Gain, dB (ignored by notches).
    #[serde(default)]
    pub gain_db: f64,
    /// Quality factor.
    pub q: f64,
}

/// One band of a multiband compressor (also the settings of a broadband one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressorBand {
    /// Threshold, dBFS.
    pub threshold_db: f64,
    /// Compression ratio (1 = none).
    pub ratio: f64,
    /// Soft-knee width, dB.
    #[serde(default)]
    pub knee_db: f64,
    /// Attack time, ms.
    pub attack_ms: f64,
    /// Release time, ms.
    pub release_ms: f64,
    /// Make-up gain, dB.
    #[serde(default)]
    pub makeup_db: f64,
}

/// One stage of a processing chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProcessorSpec {
    /// Butterworth high-pass.
    Highpass {
        /// Corner frequency, Hz.
        freq: f64,
        /// Slope, dB per octave (6, 12, 18, 24, 36 or 48).
        slope_db_per_oct: u32,
    },
    /// Butterworth low-pass.
    Lowpass {
        /// Corner frequency, Hz.
        freq: f64,
        /// Slope, dB per octave (6, 12, 18, 24, 36 or 48).
        slope_db_per_oct: u32,
    },
    /// Parametric EQ.
    Eq {
        /// Bands, applied in order.
        bands: Vec<EqBand>,
        /// Part of the stereo signal equalised.
        #[serde(default)]
        part: StereoPart,
    },
    /// Broadband compressor, optionally keyed by another track.
    Compressor(CompressorSpec),
    /// Multiband compressor on Linkwitz-Riley bands that sum flat.
    MultibandCompressor {
        /// Crossover frequencies, Hz, ascending.
        crossovers_hz: Vec<f64>,
        /// One setting per band (crossovers + 1), lowest first.
        bands: Vec<CompressorBand>,
    },
    /// Stereo image: M/S width and mono low end.
    StereoWidth {
        /// Side gain factor: 0 = mono, 1 = unchanged, 2 = twice as wide.
        width: f64,
        /// Below this frequency the side signal is removed (mono bass), Hz.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mono_below_hz: Option<f64>,
    },
    /// Oversampled soft saturation (odd-order, level-compensated).
    Saturation {
        /// Drive into the curve, dB.
        drive_db: f64,
        /// Wet share, 0 (dry) … 1 (fully saturated).
        mix: f64,
    },
    /// Static gain.
    Gain {
        /// Gain, dB.
        gain_db: f64,
    },
    /// Lookahead true-peak limiter.
    Limiter {
        /// Ceiling, dBTP.
        ceiling_dbtp: f64,
        /// Lookahead, ms.
        lookahead_ms: f64,
        /// Release, ms.
        release_ms: f64,
    },
    /// Downward expander / noise gate.
    Gate(GateSpec),
    /// Split-band de-esser: compresses the band above `freq` only.
    DeEsser(DeEsserSpec),
    /// Stereo algorithmic reverb (feedback delay network).
    Reverb(ReverbSpec),
    /// Feedback echo, in ms or as a tempo-synced note value.
    Delay(DelaySpec),
}

/// Level detector of a compressor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// Sample peak: catches transients (drums, plucks).
    Peak,
    /// 10 ms RMS: follows loudness (vocals, buses).
    #[default]
    Rms,
}

/// A broadband compressor stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressorSpec {
    /// Threshold, dBFS.
    pub threshold_db: f64,
    /// Compression ratio (1 = none).
    pub ratio: f64,
    /// Soft-knee width, dB.
    #[serde(default)]
    pub knee_db: f64,
    /// Attack time, ms.
    pub attack_ms: f64,
    /// Release time, ms.
    pub release_ms: f64,
    /// Make-up gain, dB.
    #[serde(default)]
    pub makeup_db: f64,
    /// What the detector measures.
    #[serde(default)]
    pub detector: DetectorKind,
    /// Name of the track whose signal drives the detector (e.g. the kick ducking the
    /// bass); the programme itself when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidechain: Option<String>,
}

impl CompressorSpec {
    /// The gain settings as one compressor band (detector and key aside).
    pub fn band(&self) -> CompressorBand {
        CompressorBand {
            threshold_db: self.threshold_db,
            ratio: self.ratio,
            knee_db: self.knee_db,
            attack_ms: self.attack_ms,
            release_ms: self.release_ms,
            makeup_db: self.makeup_db,
        }
    }

    /// An RMS compressor listening to the programme with `band`'s settings.
    pub fn from_band(band: CompressorBand) -> Self {
        Self {
            threshold_db: band.threshold_db,
            ratio: band.ratio,
            knee_db: band.knee_db,
            attack_ms: band.attack_ms,
            release_ms: band.release_ms,
            makeup_db: band.makeup_db,
            detector: DetectorKind::Rms,
            sidechain: None,
        }
    }
}

/// A gate / downward expander stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    /// Level below which the gain drops, dBFS (sample peak).
    pub threshold_db: f64,
    /// Expansion ratio below the threshold; absent = a hard gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// Maximum attenuation, positive dB.
    #[serde(default = "default_gate_range_db")]
    pub range_db: f64,
    /// Opening time, ms.
    #[serde(default = "default_gate_attack_ms")]
    pub attack_ms: f64,
    /// Time the gate stays open after the level falls, ms.
    #[serde(default = "default_gate_hold_ms")]
    pub hold_ms: f64,
    /// Closing time, ms.
    #[serde(default = "default_gate_release_ms")]
    pub release_ms: f64,
}

fn default_gate_range_db() -> f64 {
    80.0
}
fn default_gate_attack_ms() -> f64 {
    1.0
}
fn default_gate_hold_ms() -> f64 {
    50.0
}
fn default_gate_release_ms() -> f64 {
    100.0
}

/// A split-band de-esser stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeEsserSpec {
    /// Crossover above which sibilance is compressed, Hz.
    #[serde(default = "default_deesser_freq")]
    pub freq: f64,
    /// High-band level above which it is compressed, dBFS.
    pub threshold_db: f64,
    /// Compression ratio of the high band.
    #[serde(default = "default_deesser_ratio")]
    pub ratio: f64,
    /// Most the high band is turned down, positive dB.
    #[serde(default = "default_deesser_max_reduction_db")]
    pub max_reduction_db: f64,
    /// Attack, ms.
    #[serde(default = "default_deesser_attack_ms")]
    pub attack_ms: f64,
    /// Release, ms.
    #[serde(default = "default_deesser_release_ms")]
    pub release_ms: f64,
}

fn default_deesser_freq() -> f64 {
    6000.0
}
fn default_deesser_ratio() -> f64 {
    4.0
}
fn default_deesser_max_reduction_db() -> f64 {
    8.0
}
fn default_deesser_attack_ms() -> f64 {
    1.0
}
fn default_deesser_release_ms() -> f64 {
    60.0
}

/// A reverb stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverbSpec {
    /// Decay time (RT60), s.
    pub decay_s: f64,
    /// Pre-delay, ms.
    #[serde(default)]
    pub predelay_ms: f64,
    /// Highs decay twice as fast above this frequency, Hz (0 = no damping).
    #[serde(default = "default_reverb_damping_hz")]
    pub damping_hz: f64,
    /// Wet share: 1 (fully wet) on a send bus, less as an insert.
    #[serde(default = "default_wet_mix")]
    pub mix: f64,
}

fn default_reverb_damping_hz() -> f64 {
    6000.0
}
fn default_wet_mix() -> f64 {
    1.0
}

/// A delay (echo) stage: `time_ms` or `note` (with a tempo), not both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelaySpec {
    /// Time between repeats, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<f64>,
    /// Tempo-synced time between repeats: "1/4", "1/8.", "1/8t", "3/16"…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Tempo for `note`, beats (quarter notes) per minute; `[mix].tempo_bpm` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tempo_bpm: Option<f64>,
    /// Level of each repeat relative to the previous one, 0 ≤ feedback < 1.
    #[serde(default = "default_delay_feedback")]
    pub feedback: f64,
    /// Wet share: 1 (echoes only) on a send bus.
    #[serde(default = "default_wet_mix")]
    pub mix: f64,
    /// Repeats alternate left and right.
    #[serde(default)]
    pub ping_pong: bool,
    /// Low-pass inside the feedback loop, Hz: each repeat is darker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highcut_hz: Option<f64>,
}

fn default_delay_feedback() -> f64 {
    0.35
}

impl ProcessorSpec {
    /// The `type` tag of this stage as written in a session file.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Highpass { .. } => "highpass",
            Self::Lowpass { .. } => "lowpass",
            Self::Eq { .. } => "eq",
            Self::Compressor(_) => "compressor",
            Self::MultibandCompressor { .. } => "multiband_compressor",
            Self::StereoWidth { .. } => "stereo_width",
            Self::Saturation { .. } => "saturation",
            Self::Gain { .. } => "gain",
            Self::Limiter { .. } => "limiter",
            Self::Gate(_) => "gate",
            Self::DeEsser(_) => "de_esser",
            Self::Reverb(_) => "reverb",
            Self::Delay(_) => "delay",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_through_json_with_a_type_tag() {
        let chain = vec![
            ProcessorSpec::Highpass {
                freq: 30.0,
                slope_db_per_oct: 12,
            },
            ProcessorSpec::Eq {
                bands: vec![EqBand {
                    kind: EqBandKind::Bell,
                    freq: 3000.0,
                    gain_db: 1.5,
                    q: 1.0,
                }],
                part: StereoPart::Mid,
            },
            ProcessorSpec::Compressor(CompressorSpec::from_band(CompressorBand {
                threshold_db: -20.0,
                ratio: 4.0,
                knee_db: 6.0,
                attack_ms: 7.5,
                release_ms: 400.0,
                makeup_db: 0.0,
            })),
        ];
        let json = serde_json::to_string(&chain).unwrap();
        assert!(json.contains(r#""type":"highpass""#), "{json}");
        assert!(
            json.contains(r#""type":"compressor","threshold_db":-20.0"#),
            "{json}"
        );
        let back: Vec<ProcessorSpec> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, chain);
        for unknown in [
            r#"{"type":"gain","gain_db":1.0,"colour":"red"}"#,
            r#"{"type":"compressor","threshold_db":-20,"ratio":2,"attack_ms":1,"release_ms":50,"colour":"red"}"#,
            r#"{"type":"reverb","decay_s":1.5,"colour":"red"}"#,
        ] {
            assert!(
                serde_json::from_str::<ProcessorSpec>(unknown).is_err(),
                "{unknown}"
            );
        }
        let gate: ProcessorSpec =
            serde_json::from_str(r#"{"type":"gate","threshold_db":-50}"#).unwrap();
        assert_eq!(
            gate,
            ProcessorSpec::Gate(GateSpec {
                threshold_db: -50.0,
                ratio: None,
                range_db: 80.0,
                attack_ms: 1.0,
                hold_ms: 50.0,
                release_ms: 100.0,
            })
        );
    }
}
