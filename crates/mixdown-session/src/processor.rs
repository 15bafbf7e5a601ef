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
    /// Broadband compressor.
    Compressor {
        /// Its settings.
        #[serde(flatten)]
        settings: CompressorBand,
    },
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
            ProcessorSpec::Compressor {
                settings: CompressorBand {
                    threshold_db: -20.0,
                    ratio: 4.0,
                    knee_db: 6.0,
                    attack_ms: 7.5,
                    release_ms: 400.0,
                    makeup_db: 0.0,
                },
            },
        ];
        let json = serde_json::to_string(&chain).unwrap();
        assert!(json.contains(r#""type":"highpass""#), "{json}");
        assert!(
            json.contains(r#""type":"compressor","threshold_db":-20.0"#),
            "{json}"
        );
        let back: Vec<ProcessorSpec> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, chain);
        let unknown = r#"{"type":"gain","gain_db":1.0,"colour":"red"}"#;
        assert!(serde_json::from_str::<ProcessorSpec>(unknown).is_err());
    }
}
