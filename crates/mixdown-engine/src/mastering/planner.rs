//! From measurements to decisions: every stage's settings, chosen from the
//! programme's own profile (and the references', when given), each with a one-line
//! reason for the report.

use super::presets::Preset;
use super::profile::{ProgrammeProfile, LOW_END_HZ, MULTIBAND_CROSSOVERS_HZ};
use super::tonal::{
    broad_layout, default_target_db, fit_eq, matching_layout, relative_levels_db, smooth,
};
use mixdown_analysis::spectrum::third_octave_centers_hz;
use mixdown_dsp::units::db_to_gain;
use mixdown_session::{
    CompressorBand, CompressorSpec, EqBand, EqBandKind, ProcessorSpec, StereoPart,
};
use serde::Serialize;

/// Largest EQ move toward the default target, dB: gentle, as a generic target deserves.
pub const DEFAULT_MAX_EQ_GAIN_DB: f64 = 3.0;
/// Largest EQ move when matching a reference, dB: the user asked for that sound.
pub const MATCH_MAX_EQ_GAIN_DB: f64 = 12.0;

/// Which dimensions of the references to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MatchDimensions {
    /// Long-term spectrum (mid and side).
    pub tone: bool,
    /// Integrated loudness (instead of the preset's target).
    pub loudness: bool,
    /// Side-to-mid balance.
    pub width: bool,
    /// Peak-to-loudness ratio (density).
    pub dynamics: bool,
}

impl MatchDimensions {
    /// Every dimension.
    pub const ALL: Self = Self {
        tone: true,
        loudness: true,
        width: true,
        dynamics: true,
    };
}

/// Stages the user may switch off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StageSwitches {
    /// DC removal and subsonic high-pass.
    pub highpass: bool,
    /// Tonal balance EQ.
    pub eq: bool,
    /// Multiband dynamics (and the leveler for narrow-range presets).
    pub dynamics: bool,
    /// Stereo image (mono bass, width).
    pub stereo: bool,
    /// The loudness gain (off: the level stays as it is, the target is ignored).
    pub loudness: bool,
    /// The true-peak limiter (off: peaks are not controlled).
    pub limiter: bool,
}

impl StageSwitches {
    /// Every stage on.
    pub const ALL: Self = Self {
        highpass: true,
        eq: true,
        dynamics: true,
        stereo: true,
        loudness: true,
        limiter: true,
    };
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MasteringRequest {
    /// Preset name the targets come from (or `custom`).
    pub preset: String,
    /// Integrated loudness target, LUFS.
    pub target_lufs: f64,
    /// True-peak ceiling, dBTP.
    pub ceiling_dbtp: f64,
    /// Widest loudness range wanted, LU.
    pub max_loudness_range_lu: Option<f64>,
    /// 0 = level-matched bypass, 1 = full moves.
    pub amount: f64,
    /// Dimensions matched to the references.
    pub match_dimensions: MatchDimensions,
    /// Stage switches.
    pub stages: StageSwitches,
    /// Soft saturation drive, dB; `None` leaves the stage out (the default: it
    /// colours the sound, so it is asked for, not assumed).
    pub saturation_drive_db: Option<f64>,
    /// Largest gain of any EQ band, dB; `None`: [`DEFAULT_MAX_EQ_GAIN_DB`] toward the
    /// default target, [`MATCH_MAX_EQ_GAIN_DB`] when matching a reference.
    pub max_eq_gain_db: Option<f64>,
}

impl MasteringRequest {
    /// The request a preset makes on its own: its targets, every stage, full amount,
    /// no reference, no saturation.
    pub fn for_preset(preset: &Preset) -> Self {
        Self {
            preset: preset.name.into(),
            target_lufs: preset.target_lufs,
            ceiling_dbtp: preset.ceiling_dbtp,
            max_loudness_range_lu: preset.max_loudness_range_lu,
            amount: 1.0,
            match_dimensions: MatchDimensions::ALL,
            stages: StageSwitches::ALL,
            saturation_drive_db: None,
            max_eq_gain_db: None,
        }
    }
}

/// A decision and why it was taken.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Stage name.
    pub stage: &'static str,
    /// What was decided and why, one line.
    pub reason: String,
}

