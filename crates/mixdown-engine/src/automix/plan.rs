//! The decisions of a good engineer's starting mix, per class: loudness relative to
//! the mix, pan, high-pass, compression, reverb send; and the unmasking cuts between
//! stems that compete for the same band.

use super::classify::Classification;
use mixdown_analysis::StemFeatures;
use mixdown_session::{
    CompressorSpec, DetectorKind, EqBand, EqBandKind, InstrumentClass, ProcessorSpec, Send, Track,
};
use serde::Serialize;

/// How a class is treated.
#[derive(Debug, Clone, Copy)]
pub struct ClassProfile {
    /// Loudness relative to the whole mix, LU: the middle of the ranges in the mixing
    /// literature (Diff-MST knowledge base, FxNorm; see DESIGN's reference numbers).
    pub relative_lu: f64,
    /// High-pass corner, Hz.
    pub highpass_hz: f64,
    /// Kept in the centre.
    pub centred: bool,
    /// How far from the centre a non-centred part goes, 0…1.
    pub pan_spread: f64,
    /// Compression style.
    pub dynamics: Dynamics,
    /// Reverb send, dB; `None` keeps the part dry.
    pub send_db: Option<f64>,
    /// Who wins a masking conflict: higher is more important.
    pub priority: u8,
}

/// Per-class compression (FxNorm's settings: attack/release and ratio), with the
/// threshold placed `depth_db` under the stem's own 90th-percentile level.
#[derive(Debug, Clone, Copy)]
pub struct Dynamics {
    /// Ratio.
    pub ratio: f64,
    /// Attack, ms.
    pub attack_ms: f64,
    /// Release, ms.
    pub release_ms: f64,
    /// Threshold below the 90th percentile of the stem's 10 ms levels, dB.
    pub depth_db: f64,
}

const VOCAL: Dynamics = Dynamics {
    ratio: 4.0,
    attack_ms: 7.5,
    release_ms: 400.0,
    depth_db: 6.0,
};
const DRUMS: Dynamics = Dynamics {
    ratio: 6.0,
    attack_ms: 10.0,
    release_ms: 180.0,
    depth_db: 4.0,
};
const BASS: Dynamics = Dynamics {
    ratio: 5.0,
    attack_ms: 10.0,
    release_ms: 500.0,
    depth_db: 5.0,
};
const OTHER: Dynamics = Dynamics {
    ratio: 4.0,
    attack_ms: 15.0,
    release_ms: 666.0,
    depth_db: 3.0,
};

/// The profile of `class`.
pub fn profile(class: InstrumentClass) -> ClassProfile {
    use InstrumentClass::*;
    let p =
        |relative_lu, highpass_hz, centred, pan_spread, dynamics, send_db, priority| ClassProfile {
            relative_lu,
            highpass_hz,
            centred,
            pan_spread,
            dynamics,
            send_db,
            priority,
        };
    match class {
        LeadVocal => p(-7.5, 80.0, true, 0.0, VOCAL, Some(-14.0), 9),
        LeadSynth => p(-8.5, 120.0, true, 0.0, OTHER, Some(-18.0), 8),
        Bass => p(-10.0, 30.0, true, 0.0, BASS, None, 7),
        Kick => p(-12.0, 30.0, true, 0.0, DRUMS, None, 7),
        Snare => p(-10.5, 100.0, true, 0.0, DRUMS, Some(-16.0), 6),
        Drums => p(-8.5, 30.0, true, 0.0, DRUMS, Some(-22.0), 6),
        Hats => p(-11.5, 300.0, false, 0.25, OTHER, None, 3),
        Cymbals => p(-14.0, 300.0, false, 0.5, OTHER, Some(-22.0), 2),
        Toms => p(-13.0, 60.0, false, 0.4, DRUMS, Some(-20.0), 4),
        Percussion => p(-14.0, 150.0, false, 0.45, OTHER, Some(-20.0), 3),
        BackingVocal => p(-12.0, 120.0, false, 0.5, VOCAL, Some(-14.0), 5),
        Guitar => p(-10.0, 100.0, false, 0.55, OTHER, Some(-18.0), 5),
        Keys => p(-11.5, 150.0, false, 0.4, OTHER, Some(-16.0), 4),
        Piano => p(-11.0, 80.0, false, 0.3, OTHER, Some(-16.0), 5),
        Pads => p(-13.0, 200.0, false, 0.5, OTHER, Some(-14.0), 2),
        Strings => p(-12.0, 150.0, false, 0.5, OTHER, Some(-14.0), 3),
        Brass => p(-12.0, 150.0, false, 0.4, OTHER, Some(-18.0), 4),
        Fx => p(-16.0, 150.0, false, 0.4, OTHER, Some(-16.0), 1),
        Other => p(-12.0, 60.0, false, 0.35, OTHER, Some(-18.0), 2),
    }
}

