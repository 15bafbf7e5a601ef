//! Automix: stems in, a balanced and editable session out, rendered.
//!
//! 1. Every stem is decoded once and measured ([`StemAnalyzer`]): loudness where it
//!    plays, level distribution, spectrum, onsets, voicing and pitch.
//! 2. Each is classified (name first, sound otherwise: spectrum, onsets, voicing and
//!    pitch; [`classify::class_from_audio`]) and planned by class: target loudness
//!    relative to the mix, pan, high-pass, unmasking cuts, compression, reverb send
//!    ([`plan`]).
//! 3. The plan is rendered once with stems out; the loudness of each stem's actual
//!    contribution (after its compressor) sets the faders so the balance between
//!    stems is the target one, and the reverb return is set about 9 LU under the mix.
//! 4. A second render measures the peak; all faders move together so the mix peaks at
//!    −6 dBFS (headroom for mastering).
//! 5. The session is written and rendered by the same code `mixdown mix` uses.

pub mod classify;
pub mod plan;

use crate::mastering::{self, MasterReport};
use crate::mix::{
    load_session, master_float_mix, mix_session, Metering, MixError, MixJob, MixLoudness,
};
use classify::{classify, Classification};
use mixdown_analysis::{AnalysisError, StemAnalyzer, StemFeatures};
use mixdown_dsp::units::{db_to_gain, gain_to_db};
use mixdown_io::{AudioReader, AudioWriter, EncodeOptions, IoError, OutputFormat, Overwrite};
use mixdown_session::{
    Bus, CompressorSpec, DetectorKind, EqBand, InstrumentClass, Master, ProcessorSpec, Session,
    Track,
};
use plan::{StemInput, StemPlan};
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Name of the reverb bus automix creates.
pub const REVERB_BUS: &str = "reverb";
/// Where the mix's sample peak is put, dBFS: headroom for mastering.
pub const MIX_PEAK_DBFS: f64 = -6.0;
/// Reverb return loudness relative to the mix, LU.
pub const REVERB_RETURN_LU: f64 = -9.0;
/// The bass's sidechain threshold under the kick's 90th-percentile level, dB.
const DUCK_DEPTH_DB: f64 = 10.0;

