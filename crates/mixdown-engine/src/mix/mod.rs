//! Mixing a session: loading it (every problem with its line, stems probed),
//! building the render graph and rendering the mix, the per-track stems and,
//! optionally, a master of the mix.

mod render;
mod source;
mod strip;

pub use render::{Graph, Mixer, MAX_TAIL_S};

use crate::mastering::{self, MasterError, MasterJob, MasterReport, MasteringRequest};
use mixdown_io::{AudioReader, AudioWriter, EncodeOptions, IoError, OutputFormat, Overwrite};
use mixdown_session::{validate, Problem, Problems, Session, SessionSource};
use render::{AlignedMeter, AlignedWriter};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Frames per render block: large enough that per-block work (parallel dispatch,
/// edge bookkeeping) is negligible, small enough to stay in cache.
pub const DEFAULT_BLOCK_FRAMES: usize = 4_096;

/// Render rate of a session without `sample_rate` and without readable stems, Hz.
const FALLBACK_RATE_HZ: u32 = 48_000;

/// Why a session could not be mixed. Each message is complete on its own.
#[derive(Debug, thiserror::Error)]
pub enum MixError {
    /// The session has problems (every one is listed, with file, line and path).
    #[error(transparent)]
    Problems(#[from] Problems),
    /// Reading a stem or writing an output failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Mastering the mix failed.
    #[error(transparent)]
    Master(#[from] MasterError),
    /// A request that cannot be met.
    #[error("{0}")]
    Invalid(String),
}

/// What is known of a stem after probing it.
#[derive(Debug, Clone, PartialEq)]
pub struct StemInfo {
    /// The file, resolved against the session's folder.
    pub path: PathBuf,
    /// Its rate, Hz.
    pub sample_rate_hz: u32,
    /// 1 or 2.
    pub channel_count: usize,
    /// Its length, frames at its own rate.
    pub frames: u64,
}

/// A valid session with its stems probed.
#[derive(Debug, Clone)]
pub struct LoadedSession {
    /// The session file.
    pub path: PathBuf,
    /// The session.
    pub session: Session,
    /// One per track, in order.
    pub stems: Vec<StemInfo>,
    /// The render rate, Hz.
    pub sample_rate_hz: u32,
}

/// Reads, validates and probes the session at `path`. Fails with every problem found:
/// TOML structure, values, routing, and stems that are missing, unreadable or not
/// mono/stereo.
pub fn load_session(path: &Path) -> Result<LoadedSession, MixError> {
    let fail = |problems: Vec<Problem>| {
        MixError::Problems(Problems(
            problems.into_iter().map(|p| p.in_file(path)).collect(),
        ))
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(vec![Problem::new(
            "",
            format!("cannot read the session: {e}"),
        )])
    })?;
    let source = SessionSource::parse(&text).map_err(fail)?;
    let session = &source.session;
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    if session.tracks.is_empty() {
        problems.push(Problem::new("", "no tracks: add at least one [[track]]"));
    }
    let mut stems = Vec::with_capacity(session.tracks.len());
    for (i, track) in session.tracks.iter().enumerate() {
        let stem_path = folder.join(&track.file);
        match probe(&stem_path) {
            Ok(stem) if stem.channel_count > 2 => problems.push(Problem::new(
                format!("track[{i}].file"),
                format!(
                    "{}: has {} channels; stems must be mono or stereo",
                    stem_path.display(),
                    stem.channel_count
                ),
            )),
            Ok(stem) => stems.push(stem),
            Err(error) => {
                problems.push(Problem::new(format!("track[{i}].file"), error.to_string()));
            }
        }
    }
    let sample_rate_hz = session
        .sample_rate
        .or_else(|| stems.iter().map(|s| s.sample_rate_hz).max())
        .unwrap_or(FALLBACK_RATE_HZ);
    problems.extend(validate(session, Some(sample_rate_hz)));
    if let Some(preset) = &session.master.preset {
        if mastering::find_preset(preset).is_none() {
            problems.push(Problem::new(
                "master.preset",
                format!(
                    "unknown preset {preset:?} (one of: {})",
                    mastering::preset_names()
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(fail(source.locate(problems)));
    }
    Ok(LoadedSession {
        path: path.to_path_buf(),
        session: source.session,
        stems,
        sample_rate_hz,
    })
}

/// [`load_session`], then decodes every stem to the end, so damaged or truncated
/// stems are found without rendering. Every problem is reported.
pub fn check_session(path: &Path) -> Result<LoadedSession, MixError> {
    let loaded = load_session(path)?;
    let problems: Vec<Problem> = loaded
        .stems
        .iter()
        .enumerate()
        .filter_map(|(i, stem)| {
            decode_through(&stem.path)
                .err()
                .map(|e| Problem::new(format!("track[{i}].file"), e.to_string()))
        })
        .collect();
    if problems.is_empty() {
        return Ok(loaded);
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let located = match SessionSource::parse(&text) {
        Ok(source) => source.locate(problems),
        Err(_) => problems,
    };
    Err(MixError::Problems(Problems(
        located.into_iter().map(|p| p.in_file(path)).collect(),
    )))
}

/// Opens a stem and learns its layout and length (decoding it to count the frames
/// when the header does not say).
fn probe(path: &Path) -> Result<StemInfo, IoError> {
    let mut reader = AudioReader::open(path)?;
    let frames = match reader.declared_frames() {
        Some(frames) => frames,
        None => {
            while reader.next_block()?.is_some() {}
            reader.frames_read()
        }
    };
    Ok(StemInfo {
        path: path.to_path_buf(),
        sample_rate_hz: reader.sample_rate_hz(),
        channel_count: reader.channel_count(),
        frames,
    })
}

fn decode_through(path: &Path) -> Result<(), IoError> {
    let mut reader = AudioReader::open(path)?;
    while reader.next_block()?.is_some() {}
    Ok(())
}

/// How to render a mix.
#[derive(Debug, Clone)]
pub struct MixJob {
    /// Where the mix goes (`.wav` or `.flac`).
    pub output: PathBuf,
    /// Its sample format.
    pub format: OutputFormat,
    /// Replace existing outputs?
    pub overwrite: Overwrite,
    /// Also write each track's and bus's contribution here.
    pub stems_dir: Option<PathBuf>,
    /// Master the mix with this preset (overrides the session's `[master].preset`).
    pub master_preset: Option<String>,
    /// Frames per block (the result does not depend on it).
    pub block_frames: usize,
    /// Which integrated loudnesses to measure (as [`MixReport::loudness`]).
    pub meter: Metering,
    /// Write the mix to `output`. `false` renders only to measure it (peak, meters,
    /// stems): nothing is written there and no preset is applied.
    pub write_mix: bool,
}

/// What a render meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metering {
    /// Nothing.
    Off,
    /// The mix and every bus's contribution.
    MixAndBuses,
    /// The mix and every track's and bus's contribution.
    Everything,
}

impl MixJob {
    /// A 24-bit mix to `output` with default settings.
    pub fn new(output: impl Into<PathBuf>) -> Self {
        Self {
            output: output.into(),
            format: OutputFormat::Int24,
            overwrite: Overwrite::Refuse,
            stems_dir: None,
            master_preset: None,
            block_frames: DEFAULT_BLOCK_FRAMES,
            meter: Metering::Off,
            write_mix: true,
        }
    }
}

/// What a render did.
#[derive(Debug, Clone, Serialize)]
pub struct MixReport {
    /// The session file.
    pub session: PathBuf,
    /// Render rate, Hz.
    pub sample_rate_hz: u32,
    /// Length of the mix, s.
    pub duration_s: f64,
    /// Per track: latency compensated and whether the stem was resampled.
    pub tracks: Vec<TrackReport>,
    /// Latency through the master chain and everything before it, frames.
    pub master_latency_frames: usize,
    /// Highest absolute sample of the rendered mix, dBFS (before any mastering).
    pub mix_peak_dbfs: Option<f64>,
    /// Stem files written.
    pub stems_written: Vec<PathBuf>,
    /// Loudness of the mix and of each contribution, when metering was asked.
    pub loudness: Option<MixLoudness>,
    /// The mastering report, when a preset was applied.
    pub mastering: Option<MasterReport>,
    /// Things worth knowing (clipping…).
    pub warnings: Vec<String>,
}

/// Integrated loudness (BS.1770-4) of the rendered mix (before any mastering) and of
/// each track's and bus's contribution, aligned with it.
#[derive(Debug, Clone, Serialize)]
pub struct MixLoudness {
    /// The mix, LUFS.
    pub mix_lufs: Option<f64>,
    /// Each track's output (post-fader, post-pan), LUFS.
    pub tracks_lufs: Vec<Option<f64>>,
    /// Each bus's output, LUFS.
    pub buses_lufs: Vec<Option<f64>>,
}

/// One track in the [`MixReport`].
#[derive(Debug, Clone, Serialize)]
pub struct TrackReport {
    /// Track name.
    pub name: String,
    /// Output latency of its strip (chain and key alignment), frames; compensated.
    pub latency_frames: usize,
    /// The stem's own rate when it was resampled to the session's.
    pub resampled_from_hz: Option<u32>,
}

/// Renders `loaded` as `job` says. `progress` receives 0…1.
pub fn mix_session(
    loaded: &LoadedSession,
    job: &MixJob,
    progress: &mut dyn FnMut(f64),
) -> Result<MixReport, MixError> {
    let inputs = std::iter::once(&loaded.path).chain(loaded.stems.iter().map(|s| &s.path));
    for input in inputs {
        if mastering::same_file(input, &job.output) {
            return Err(MixError::Invalid(format!(
                "{}: the output must not be one of the inputs",
                job.output.display()
            )));
        }
    }
    let preset = match job
        .master_preset
        .as_ref()
        .or(loaded.session.master.preset.as_ref())
        .filter(|_| job.write_mix)
    {
        None => None,
        Some(name) => Some(mastering::find_preset(name).ok_or_else(|| {
            MixError::Invalid(format!(
                "unknown preset {name:?} (one of: {})",
                mastering::preset_names()
            ))
        })?),
    };
    if job.write_mix {
        mixdown_io::check_destination(&job.output, job.overwrite)?;
    }

    let mut graph = Graph::build(loaded, job.block_frames)?;
    let rate = loaded.sample_rate_hz;
    let length = graph.length_frames;
    let mut warnings = Vec::new();

    // With a preset, the float mix goes to a temporary file beside the output and the
    // mastering run writes the output.
    let temporary = match preset {
        Some(_) => {
            let folder = job.output.parent().filter(|p| !p.as_os_str().is_empty());
            Some(
                tempfile::Builder::new()
                    .prefix(".mixdown-mix-")
                    .suffix(".wav")
                    .tempfile_in(folder.unwrap_or(Path::new(".")))
                    .map_err(|e| {
                        MixError::Invalid(format!(
                            "{}: cannot create a temporary file beside it: {e}",
                            job.output.display()
                        ))
                    })?,
            )
        }
        None => None,
    };
    let (mix_path, mix_options) = match &temporary {
        Some(file) => (
            file.path().to_path_buf(),
            EncodeOptions {
                overwrite: Overwrite::Replace,
                ..EncodeOptions::new(OutputFormat::Float32)
            },
        ),
        None => (
            job.output.clone(),
            EncodeOptions {
                overwrite: job.overwrite,
                ..EncodeOptions::new(job.format)
            },
        ),
    };
    let mut mix_writer = match job.write_mix {
        true => Some(AlignedWriter::new(
            AudioWriter::create(&mix_path, rate, 2, &mix_options)?,
            graph.master_latency_frames(),
            length,
        )),
        false => None,
    };

    let mut stem_writers = match &job.stems_dir {
        Some(folder) => open_stem_writers(folder, loaded, &graph, job)?,
        None => Vec::new(),
    };

    // Meters: tracks in their strips; here the master, then every bus.
    if job.meter == Metering::Everything {
        graph.meter_tracks(rate);
    }
    let mut meters: Vec<AlignedMeter> = if job.meter != Metering::Off {
        std::iter::once(graph.master_latency_frames())
            .chain((0..loaded.session.buses.len()).map(|b| graph.bus_latency_frames(b)))
            .map(|latency| AlignedMeter::new(rate, latency, length))
            .collect()
    } else {
        Vec::new()
    };

    let total = length + graph.master_latency_frames() as u64;
    let master_latency = graph.master_latency_frames() as u64;
    let mut peak = 0.0f32;
    let mut clipped_samples = 0u64;
    let mut consume = |mixer: &Mixer, index: u64, frames: usize| -> Result<(), MixError> {
        let master = mixer.master_output();
        // Peak over the frames that reach the file.
        let from = master_latency.saturating_sub(index).min(frames as u64) as usize;
        for channel in master {
            for &x in &channel[from..frames] {
                peak = peak.max(x.abs());
                clipped_samples += u64::from(x.abs() > 1.0);
            }
        }
        if let Some(writer) = &mut mix_writer {
            writer.write(master, index, frames)?;
        }
        for (node, writer, _) in &mut stem_writers {
            let block = match *node {
                StemNode::Track(t) => mixer.track_output(t),
                StemNode::Bus(b) => mixer.bus_output(b),
            };
            writer.write(block, index, frames)?;
        }
        for (m, meter) in meters.iter_mut().enumerate() {
            let block = match m {
                0 => mixer.master_output(),
                bus => mixer.bus_output(bus - 1),
            };
            meter.add(block, index, frames);
        }
        Ok(())
    };
    let share = if preset.is_some() { 0.5 } else { 1.0 };
    graph.run(total, &mut consume, &mut |done| {
        progress(share * done as f64 / total as f64);
    })?;
    if let Some(writer) = mix_writer {
        writer.finish()?;
    }
    let mut stems_written = Vec::new();
    for (_, writer, path) in stem_writers {
        writer.finish()?;
        stems_written.push(path);
    }
    if clipped_samples > 0 && preset.is_none() && job.format != OutputFormat::Float32 {
        warnings.push(format!(
            "the mix peaks at {:+.1} dBFS: {clipped_samples} samples clipped in the file; lower the faders, add a master limiter, or write --bits 32f",
            mixdown_dsp::units::gain_to_db(f64::from(peak))
        ));
    }

    let mastering_report = match (preset, &temporary) {
        (Some(preset), Some(file)) => {
            let report = master_float_mix(file.path(), &preset, job, &mut |fraction| {
                progress(0.5 + 0.5 * fraction);
            })?;
            warnings.extend(report.warnings.iter().cloned());
            Some(report)
        }
        _ => None,
    };

    let loudness = (!meters.is_empty()).then(|| {
        let lufs: Vec<Option<f64>> = meters.iter().map(AlignedMeter::loudness_lufs).collect();
        MixLoudness {
            mix_lufs: lufs[0],
            tracks_lufs: (0..loaded.session.tracks.len())
                .map(|t| graph.track_loudness_lufs(t))
                .collect(),
            buses_lufs: lufs[1..].to_vec(),
        }
    });
    Ok(MixReport {
        loudness,
        session: loaded.path.clone(),
        sample_rate_hz: rate,
        duration_s: length as f64 / f64::from(rate),
        tracks: loaded
            .session
            .tracks
            .iter()
            .zip(&loaded.stems)
            .enumerate()
            .map(|(t, (track, stem))| TrackReport {
                name: track.name.clone(),
                latency_frames: graph.track_latency_frames(t),
                resampled_from_hz: (stem.sample_rate_hz != rate).then_some(stem.sample_rate_hz),
            })
            .collect(),
        master_latency_frames: graph.master_latency_frames(),
        mix_peak_dbfs: (peak > 0.0).then(|| mixdown_dsp::units::gain_to_db(f64::from(peak))),
        stems_written,
        mastering: mastering_report,
        warnings,
    })
}

/// Opens one writer per track (`NN-name.wav`) and per bus (`bus-name.wav`) in `folder`,
/// each aligned with the mix.
fn open_stem_writers(
    folder: &Path,
    loaded: &LoadedSession,
    graph: &Graph,
    job: &MixJob,
) -> Result<Vec<(StemNode, AlignedWriter, PathBuf)>, MixError> {
    std::fs::create_dir_all(folder).map_err(|e| {
        MixError::Invalid(format!(
            "{}: cannot create the folder: {e}",
            folder.display()
        ))
    })?;
    let options = EncodeOptions {
        overwrite: job.overwrite,
        ..EncodeOptions::new(job.format)
    };
    let session = &loaded.session;
    let nodes = (0..session.tracks.len())
        .map(StemNode::Track)
        .chain((0..session.buses.len()).map(StemNode::Bus));
    nodes
        .map(|node| {
            let (file_name, latency) = match node {
                StemNode::Track(t) => (
                    format!("{:02}-{}.wav", t + 1, file_safe(&session.tracks[t].name)),
                    graph.track_latency_frames(t),
                ),
                StemNode::Bus(b) => (
                    format!("bus-{}.wav", file_safe(&session.buses[b].name)),
                    graph.bus_latency_frames(b),
                ),
            };
            let path = folder.join(file_name);
            let writer = AudioWriter::create(&path, loaded.sample_rate_hz, 2, &options)?;
            Ok((
                node,
                AlignedWriter::new(writer, latency, graph.length_frames),
                path,
            ))
        })
        .collect()
}

/// Masters the float mix at `input` with `preset` into `job.output` (its format,
/// overwrite policy and block size). `progress` receives 0…1.
pub fn master_float_mix(
    input: &Path,
    preset: &mastering::Preset,
    job: &MixJob,
    progress: &mut dyn FnMut(f64),
) -> Result<MasterReport, MixError> {
    let master_job = MasterJob {
        input: input.to_path_buf(),
        output: job.output.clone(),
        references: Vec::new(),
        request: MasteringRequest::for_preset(preset),
        output_format: job.format,
        output_rate_hz: None,
        overwrite: job.overwrite,
        block_frames: job.block_frames,
        noise_shaped_dither: false,
    };
    Ok(mastering::master_file(&master_job, &mut |p| {
        progress(p.fraction);
    })?)
}

/// A node whose output is written as a stem.
#[derive(Debug, Clone, Copy)]
enum StemNode {
    Track(usize),
    Bus(usize),
}

/// A name usable as a file name on every system: letters, digits, `-` and `_`.
fn file_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        "unnamed".into()
    } else {
        safe
    }
}