/// One stem going into the plan.
#[derive(Debug, Clone)]
pub struct StemInput {
    /// Track name (from the file name).
    pub name: String,
    /// File as written into the session.
    pub file: std::path::PathBuf,
    /// Its features.
    pub features: StemFeatures,
    /// Its class.
    pub classification: Classification,
}

/// Why a decision was taken, one line each.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reasons(pub Vec<String>);

/// The planned treatment of one stem.
#[derive(Debug, Clone)]
pub struct StemPlan {
    /// The track as it goes into the session.
    pub track: Track,
    /// Target loudness relative to the mix, LU.
    pub relative_lu: f64,
    /// Why.
    pub reasons: Reasons,
}

/// A pan magnitude and side for each stem: centred classes in the middle, pairs
/// (same name but for L/R or 1/2) opposite each other, the rest placed one by one,
/// loudest first, on the side carrying less power so far.
pub fn pans(stems: &[StemInput]) -> Vec<(f64, String)> {
    let mut pans: Vec<Option<(f64, String)>> = vec![None; stems.len()];
    let mut power = [0.0f64; 2];
    let stem_power = |s: &StemInput| {
        s.features
            .active_loudness_lufs
            .map_or(0.0, |l| 10f64.powf(l / 10.0))
    };
    for (i, stem) in stems.iter().enumerate() {
        if profile(stem.classification.class).centred {
            pans[i] = Some((0.0, "centre: a foundation of the mix".into()));
        }
    }
    // Pairs: names that differ only in a side or take word.
    for i in 0..stems.len() {
        for j in i + 1..stems.len() {
            if pans[i].is_some() || pans[j].is_some() {
                continue;
            }
            if let Some(first_left) = pair_order(&stems[i].name, &stems[j].name) {
                let spread = profile(stems[i].classification.class).pan_spread.max(0.5);
                let (left, right) = if first_left { (i, j) } else { (j, i) };
                pans[left] = Some((
                    -spread,
                    format!("left of its pair with {}", stems[right].name),
                ));
                pans[right] = Some((
                    spread,
                    format!("right of its pair with {}", stems[left].name),
                ));
            }
        }
    }
    let add_power = |power: &mut [f64; 2], stem: &StemInput, pan: f64| {
        let gains = mixdown_dsp::stereo::PanLaw::Minus3Db.gains(pan);
        for (p, g) in power.iter_mut().zip(gains) {
            *p += stem_power(stem) * g * g;
        }
    };
    for (stem, placed) in stems.iter().zip(&pans) {
        if let Some((pan, _)) = placed {
            add_power(&mut power, stem, *pan);
        }
    }
    let mut order: Vec<usize> = (0..stems.len()).filter(|&i| pans[i].is_none()).collect();
    order.sort_by(|&a, &b| stem_power(&stems[b]).total_cmp(&stem_power(&stems[a])));
    for i in order {
        let mut spread = profile(stems[i].classification.class).pan_spread;
        if stems[i].features.channel_count == 2 {
            // A stereo stem already has its own image: a balance nudge is enough.
            spread *= 0.5;
        }
        let pan = if power[0] <= power[1] {
            -spread
        } else {
            spread
        };
        add_power(&mut power, &stems[i], pan);
        pans[i] = Some((pan, "to the side with less energy so far".into()));
    }
    pans.into_iter()
        .map(|p| p.unwrap_or((0.0, String::new())))
        .collect()
}

/// Whether two names form a pair (`Gtr L`/`Gtr R`, `gtr1`/`gtr2`): `Some(true)` when the
/// first is the left one.
fn pair_order(a: &str, b: &str) -> Option<bool> {
    use super::classify::name_words;
    let (wa, wb) = (name_words(a), name_words(b));
    if wa.len() != wb.len() || wa.is_empty() {
        return None;
    }
    let differing: Vec<usize> = (0..wa.len()).filter(|&k| wa[k] != wb[k]).collect();
    let [k] = differing[..] else {
        return None;
    };
    let side = |w: &str| match w {
        "l" | "left" | "1" | "a" => Some(0),
        "r" | "right" | "2" | "b" => Some(1),
        _ => None,
    };
    match (side(&wa[k]), side(&wb[k])) {
        (Some(x), Some(y)) if x != y => Some(x < y),
        _ => None,
    }
}