/// Why automix could not run. Each message is one complete line.
#[derive(Debug, thiserror::Error)]
pub enum AutomixError {
    /// Nothing to mix.
    #[error("{0}")]
    NoStems(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Rendering failed.
    #[error(transparent)]
    Mix(#[from] MixError),
    /// A stem could not be measured.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// A request that cannot be met, or a work file that cannot be made.
    #[error("{0}")]
    Invalid(String),
}

/// What to produce.
#[derive(Debug, Clone)]
pub struct AutomixJob {
    /// The mix (`.wav` or `.flac`).
    pub output: PathBuf,
    /// Also write the session here.
    pub session: Option<PathBuf>,
    /// Also write each stem's processed contribution here.
    pub stems_dir: Option<PathBuf>,
    /// Master the mix with this preset.
    pub master_preset: Option<String>,
    /// Sample format of the mix.
    pub format: OutputFormat,
    /// Replace existing outputs?
    pub overwrite: Overwrite,
}

/// A file given as a stem that could not be used.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedFile {
    /// The file.
    pub file: PathBuf,
    /// Why.
    pub reason: String,
}

/// Every decision about one stem, with its reason.
#[derive(Debug, Clone, Serialize)]
pub struct StemReport {
    /// The stem file.
    pub file: PathBuf,
    /// Its track name in the session.
    pub name: String,
    /// Class, confidence and where it came from.
    pub classification: Classification,
    /// Loudness where the stem plays (gated), LUFS.
    pub active_loudness_lufs: Option<f64>,
    /// Share of the song where it plays.
    pub active_fraction: f64,
    /// Fader, dB.
    pub gain_db: f64,
    /// Pan (balance for a stereo stem).
    pub pan: f64,
    /// The processing chain, in the session's vocabulary.
    pub chain: Vec<ProcessorSpec>,
    /// Reverb send level, dB.
    pub reverb_send_db: Option<f64>,
    /// Muted (silent stems).
    pub muted: bool,
    /// Target loudness relative to the mix (class target), LU.
    pub target_relative_lu: f64,
    /// Loudness relative to the mix in a plain sum of the stems as given, LU
    /// (estimated from the stems' loudness, as a power sum).
    pub relative_lu_before: Option<f64>,
    /// Loudness of the stem's contribution relative to the automix, LU (measured).
    pub relative_lu_after: Option<f64>,
    /// One line per decision.
    pub reasons: Vec<String>,
}

/// What automix did.
#[derive(Debug, Clone, Serialize)]
pub struct AutomixReport {
    /// Per stem, in the order given.
    pub stems: Vec<StemReport>,
    /// Files that were not used.
    pub skipped: Vec<SkippedFile>,
    /// Reverb return relative to the mix, LU (measured).
    pub reverb_return_lu: Option<f64>,
    /// Integrated loudness of the unmastered mix, LUFS.
    pub mix_loudness_lufs: Option<f64>,
    /// Sample peak of the unmastered mix, dBFS.
    pub mix_peak_dbfs: Option<f64>,
    /// The master fader that sets the headroom, dB.
    pub master_gain_db: f64,
    /// The session written, if asked.
    pub session: Option<PathBuf>,
    /// The mastering report, with a preset.
    pub mastering: Option<MasterReport>,
    /// Warnings (skipped files, silent stems).
    pub warnings: Vec<String>,
}

/// The audio files among `inputs`: a single folder is listed (its files, sorted), files
/// are taken as given. Unusable files are skipped with their reason.
pub fn collect_stems(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<SkippedFile>), AutomixError> {
    let mut candidates = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| {
                    AutomixError::NoStems(format!(
                        "{}: cannot list the folder: {e}",
                        input.display()
                    ))
                })?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            candidates.extend(files);
        } else {
            candidates.push(input.clone());
        }
    }
    let mut stems = Vec::new();
    let mut skipped = Vec::new();
    for file in candidates {
        match AudioReader::open(&file) {
            Ok(reader) if reader.channel_count() <= 2 => stems.push(file),
            Ok(reader) => skipped.push(SkippedFile {
                reason: format!(
                    "{} channels; stems must be mono or stereo",
                    reader.channel_count()
                ),
                file,
            }),
            Err(error) => skipped.push(SkippedFile {
                file,
                reason: error.to_string(),
            }),
        }
    }
    if stems.is_empty() {
        let listed: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        return Err(AutomixError::NoStems(format!(
            "no audio stems in {}{}",
            listed.join(", "),
            if skipped.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} files skipped: not audio or unreadable)",
                    skipped.len()
                )
            }
        )));
    }
    Ok((stems, skipped))
}

/// Measures one stem, streaming.
pub fn analyze_stem(path: &Path) -> Result<StemFeatures, AutomixError> {
    let mut reader = AudioReader::open(path)?;
    let mut analyzer = StemAnalyzer::new(reader.channel_count(), reader.sample_rate_hz())?;
    while let Some(block) = reader.next_block()? {
        let slices: Vec<&[f32]> = block.iter().map(Vec::as_slice).collect();
        analyzer.add(&slices)?;
    }
    Ok(analyzer.finish())
}