/// The chain the planner chose, before the loudness gain and limiter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MasteringPlan {
    /// Processors ahead of the loudness stage, in order.
    pub pre_limiter: Vec<ProcessorSpec>,
    /// Integrated loudness the output must reach, LUFS.
    pub target_lufs: f64,
    /// Ceiling, dBTP.
    pub ceiling_dbtp: f64,
    /// Why each stage is set as it is.
    pub decisions: Vec<Decision>,
}

/// Averages of the references' profiles, the target of matching.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceTarget {
    /// Mid spectrum relative to loudness, per band.
    pub mid_relative_db: Vec<Option<f64>>,
    /// Side spectrum relative to the same loudness, per band.
    pub side_relative_db: Vec<Option<f64>>,
    /// Integrated loudness, LUFS.
    pub integrated_lufs: f64,
    /// Side-to-mid ratio, dB.
    pub side_to_mid_db: Option<f64>,
    /// Peak-to-loudness ratio, dB.
    pub plr_db: Option<f64>,
}

/// Averages reference profiles (dB-domain mean per band).
pub fn reference_target(references: &[ProgrammeProfile]) -> Option<ReferenceTarget> {
    let loudness: Vec<f64> = references
        .iter()
        .filter_map(|r| r.metrics.integrated_lufs)
        .collect();
    if loudness.len() != references.len() || references.is_empty() {
        return None;
    }
    let mean = |values: Vec<f64>| {
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let mean_curve = |curves: Vec<Vec<Option<f64>>>| -> Vec<Option<f64>> {
        (0..31)
            .map(|i| {
                mean(
                    curves
                        .iter()
                        .filter_map(|c| c.get(i).copied().flatten())
                        .collect(),
                )
            })
            .collect()
    };
    let mid = references
        .iter()
        .zip(&loudness)
        .map(|(r, &l)| relative_levels_db(&r.metrics.spectrum, l))
        .collect();
    let side = references
        .iter()
        .zip(&loudness)
        .filter_map(|(r, &l)| r.side_spectrum.as_ref().map(|s| relative_levels_db(s, l)))
        .collect();
    Some(ReferenceTarget {
        mid_relative_db: without_band_limited_top(mean_curve(mid)),
        side_relative_db: without_band_limited_top(mean_curve(side)),
        integrated_lufs: mean(loudness).unwrap_or(-14.0),
        side_to_mid_db: mean(references.iter().filter_map(|r| r.side_to_mid_db).collect()),
        plr_db: mean(references.iter().filter_map(|r| r.metrics.plr_db).collect()),
    })
}

/// Drops the top bands of a reference that was band-limited by lossy coding (an
/// MP3's 16 kHz low-pass): above 10 kHz, a band more than 20 dB under its lower
/// neighbour marks the cut, and that band and all above it are left unmatched —
/// copying a codec's missing octave would only dull the master.
fn without_band_limited_top(mut curve: Vec<Option<f64>>) -> Vec<Option<f64>> {
    let centres: Vec<f64> = third_octave_centers_hz().collect();
    let cut = (1..curve.len()).find(|&i| {
        centres[i] > 10_000.0
            && matches!((curve[i - 1], curve[i]), (Some(below), Some(here)) if here < below - 20.0)
    });
    if let Some(cut) = cut {
        curve[cut..].iter_mut().for_each(|v| *v = None);
    }
    curve
}

/// Chooses the chain for `input` (and `reference`, when given).
pub fn plan(
    input: &ProgrammeProfile,
    reference: Option<&ReferenceTarget>,
    request: &MasteringRequest,
) -> MasteringPlan {
    let amount = request.amount.clamp(0.0, 1.0);
    let rate = f64::from(input.metrics.sample_rate_hz);
    let stereo = input.metrics.channels == 2;
    let mut chain = Vec::new();
    let mut decisions = Vec::new();
    let mut decide =
        |stage: &'static str, reason: String| decisions.push(Decision { stage, reason });

    // 1. DC and subsonics: content below ~25 Hz costs headroom and no one hears it.
    if request.stages.highpass && amount > 0.0 {
        chain.push(ProcessorSpec::Highpass {
            freq: 25.0,
            slope_db_per_oct: 12,
        });
        decide(
            "highpass",
            "25 Hz 12 dB/oct high-pass removes DC and subsonic rumble".into(),
        );
    }

    // 2. Tonal balance.
    let centres: Vec<f64> = third_octave_centers_hz().collect();
    if request.stages.eq && amount > 0.0 {
        if let Some(input_lufs) = input.metrics.integrated_lufs {
            let input_mid = relative_levels_db(&input.metrics.spectrum, input_lufs);
            let matching = reference.filter(|_| request.match_dimensions.tone);
            let (target_mid, strength, layout, source) = match matching {
                Some(r) => (
                    r.mid_relative_db.clone(),
                    1.0,
                    matching_layout(),
                    "the reference",
                ),
                None => (
                    default_target_db(&centres),
                    0.5,
                    broad_layout(),
                    "the default target (well-mastered music)",
                ),
            };
            let default_cap = if matching.is_some() {
                MATCH_MAX_EQ_GAIN_DB
            } else {
                DEFAULT_MAX_EQ_GAIN_DB
            };
            let max_gain_db = request.max_eq_gain_db.unwrap_or(default_cap) * amount;
            let smoothing = if matching.is_some() { 0 } else { 1 };
            let wanted = wanted_change(&target_mid, &input_mid, strength * amount, smoothing);
            let bands = fit_eq(&centres, &wanted, &layout, max_gain_db, rate);
            let part = if stereo {
                StereoPart::Mid
            } else {
                StereoPart::Stereo
            };
            decide("eq", describe_eq(&bands, part, source));
            if !bands.is_empty() {
                chain.push(ProcessorSpec::Eq { bands, part });
            }
            if let (Some(r), Some(side)) = (matching, input.side_spectrum.as_ref()) {
                let input_side = relative_levels_db(side, input_lufs);
                let wanted_side = wanted_change(&r.side_relative_db, &input_side, amount, 0);
                let side_bands = fit_eq(
                    &centres,
                    &wanted_side,
                    &matching_layout(),
                    max_gain_db,
                    rate,
                );
                decide("eq", describe_eq(&side_bands, StereoPart::Side, source));
                if !side_bands.is_empty() {
                    chain.push(ProcessorSpec::Eq {
                        bands: side_bands,
                        part: StereoPart::Side,
                    });
                }
            }
        } else {
            decide("eq", "no EQ: the programme is silent".into());
        }
    }

    // 3. Dynamics.
    if request.stages.dynamics && amount > 0.0 {
        let density = reference
            .filter(|_| request.match_dimensions.dynamics)
            .and_then(|r| Some((input.metrics.plr_db?, r.plr_db?)));
        // Base ratio 1.5:1: glue, not squash. Matching a denser reference raises it by
        // 0.25 per dB of peak-to-loudness ratio to lose, up to 3:1.
        let base_ratio = match density {
            Some((input_plr, reference_plr)) => {
                (1.5 + 0.25 * (input_plr - reference_plr)).clamp(1.0, 3.0)
            }
            None => 1.5,
        };
        let ratio = 1.0 + (base_ratio - 1.0) * amount;
        // At low sample rates the upper crossovers would sit at or above Nyquist:
        // keep those comfortably below it (their bands merge into the top band).
        let crossovers_hz: Vec<f64> = MULTIBAND_CROSSOVERS_HZ
            .iter()
            .copied()
            .filter(|&f| f < 0.4 * rate)
            .collect();
        let timings = [(30.0, 250.0), (15.0, 150.0), (8.0, 100.0), (4.0, 80.0)];
        let bands: Vec<CompressorBand> = timings[..=crossovers_hz.len()]
            .iter()
            .enumerate()
            .map(|(band, &(attack_ms, release_ms))| CompressorBand {
                // The loudest fifth of the programme's own blocks: compress its peaks of
                // density, leave the rest of the performance alone.
                threshold_db: input
                    .band_level_percentile_db(band, 80.0)
                    .map_or(0.0, round_tenth),
                ratio: round_tenth(ratio),
                knee_db: 6.0,
                attack_ms,
                release_ms,
                makeup_db: 0.0,
            })
            .collect();
        decide(
            "dynamics",
            format!(
                "{}-band compression at {:.1}:1 above each band's 80th-percentile level{}",
                crossovers_hz.len() + 1,
                ratio,
                density.map_or(String::new(), |(i, r)| format!(
                    " (PLR {i:.1} dB → reference {r:.1} dB)"
                ))
            ),
        );
        chain.push(ProcessorSpec::MultibandCompressor {
            crossovers_hz,
            bands,
        });
        if let (Some(max_lra), Some(lra), Some(lufs)) = (
            request.max_loudness_range_lu,
            input.metrics.loudness_range_lu,
            input.metrics.integrated_lufs,
        ) {
            if lra > max_lra {
                // A slow leveler narrows the range: ratio ≈ wanted compression of the range.
                let ratio =
                    round_tenth((1.0 + (lra / max_lra - 1.0) * 1.5 * amount).clamp(1.0, 4.0));
                chain.push(ProcessorSpec::Compressor(CompressorSpec::from_band(
                    CompressorBand {
                        threshold_db: round_tenth(lufs - 4.0),
                        ratio,
                        knee_db: 10.0,
                        attack_ms: 300.0,
                        release_ms: 2_500.0,
                        makeup_db: 0.0,
                    },
                )));
                decide(
                    "leveler",
                    format!("loudness range {lra:.1} LU exceeds {max_lra:.0} LU: slow {ratio:.1}:1 leveler"),
                );
            }
        }
    }

    // 4. Stereo.
    if request.stages.stereo && stereo && amount > 0.0 {
        // Side energy in the lows within 12 dB of the mid means wide or out-of-phase
        // bass: it wastes headroom and vanishes in mono, so make it mono.
        let mono_below_hz = input
            .low_side_to_mid_db
            .filter(|&ratio| ratio > -12.0)
            .map(|_| LOW_END_HZ);
        let width_match = reference
            .filter(|_| request.match_dimensions.width)
            .and_then(|r| Some((input.side_to_mid_db?, r.side_to_mid_db?)));
        let width = match width_match {
            Some((input_ratio, reference_ratio)) => {
                let wanted = db_to_gain(reference_ratio - input_ratio).clamp(0.5, 1.5);
                let safe = safe_width(input_ratio, wanted);
                round_hundredth(1.0 + (safe - 1.0) * amount)
            }
            None => 1.0,
        };
        if mono_below_hz.is_some() || width != 1.0 {
            chain.push(ProcessorSpec::StereoWidth {
                width,
                mono_below_hz,
            });
        }
        decide(
            "stereo",
            format!(
                "{}; width {width:.2}{}",
                match (mono_below_hz, input.low_side_to_mid_db) {
                    (Some(f), Some(r)) => format!(
                        "low end made mono below {f:.0} Hz (side only {:.1} dB under mid)",
                        -r
                    ),
                    (None, Some(r)) =>
                        format!("low end already narrow (side {:.1} dB under mid)", -r),
                    _ => "low end left as is".into(),
                },
                width_match.map_or(String::new(), |(i, r)| format!(
                    " (side/mid {i:.1} dB → reference {r:.1} dB)"
                ))
            ),
        );
    }

    // 5. Saturation, only when asked for: density and harmonics are a taste.
    if let Some(drive_db) = request
        .saturation_drive_db
        .filter(|&d| d > 0.0 && amount > 0.0)
    {
        let drive_db = round_tenth(drive_db * amount);
        chain.push(ProcessorSpec::Saturation { drive_db, mix: 1.0 });
        decide(
            "saturation",
            format!("soft saturation at {drive_db:.1} dB drive, 4x oversampled"),
        );
    }

    // 7. Loudness target.
    let (target_lufs, loudness_source) =
        match reference.filter(|_| request.match_dimensions.loudness) {
            Some(r) => (
                round_tenth(r.integrated_lufs),
                "the reference's loudness".to_string(),
            ),
            None => (request.target_lufs, format!("preset {}", request.preset)),
        };
    decide(
        "loudness",
        format!(
            "target {target_lufs:.1} LUFS from {loudness_source}, ceiling {:.1} dBTP",
            request.ceiling_dbtp
        ),
    );
    MasteringPlan {
        pre_limiter: chain,
        target_lufs,
        ceiling_dbtp: request.ceiling_dbtp,
        decisions,
    }
}

/// The per-band change that moves `current` toward `target`, scaled by `strength`,
/// with the mean offset removed (the loudness stage sets level) and smoothed over
/// `radius` bands each side.
fn wanted_change(
    target: &[Option<f64>],
    current: &[Option<f64>],
    strength: f64,
    radius: usize,
) -> Vec<Option<f64>> {
    let raw: Vec<Option<f64>> = target
        .iter()
        .zip(current)
        .map(|(t, c)| Some(t.as_ref()? - c.as_ref()?))
        .collect();
    let smoothed = smooth(&raw, radius);
    let centres: Vec<f64> = third_octave_centers_hz().collect();
    let inside: Vec<f64> = smoothed
        .iter()
        .zip(&centres)
        .filter(|(_, &f)| {
            (super::tonal::COMPARE_LOW_HZ..=super::tonal::COMPARE_HIGH_HZ).contains(&f)
        })
        .filter_map(|(v, _)| *v)
        .collect();
    let mean = if inside.is_empty() {
        0.0
    } else {
        inside.iter().sum::<f64>() / inside.len() as f64
    };
    smoothed
        .iter()
        .map(|v| v.map(|d| (d - mean) * strength))
        .collect()
}

/// The widest factor up to `wanted` that keeps the mono fold-down meaningful: the
/// correlation estimate (M² − S²)/(M² + S²) must stay at or above 0.2.
fn safe_width(side_to_mid_db: f64, wanted: f64) -> f64 {
    let side_to_mid = 10f64.powf(side_to_mid_db / 10.0);
    // (1 − w²r)/(1 + w²r) ≥ 0.2  ⇔  w² ≤ (1 − 0.2) / (1.2 · r)
    let max_width = ((0.8 / (1.2 * side_to_mid)).sqrt()).max(1.0);
    wanted.min(max_width)
}

fn describe_eq(bands: &[EqBand], part: StereoPart, source: &str) -> String {
    let part = match part {
        StereoPart::Stereo => "stereo",
        StereoPart::Mid => "mid",
        StereoPart::Side => "side",
    };
    if bands.is_empty() {
        return format!("{part} EQ: no move needed toward {source}");
    }
    let moves: Vec<String> = bands
        .iter()
        .map(|b| {
            let kind = match b.kind {
                EqBandKind::Bell => "bell",
                EqBandKind::LowShelf => "low shelf",
                EqBandKind::HighShelf => "high shelf",
                EqBandKind::Notch => "notch",
            };
            format!("{kind} {:.0} Hz {:+.1} dB", b.freq, b.gain_db)
        })
        .collect();
    format!("{part} EQ toward {source}: {}", moves.join(", "))
}

fn round_tenth(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn round_hundredth(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn correlation_estimate(side_to_mid_db: f64) -> f64 {
        let r = 10f64.powf(side_to_mid_db / 10.0);
        (1.0 - r) / (1.0 + r)
    }

    #[test]
    fn a_codec_low_pass_in_the_reference_is_not_matched() {
        let mut curve: Vec<Option<f64>> =
            (0..31).map(|i| Some(-20.0 - f64::from(i) * 0.5)).collect();
        curve[29] = Some(-70.0);
        let cleaned = without_band_limited_top(curve.clone());
        assert_eq!(cleaned[..29], curve[..29]);
        assert!(cleaned[29..].iter().all(Option::is_none));
        let smooth: Vec<Option<f64>> = (0..31).map(|i| Some(-20.0 - f64::from(i))).collect();
        assert_eq!(without_band_limited_top(smooth.clone()), smooth);
    }

    #[test]
    fn width_never_pushes_correlation_below_the_floor() {
        for ratio_db in [-20.0, -10.0, -5.0, -2.0, 0.0] {
            let w = safe_width(ratio_db, 1.5);
            let after = correlation_estimate(ratio_db + 2.0 * 10.0 * w.log10());
            assert!(
                after >= 0.2 - 1e-9 || w == 1.0,
                "{ratio_db} dB: width {w} gives {after}"
            );
        }
        assert_eq!(safe_width(-20.0, 1.3), 1.3);
    }
}