/// The compressor for a stem of this class, its threshold from the stem's own levels.
pub fn compressor(stem: &StemInput) -> Option<(CompressorSpec, String)> {
    let [_, p90, _] = stem.features.level_percentiles_db?;
    let dynamics = profile(stem.classification.class).dynamics;
    let threshold_db = ((p90 - dynamics.depth_db) * 10.0).round() / 10.0;
    Some((
        CompressorSpec {
            threshold_db,
            ratio: dynamics.ratio,
            knee_db: 6.0,
            attack_ms: dynamics.attack_ms,
            release_ms: dynamics.release_ms,
            makeup_db: 0.0,
            detector: DetectorKind::Rms,
            sidechain: None,
        },
        format!(
            "threshold {threshold_db:.1} dB, {:.1} dB under the stem's 90th-percentile level; {}:1, {}/{} ms for its class",
            dynamics.depth_db, dynamics.ratio, dynamics.attack_ms, dynamics.release_ms
        ),
    ))
}

/// Most an unmasking cut takes, dB.
pub const MAX_UNMASK_CUT_DB: f64 = 4.0;

/// Pairs that compete, (more important, less important) by class.
fn competes(important: InstrumentClass, other: InstrumentClass) -> Option<(f64, f64)> {
    use InstrumentClass::*;
    // The band range where the competition matters, Hz.
    match (important, other) {
        (Kick, Bass) => Some((40.0, 120.0)),
        (LeadVocal, Guitar | Keys | Piano | Pads | Strings | Brass | BackingVocal | LeadSynth) => {
            Some((800.0, 5_000.0))
        }
        (LeadSynth, Guitar | Keys | Piano | Pads | Strings) => Some((800.0, 5_000.0)),
        _ => None,
    }
}

/// A broad cut in the less important stem of a competing pair, where both have most
/// of their energy: the 1/3-octave band in the pair's range where the weaker of the
/// two spectra (each relative to its own loudness) is strongest.
pub fn unmasking_cut(important: &StemInput, other: &StemInput) -> Option<(EqBand, String)> {
    let (lo_hz, hi_hz) = competes(important.classification.class, other.classification.class)?;
    let relative = |s: &StemInput| -> Vec<Option<f64>> {
        let loudness = s.features.active_loudness_lufs;
        s.features
            .spectrum
            .bands
            .iter()
            .map(|b| Some(b.level_db? - loudness?))
            .collect()
    };
    let (a, b) = (relative(important), relative(other));
    let bands = &important.features.spectrum.bands;
    let (index, overlap_db) = bands
        .iter()
        .enumerate()
        .filter(|(_, band)| (lo_hz..=hi_hz).contains(&band.center_hz))
        .filter_map(|(i, _)| Some((i, a.get(i).copied()??.min(b.get(i).copied()??))))
        .max_by(|x, y| x.1.total_cmp(&y.1))?;
    // A 1/3-octave band holding a real share of both stems' power sits 10–20 dB under
    // their loudness: the stronger the weaker of the two, the deeper the cut (full depth
    // from −10 dB, none below −22 dB).
    let cut_db = ((overlap_db + 22.0) / 3.0).clamp(0.0, MAX_UNMASK_CUT_DB);
    if cut_db < 1.0 {
        return None;
    }
    let cut_db = (cut_db * 10.0).round() / 10.0;
    let freq = bands[index].nominal_hz;
    Some((
        EqBand {
            kind: EqBandKind::Bell,
            freq,
            gain_db: -cut_db,
            q: 1.0,
        },
        format!(
            "−{cut_db:.1} dB at {freq} Hz (Q 1): makes room for {} where both are strong",
            important.name
        ),
    ))
}

/// The processing chain of one stem: high-pass, unmasking cuts, compressor.
pub fn chain(
    stem: &StemInput,
    cuts: &[EqBand],
    compressor: Option<CompressorSpec>,
) -> Vec<ProcessorSpec> {
    let mut chain = vec![ProcessorSpec::Highpass {
        freq: profile(stem.classification.class).highpass_hz,
        slope_db_per_oct: 12,
    }];
    if !cuts.is_empty() {
        chain.push(ProcessorSpec::Eq {
            bands: cuts.to_vec(),
            part: mixdown_session::StereoPart::Stereo,
        });
    }
    if let Some(compressor) = compressor {
        chain.push(ProcessorSpec::Compressor(compressor));
    }
    chain
}

/// The reverb send of a stem of this class.
pub fn reverb_send(class: InstrumentClass, bus: &str) -> Option<Send> {
    profile(class).send_db.map(|level_db| Send {
        bus: bus.to_string(),
        level_db,
        pre_fader: false,
    })
}