/// Track names from file names, made unique.
fn track_names(stems: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(stems.len());
    for stem in stems {
        let base = stem
            .file_stem()
            .map_or_else(|| "stem".to_string(), |s| s.to_string_lossy().into_owned());
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base} {n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

/// The path to write into a session at `session_dir` for `file`: relative when the
/// file is inside that folder, absolute otherwise.
fn session_path_of(file: &Path, session_dir: &Path) -> PathBuf {
    let absolute = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (file, dir) = (absolute(file), absolute(session_dir));
    file.strip_prefix(&dir)
        .map_or(file.clone(), Path::to_path_buf)
}

/// Decides the mix of `inputs` (a folder or files), renders it as `job` asks and
/// returns every decision. `progress` receives 0…1.
pub fn automix(
    inputs: &[PathBuf],
    job: &AutomixJob,
    progress: &mut dyn FnMut(f64),
) -> Result<AutomixReport, AutomixError> {
    for path in [Some(&job.output), job.session.as_ref()]
        .into_iter()
        .flatten()
    {
        mixdown_io::check_destination(path, job.overwrite)?;
    }
    let (files, mut skipped) = collect_stems(inputs)?;
    // Decode and measure every stem, in parallel; a stem that fails to decode is skipped.
    let measured: Vec<(PathBuf, Result<StemFeatures, AutomixError>)> = files
        .into_par_iter()
        .map(|file| {
            let features = analyze_stem(&file);
            (file, features)
        })
        .collect();
    let mut files = Vec::new();
    let mut features = Vec::new();
    for (file, result) in measured {
        match result {
            Ok(f) => {
                files.push(file);
                features.push(f);
            }
            Err(error) => skipped.push(SkippedFile {
                file,
                reason: error.to_string(),
            }),
        }
    }
    if files.is_empty() {
        return Err(AutomixError::NoStems(
            "no stem could be decoded (every file is damaged)".into(),
        ));
    }
    progress(0.15);
    let mut warnings: Vec<String> = skipped
        .iter()
        .map(|s| format!("skipped {}: {}", s.file.display(), s.reason))
        .collect();

    let work = tempfile::tempdir()
        .map_err(|e| AutomixError::Invalid(format!("cannot create a temporary folder: {e}")))?;
    let session_dir = job
        .session
        .as_ref()
        .and_then(|p| p.parent())
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let names = track_names(&files);
    let stems: Vec<StemInput> = files
        .iter()
        .zip(&names)
        .zip(features)
        .map(|((file, name), features)| StemInput {
            classification: classify(name, &features),
            name: name.clone(),
            file: file.clone(),
            features,
        })
        .collect();
    let mut plans = plan_stems(&stems);
    for (stem, plan) in stems.iter().zip(&plans) {
        if plan.track.mute {
            warnings.push(format!("{}: silent, muted", stem.file.display()));
        }
    }
    let mut reverb_gain_db = 0.0;

    // Render 1: the balance of the actual contributions (after compression).
    let session_at = |plans: &[StemPlan], reverb_gain_db: f64, dir: &Path| {
        build_session(
            &stems,
            plans,
            reverb_gain_db,
            job.master_preset.as_deref(),
            dir,
        )
    };
    let probe = work.path().join("probe.toml");
    let rendered = render_probe(&session_at(&plans, 0.0, work.path()), &probe)?;
    progress(0.45);
    if let Some(mix_lufs) = rendered.mix_lufs {
        let corrections: Vec<Option<f64>> = plans
            .iter()
            .zip(&rendered.track_lufs)
            .map(|(plan, stem_lufs)| Some(plan.relative_lu - (stem_lufs.as_ref()? - mix_lufs)))
            .collect();
        // Gain staging: all faders also move together toward the −6 dBFS peak, so the
        // master fader only trims what this estimate misses.
        let applied: Vec<f64> = corrections.iter().flatten().copied().collect();
        let mean_correction = applied.iter().sum::<f64>() / applied.len().max(1) as f64;
        let staging_db = rendered
            .mix_peak_dbfs
            .map_or(0.0, |peak| MIX_PEAK_DBFS - peak - mean_correction);
        for (plan, correction) in plans.iter_mut().zip(corrections) {
            if let Some(correction) = correction {
                let gain_db = plan.track.gain_db + correction + staging_db;
                plan.track.gain_db = (gain_db * 100.0).round() / 100.0;
            }
        }
        if let Some(reverb_lufs) = rendered.reverb_lufs {
            reverb_gain_db = (REVERB_RETURN_LU - (reverb_lufs - mix_lufs)).clamp(-24.0, 12.0);
        }
    }
    // Render 2: the mix itself, unscaled and in float, with the stems asked for.
    let render_file = work.path().join("render.toml");
    let unscaled = session_at(&plans, reverb_gain_db, work.path());
    let rendered = render_probe_with(
        &unscaled,
        &render_file,
        job.stems_dir.clone(),
        job.overwrite,
        true,
    )?;
    progress(0.85);
    // The master fader sets the headroom. It is the last step of the master bus, so
    // scaling the float render by it gives exactly what rendering the session gives.
    let headroom_db = rendered
        .mix_peak_dbfs
        .map_or(0.0, |peak| ((MIX_PEAK_DBFS - peak) * 100.0).round() / 100.0);
    let reverb_return_lu = rendered
        .reverb_lufs
        .zip(rendered.mix_lufs)
        .map(|(r, m)| r - m);

    // The session, written where asked (or in the work folder).
    let final_dir = if job.session.is_some() {
        session_dir.clone()
    } else {
        work.path().to_path_buf()
    };
    let mut session = session_at(&plans, reverb_gain_db, &final_dir);
    session.master.gain_db = headroom_db;
    if let Some(path) = &job.session {
        mixdown_io::write_text_atomically(path, &session_text(&session, &plans), job.overwrite)?;
    }
    let float_mix = render_file.with_extension("wav");
    let (mix_peak_dbfs, mastering) = match &job.master_preset {
        None => {
            let options = EncodeOptions {
                overwrite: job.overwrite,
                ..EncodeOptions::new(job.format)
            };
            (
                apply_master_fader(&float_mix, &job.output, headroom_db, &options)?,
                None,
            )
        }
        Some(name) => {
            let preset = mastering::find_preset(name).ok_or_else(|| {
                AutomixError::Invalid(format!(
                    "unknown preset {name:?} (one of: {})",
                    mastering::preset_names()
                ))
            })?;
            let scaled = work.path().join("scaled.wav");
            let options = EncodeOptions {
                overwrite: Overwrite::Replace,
                ..EncodeOptions::new(OutputFormat::Float32)
            };
            let peak = apply_master_fader(&float_mix, &scaled, headroom_db, &options)?;
            let mix_job = MixJob {
                format: job.format,
                overwrite: job.overwrite,
                ..MixJob::new(&job.output)
            };
            let report = master_float_mix(&scaled, &preset, &mix_job, &mut |fraction| {
                progress(0.9 + 0.1 * fraction);
            })?;
            warnings.extend(report.warnings.iter().cloned());
            (peak, Some(report))
        }
    };
    progress(1.0);

    let powers: f64 = stems
        .iter()
        .filter_map(|s| s.features.active_loudness_lufs)
        .map(|l| 10f64.powf(l / 10.0))
        .sum();
    let stem_reports = stems
        .iter()
        .zip(&plans)
        .enumerate()
        .map(|(i, (stem, plan))| StemReport {
            file: stem.file.clone(),
            name: stem.name.clone(),
            classification: stem.classification.clone(),
            active_loudness_lufs: stem.features.active_loudness_lufs,
            active_fraction: stem.features.active_fraction,
            gain_db: plan.track.gain_db,
            pan: plan.track.pan,
            chain: plan.track.chain.clone(),
            reverb_send_db: plan.track.sends.first().map(|s| s.level_db),
            muted: plan.track.mute,
            target_relative_lu: plan.relative_lu,
            relative_lu_before: stem
                .features
                .active_loudness_lufs
                .filter(|_| powers > 0.0)
                .map(|l| l - 10.0 * powers.log10()),
            relative_lu_after: rendered.track_lufs[i]
                .zip(rendered.mix_lufs)
                .map(|(s, m)| s - m),
            reasons: plan.reasons.0.clone(),
        })
        .collect();
    Ok(AutomixReport {
        stems: stem_reports,
        skipped,
        reverb_return_lu,
        mix_loudness_lufs: rendered.mix_lufs.map(|l| l + headroom_db),
        mix_peak_dbfs,
        master_gain_db: headroom_db,
        session: job.session.clone(),
        mastering,
        warnings,
    })
}

/// The session text: a header saying where it came from, and above each track the
/// reasons for its decisions.
fn session_text(session: &Session, plans: &[StemPlan]) -> String {
    let notes: Vec<Vec<String>> = plans.iter().map(|p| p.reasons.0.clone()).collect();
    format!(
        "# Written by mixdown automix: every value is a decision you may change.\n# Render it with `mixdown mix <this file> -o mix.wav`.\n{}",
        session.to_toml_annotated(&notes)
    )
}

/// Plans every stem by its class (gains still relative to 0 LUFS; render 1 refines).
fn plan_stems(stems: &[StemInput]) -> Vec<StemPlan> {
    let pans = plan::pans(stems);
    let kick = stems
        .iter()
        .position(|s| s.classification.class == InstrumentClass::Kick);
    stems
        .iter()
        .enumerate()
        .map(|(i, stem)| {
            let class = stem.classification.class;
            let profile = plan::profile(class);
            let source = match stem.classification.source {
                classify::ClassSource::Name => "from its name",
                classify::ClassSource::Audio => "from its sound",
                classify::ClassSource::Fallback => "nothing clearer: mixed as other",
            };
            let evidence = &stem.classification.evidence;
            let mut reasons = vec![format!(
                "class {} ({source}, confidence {:.1}{}{evidence})",
                class.name(),
                stem.classification.confidence,
                if evidence.is_empty() { "" } else { ": " },
            )];
            let mut track = Track::new(&stem.name, &stem.file);
            track.class = Some(class);
            let Some(active_lufs) = stem.features.active_loudness_lufs else {
                track.mute = true;
                reasons.push("silent: muted".into());
                return StemPlan {
                    track,
                    relative_lu: profile.relative_lu,
                    reasons: plan::Reasons(reasons),
                };
            };
            track.gain_db = profile.relative_lu - active_lufs;
            reasons.push(format!(
                "balance: {:+.1} LU relative to the mix for its class",
                profile.relative_lu
            ));
            let (pan, pan_reason) = &pans[i];
            track.pan = *pan;
            reasons.push(format!("pan {pan:+.2}: {pan_reason}"));
            reasons.push(format!("high-pass {} Hz for its class", profile.highpass_hz));
            let mut cuts: Vec<EqBand> = Vec::new();
            let mut rivals: Vec<&StemInput> = stems
                .iter()
                .filter(|other| {
                    other.features.active_loudness_lufs.is_some()
                        && plan::profile(other.classification.class).priority > profile.priority
                })
                .collect();
            rivals.sort_by_key(|r| std::cmp::Reverse(plan::profile(r.classification.class).priority));
            for rival in rivals {
                if cuts.len() >= 2 {
                    break;
                }
                if let Some((cut, why)) = plan::unmasking_cut(rival, stem) {
                    if !cuts.iter().any(|c| (c.freq - cut.freq).abs() < 1.0) {
                        cuts.push(cut);
                        reasons.push(format!("unmasking: {why}"));
                    }
                }
            }
            let compressor = plan::compressor(stem).map(|(spec, why)| {
                reasons.push(format!("compressor: {why}"));
                spec
            });
            track.chain = plan::chain(stem, &cuts, compressor);
            if let (InstrumentClass::Bass, Some(k)) = (class, kick) {
                if let Some([_, kick_p90, _]) = stems[k].features.level_percentiles_db {
                    // Relative to the kick's raw level here; `build_session` adds the
                    // kick's fader and pan, which the key passes through.
                    let threshold_db = kick_p90 - DUCK_DEPTH_DB;
                    track.chain.push(ProcessorSpec::Compressor(CompressorSpec {
                        threshold_db,
                        ratio: 3.0,
                        knee_db: 6.0,
                        attack_ms: 1.0,
                        release_ms: 80.0,
                        makeup_db: 0.0,
                        detector: DetectorKind::Peak,
                        sidechain: Some(stems[k].name.clone()),
                    }));
                    reasons.push(format!(
                        "ducks under {} (sidechain, 3:1 from {DUCK_DEPTH_DB} dB under the kick's 90th-percentile level) so the kick's attack comes through",
                        stems[k].name
                    ));
                }
            }
            if let Some(send) = plan::reverb_send(class, REVERB_BUS) {
                reasons.push(format!("reverb send {:.0} dB for its class", send.level_db));
                track.sends.push(send);
            } else {
                reasons.push("dry: no reverb for its class".into());
            }
            StemPlan {
                track,
                relative_lu: profile.relative_lu,
                reasons: plan::Reasons(reasons),
            }
        })
        .collect()
}

/// The session of `plans`, with stem paths written for a session file in `dir`.
fn build_session(
    stems: &[StemInput],
    plans: &[StemPlan],
    reverb_gain_db: f64,
    master_preset: Option<&str>,
    dir: &Path,
) -> Session {
    let key_offset_db = |name: &str| {
        plans
            .iter()
            .find(|p| p.track.name == name)
            .map_or(0.0, |p| {
                let [left, right] = mixdown_dsp::stereo::PanLaw::Minus3Db.gains(p.track.pan);
                p.track.gain_db + mixdown_dsp::units::gain_to_db(left.max(right))
            })
    };
    let tracks = stems
        .iter()
        .zip(plans)
        .map(|(stem, plan)| {
            let mut track = Track {
                file: session_path_of(&stem.file, dir),
                ..plan.track.clone()
            };
            // A key is heard after its track's fader and pan: the threshold follows them,
            // so moving every fader together moves the mix and nothing else.
            for spec in &mut track.chain {
                if let ProcessorSpec::Compressor(c) = spec {
                    if let Some(key) = &c.sidechain {
                        c.threshold_db =
                            ((c.threshold_db + key_offset_db(key)) * 10.0).round() / 10.0;
                    }
                }
            }
            track
        })
        .collect();
    let mut reverb = Bus::new(REVERB_BUS);
    reverb.gain_db = (reverb_gain_db * 100.0).round() / 100.0;
    reverb.chain = vec![
        ProcessorSpec::Highpass {
            freq: 150.0,
            slope_db_per_oct: 12,
        },
        ProcessorSpec::Reverb(mixdown_session::ReverbSpec {
            decay_s: 1.6,
            predelay_ms: 20.0,
            damping_hz: 6_000.0,
            mix: 1.0,
        }),
    ];
    Session {
        tracks,
        buses: vec![reverb],
        master: Master {
            gain_db: 0.0,
            // Low frequencies stay centred whatever the pans.
            chain: vec![ProcessorSpec::StereoWidth {
                width: 1.0,
                mono_below_hz: Some(120.0),
            }],
            preset: master_preset.map(str::to_string),
        },
        ..Session::new()
    }
}

/// Loudness of the mix, of each track's contribution and of the reverb return.
struct Probe {
    mix_lufs: Option<f64>,
    mix_peak_dbfs: Option<f64>,
    track_lufs: Vec<Option<f64>>,
    reverb_lufs: Option<f64>,
}

/// Renders `session` (unmastered) only to meter the mix and every contribution.
fn render_probe(session: &Session, path: &Path) -> Result<Probe, AutomixError> {
    render_probe_with(session, path, None, Overwrite::Replace, false)
}

/// [`render_probe`], also writing the float mix beside `path` when `write_mix`, and
/// the stems into `stems_dir`.
fn render_probe_with(
    session: &Session,
    path: &Path,
    stems_dir: Option<PathBuf>,
    overwrite: Overwrite,
    write_mix: bool,
) -> Result<Probe, AutomixError> {
    let unmastered = Session {
        master: Master {
            preset: None,
            ..session.master.clone()
        },
        ..session.clone()
    };
    mixdown_io::write_text_atomically(path, &unmastered.to_toml(), Overwrite::Replace)?;
    let loaded = load_session(path)?;
    let output = path.with_extension("wav");
    if output.exists() {
        std::fs::remove_file(&output).map_err(|e| {
            AutomixError::Invalid(format!("{}: cannot replace: {e}", output.display()))
        })?;
    }
    let job = MixJob {
        format: OutputFormat::Float32,
        overwrite,
        stems_dir,
        meter: Metering::Everything,
        write_mix,
        ..MixJob::new(output)
    };
    let report = mix_session(&loaded, &job, &mut |_| {})?;
    let loudness = report.loudness.unwrap_or(MixLoudness {
        mix_lufs: None,
        tracks_lufs: vec![None; session.tracks.len()],
        buses_lufs: Vec::new(),
    });
    Ok(Probe {
        mix_lufs: loudness.mix_lufs,
        mix_peak_dbfs: report.mix_peak_dbfs,
        track_lufs: loudness.tracks_lufs,
        reverb_lufs: loudness.buses_lufs.first().copied().flatten(),
    })
}

/// Copies the float mix at `input` to `output` through the master fader: each sample
/// is scaled exactly as [`Fader`](crate::mix) scales the master bus (`f64` product,
/// rounded to `f32`). Returns the output's sample peak, dBFS.
fn apply_master_fader(
    input: &Path,
    output: &Path,
    gain_db: f64,
    options: &EncodeOptions,
) -> Result<Option<f64>, AutomixError> {
    let mut reader = AudioReader::open(input)?;
    let mut writer = AudioWriter::create(
        output,
        reader.sample_rate_hz(),
        reader.channel_count(),
        options,
    )?;
    let gain = db_to_gain(gain_db);
    let mut peak = 0.0f32;
    let mut scaled: Vec<Vec<f32>> = Vec::new();
    while let Some(block) = reader.next_block()? {
        scaled.resize(block.len(), Vec::new());
        for (out, channel) in scaled.iter_mut().zip(block) {
            out.clear();
            if gain_db == 0.0 {
                out.extend_from_slice(channel);
            } else {
                out.extend(channel.iter().map(|&x| (f64::from(x) * gain) as f32));
            }
            peak = out.iter().fold(peak, |m, &x| m.max(x.abs()));
        }
        let slices: Vec<&[f32]> = scaled.iter().map(Vec::as_slice).collect();
        writer.write(&slices)?;
    }
    writer.finish()?;
    Ok((peak > 0.0).then(|| gain_to_db(f64::from(peak))))
}
