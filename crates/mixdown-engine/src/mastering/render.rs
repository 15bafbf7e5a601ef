//! The passes of a mastering run: profile, plan, process, find the loudness gain,
//! write and verify.

use super::planner::{plan, reference_target, Decision, MasteringPlan, MasteringRequest};
use super::profile::{ProfileBuilder, ProgrammeProfile};
use super::report::{EqCurvePoint, LimiterReport, MasterReport};
use super::store::{in_blocks, ProcessedAudio, MEMORY_LIMIT_SAMPLES};
use super::MasterError;
use crate::chain::{eq_response_db, Chain};
use crate::pipeline::{pipelined, Send};
use crate::report::AnalysisRecord;
use mixdown_analysis::spectrum::third_octave_centers_hz;
use mixdown_analysis::{Analyzer, GatedLoudness, IntegratedLoudness};
use mixdown_dsp::limiter::{LimiterSettings, TruePeakLimiter};
use mixdown_dsp::units::db_to_gain;
use mixdown_dsp::{AudioBuffer, Processor};
use mixdown_io::{AudioReader, AudioWriter, EncodeOptions, OutputFormat, Overwrite};
use mixdown_session::{ProcessorSpec, StereoPart};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Meters are fed on this fixed grid of frames, whatever the processing block size:
/// their floating-point sums then round identically, and so do the decisions and
/// the gain taken from them (block-size invariance down to the last bit).
const METER_BLOCK_FRAMES: usize = 65_536;

/// References shorter than this cannot show a long-term balance, s.
pub const MIN_REFERENCE_S: f64 = 5.0;
/// Peak gain reduction above which the report warns of heavy limiting, dB.
pub const HEAVY_LIMITING_DB: f64 = 4.0;
/// Loudness error accepted on the written file, LU (the promise is ±0.1 LU).
const FINAL_LOUDNESS_TOLERANCE_LU: f64 = 0.05;

/// A mastering job.
#[derive(Debug, Clone)]
pub struct MasterJob {
    /// The mix to master.
    pub input: PathBuf,
    /// Where the master goes (`.wav` or `.flac`).
    pub output: PathBuf,
    /// Reference tracks to match (averaged).
    pub references: Vec<PathBuf>,
    /// Targets and switches.
    pub request: MasteringRequest,
    /// Sample format of the output.
    pub output_format: OutputFormat,
    /// Output sample rate; `None` keeps the input's.
    pub output_rate_hz: Option<u32>,
    /// Replace an existing output?
    pub overwrite: Overwrite,
    /// Frames per processing block (results do not depend on it).
    pub block_frames: usize,
    /// Noise-shape the dither of integer outputs (44.1/48 kHz; plain TPDF elsewhere).
    pub noise_shaped_dither: bool,
}

/// Where a pass is, for progress display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Pass name.
    pub stage: &'static str,
    /// 0 … 1 over the whole job.
    pub fraction: f64,
}

/// The programme, streamed from its file or held in memory (when resampled).
enum Source {
    File(PathBuf),
    Memory(AudioBuffer),
}

impl Source {
    /// Calls `each` with consecutive planar blocks of at most `block_frames`.
    fn for_each_block(
        &self,
        block_frames: usize,
        mut each: impl FnMut(&[&[f32]]) -> Result<(), MasterError>,
    ) -> Result<(), MasterError> {
        let mut emit = |channels: &[Vec<f32>]| in_blocks(channels, block_frames, &mut each);
        match self {
            Source::File(path) => {
                let mut reader = AudioReader::open(path)?;
                while let Some(channels) = reader.next_block()? {
                    emit(channels)?;
                }
                Ok(())
            }
            Source::Memory(audio) => emit(&audio.channels),
        }
    }
}

/// The error a pipeline stage sees when the other stage has stopped (the other
/// stage's own error is what gets reported).
fn pipeline_stopped() -> MasterError {
    MasterError::Invalid("processing stopped".into())
}

/// Planar audio, `[channel][frame]`.
type Planar = Vec<Vec<f32>>;

/// Something that takes planar blocks and may fail.
type BlockSink<'a> = dyn FnMut(&[&[f32]]) -> Result<(), MasterError> + 'a;

/// Regroups a stream of planar blocks of any sizes into blocks of exactly
/// [`METER_BLOCK_FRAMES`] (the last one shorter), for the meters.
struct Rechunker {
    pending: Vec<Vec<f32>>,
}

impl Rechunker {
    fn new(channel_count: usize) -> Self {
        Self {
            pending: vec![Vec::with_capacity(METER_BLOCK_FRAMES); channel_count],
        }
    }

    fn push(&mut self, block: &[&[f32]], each: &mut BlockSink) -> Result<(), MasterError> {
        let frames = block.first().map_or(0, |c| c.len());
        let mut offset = 0;
        while offset < frames {
            let take = (METER_BLOCK_FRAMES - self.pending[0].len()).min(frames - offset);
            for (p, b) in self.pending.iter_mut().zip(block) {
                p.extend_from_slice(&b[offset..offset + take]);
            }
            offset += take;
            if self.pending[0].len() == METER_BLOCK_FRAMES {
                self.flush(each)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self, each: &mut BlockSink) -> Result<(), MasterError> {
        if self.pending.first().is_some_and(|c| !c.is_empty()) {
            let full: Vec<&[f32]> = self.pending.iter().map(Vec::as_slice).collect();
            each(&full)?;
            self.pending.iter_mut().for_each(Vec::clear);
        }
        Ok(())
    }
}

/// Profiles one file, streaming.
fn profile_file(path: &Path) -> Result<ProgrammeProfile, MasterError> {
    let reader = AudioReader::open(path)?;
    let mut builder = ProfileBuilder::new(reader.channel_count(), reader.sample_rate_hz())?;
    drop(reader);
    Source::File(path.to_path_buf())
        .for_each_block(METER_BLOCK_FRAMES, |block| Ok(builder.add(block)?))?;
    Ok(builder.finish())
}

/// Masters `job.input` into `job.output` and returns the report.
pub fn master_file(
    job: &MasterJob,
    progress: &mut dyn FnMut(Progress),
) -> Result<MasterReport, MasterError> {
    if same_file(&job.input, &job.output)
        || job.references.iter().any(|r| same_file(r, &job.output))
    {
        return Err(MasterError::OutputIsInput(job.output.clone()));
    }
    mixdown_io::check_destination(&job.output, job.overwrite)?;
    // Fail on an unwritable format (e.g. 32-bit float FLAC) before any work.
    let container = mixdown_io::Container::from_path(&job.output)?;
    if job.output_format == OutputFormat::Float32 && container == mixdown_io::Container::Flac {
        return Err(MasterError::Invalid(format!(
            "{}: FLAC stores integers only (use --bits 16 or 24, or a .wav output)",
            job.output.display()
        )));
    }

    // Pass 1: what is the programme (and what are the references)?
    progress(Progress {
        stage: "analysing",
        fraction: 0.0,
    });
    let reader = AudioReader::open(&job.input)?;
    let (input_rate, channel_count) = (reader.sample_rate_hz(), reader.channel_count());
    let declared_frames = reader.declared_frames();
    drop(reader);
    let mut source = match job.output_rate_hz.filter(|&r| r != input_rate) {
        Some(rate) => Source::Memory(mixdown_io::resample(
            &mixdown_io::decode_file(&job.input)?.audio,
            rate,
        )?),
        None => Source::File(job.input.clone()),
    };
    let sample_rate_hz = job.output_rate_hz.unwrap_or(input_rate);
    // A song decoded here stays in memory for the processing pass (one decode
    // instead of two); a long programme is decoded again instead.
    let keep_frames = declared_frames
        .and_then(|f| usize::try_from(f).ok())
        .filter(|&f| {
            matches!(source, Source::File(_))
                && f.saturating_mul(channel_count) <= MEMORY_LIMIT_SAMPLES
        });
    // The input and the references are profiled side by side; the input is decoded
    // on a worker thread while the analysis runs here.
    let profile_input = || -> Result<(ProgrammeProfile, Option<Planar>), MasterError> {
        let mut builder = ProfileBuilder::new(channel_count, sample_rate_hz)?;
        let mut kept = keep_frames.map(|f| vec![Vec::with_capacity(f); channel_count]);
        let mut rechunker = Rechunker::new(channel_count);
        let mut analyse = |block: &[&[f32]]| -> Result<(), MasterError> { Ok(builder.add(block)?) };
        pipelined(
            |send: &mut Send<'_, MasterError>| {
                source.for_each_block(METER_BLOCK_FRAMES, |block| {
                    send(block.iter().map(|c| c.to_vec()).collect())
                })
            },
            |block| {
                if let Some(channels) = kept.as_mut() {
                    for (kept, channel) in channels.iter_mut().zip(&block) {
                        kept.extend_from_slice(channel);
                    }
                    // A header that understated the length: decode again instead.
                    if channels[0].len().saturating_mul(channel_count) > MEMORY_LIMIT_SAMPLES {
                        kept = None;
                    }
                }
                rechunker.push(
                    &block.iter().map(Vec::as_slice).collect::<Vec<_>>(),
                    &mut analyse,
                )
            },
            pipeline_stopped,
        )?;
        rechunker.flush(&mut analyse)?;
        Ok((builder.finish(), kept))
    };
    let profile_references = || -> Result<Vec<ProgrammeProfile>, MasterError> {
        job.references
            .par_iter()
            .map(|path| {
                let profile = profile_file(path)?;
                if profile.metrics.integrated_lufs.is_none() {
                    return Err(MasterError::BadReference(path.clone(), "is silent".into()));
                }
                if profile.metrics.duration_s < MIN_REFERENCE_S {
                    return Err(MasterError::BadReference(
                        path.clone(),
                        format!(
                            "is {:.1} s long; a reference needs at least {MIN_REFERENCE_S:.0} s",
                            profile.metrics.duration_s
                        ),
                    ));
                }
                Ok(profile)
            })
            .collect()
    };
    let (input_profile, references) = rayon::join(profile_input, profile_references);
    let ((input_profile, kept), references) = (input_profile?, references?);
    if let Some(channels) = kept {
        source = Source::Memory(AudioBuffer::from_channels(sample_rate_hz, channels));
    }
    if input_profile.metrics.integrated_lufs.is_none() {
        return Err(MasterError::Silent(job.input.clone()));
    }
    let total_frames = (input_profile.metrics.duration_s * f64::from(sample_rate_hz))
        .round()
        .max(1.0);
    let reference = reference_target(&references);

    // Decisions.
    let plan = plan(&input_profile, reference.as_ref(), &job.request);

    // Pass 2: everything ahead of the loudness stage, kept for the gain search.
    progress(Progress {
        stage: "processing",
        fraction: 0.25,
    });
    // Three stages on two cores: filters, the dynamics, then the stereo stage, the
    // meter and the store (the dynamics alone cost about what the other two cost).
    let is_dynamics = |p: &ProcessorSpec| {
        matches!(
            p,
            ProcessorSpec::MultibandCompressor { .. } | ProcessorSpec::Compressor(_)
        )
    };
    let split = plan
        .pre_limiter
        .iter()
        .position(is_dynamics)
        .unwrap_or(plan.pre_limiter.len());
    let (filters, rest) = plan.pre_limiter.split_at(split);
    let dynamics_end = rest.iter().rposition(is_dynamics).map_or(0, |i| i + 1);
    let (dynamics, after) = rest.split_at(dynamics_end);
    let mut first_stage = Chain::new(filters, sample_rate_hz, job.block_frames, channel_count);
    let mut second_stage = Chain::new(dynamics, sample_rate_hz, job.block_frames, channel_count);
    let mut third_stage = Chain::new(after, sample_rate_hz, job.block_frames, channel_count);
    let latency =
        first_stage.latency_frames() + second_stage.latency_frames() + third_stage.latency_frames();
    let mut processed = ProcessedAudio::new(channel_count, total_frames as usize + latency)?;
    let mut meter = IntegratedLoudness::new(channel_count, sample_rate_hz)?;
    let mut rechunker = Rechunker::new(channel_count);
    let mut to_skip = latency;
    pipelined(
        |send_on: &mut Send<'_, MasterError>| {
            pipelined(
                |send: &mut Send<'_, MasterError>| {
                    source.for_each_block(job.block_frames, |block| {
                        let mut owned: Vec<Vec<f32>> = block.iter().map(|c| c.to_vec()).collect();
                        first_stage.process_owned(&mut owned);
                        send(owned)
                    })?;
                    // Flush the chains' latency with silence.
                    if latency > 0 {
                        let mut silence = vec![vec![0.0f32; latency]; channel_count];
                        first_stage.process_owned(&mut silence);
                        send(silence)?;
                    }
                    Ok(())
                },
                |mut block| {
                    second_stage.process_owned(&mut block);
                    send_on(block)
                },
                pipeline_stopped,
            )
        },
        |mut block| {
            third_stage.process_owned(&mut block);
            // Drop the chains' leading delay.
            let skip = to_skip.min(block.first().map_or(0, Vec::len));
            to_skip -= skip;
            let kept: Vec<&[f32]> = block.iter().map(|c| &c[skip..]).collect();
            processed.push(&kept)?;
            rechunker.push(&kept, &mut |b: &[&[f32]]| Ok(meter.add(b)?))
        },
        pipeline_stopped,
    )?;
    rechunker.flush(&mut |b: &[&[f32]]| Ok(meter.add(b)?))?;
    processed.seal()?;
    drop(source);
    let processed_lufs = meter
        .loudness_lufs()
        .ok_or_else(|| MasterError::Silent(job.input.clone()))?;

    // Pass 3: the gain that lands the limited output on target.
    progress(Progress {
        stage: "setting loudness",
        fraction: 0.5,
    });
    let limiter_settings = LimiterSettings {
        ceiling_dbtp: plan.ceiling_dbtp,
        ..LimiterSettings::default()
    };
    let mut gain_db = if job.request.stages.loudness {
        plan.target_lufs - processed_lufs
    } else {
        0.0
    };
    // One measuring pass learns how much loudness the limiter takes at this gain;
    // the corrected gain then lands within a few hundredths of a LU, which the
    // written file itself confirms below (or a secant step corrects).
    let mut previous: Option<(f64, f64)> = None;
    if job.request.stages.loudness && job.request.stages.limiter {
        let measured = limited_loudness(
            &mut processed,
            sample_rate_hz,
            gain_db,
            limiter_settings,
            job,
        )?;
        previous = Some((gain_db, measured));
        gain_db += (plan.target_lufs - measured).clamp(-12.0, 12.0);
    }

    // Pass 4: write, metering exactly what is stored.
    progress(Progress {
        stage: "writing",
        fraction: 0.75,
    });
    let encode = EncodeOptions {
        overwrite: job.overwrite,
        noise_shaping: job.noise_shaped_dither,
        ..EncodeOptions::new(job.output_format)
    };
    let mut warnings = Vec::new();
    let mut extra_decisions = Vec::new();
    let mut ceiling_dbtp = plan.ceiling_dbtp;
    let mut renders_left = 6;
    let (output_metrics, limiter_stats) = loop {
        renders_left -= 1;
        let (metrics, stats, writer) = render_output(
            &mut processed,
            sample_rate_hz,
            gain_db,
            LimiterSettings {
                ceiling_dbtp,
                ..limiter_settings
            },
            job,
            &encode,
            &mut |done| {
                progress(Progress {
                    stage: "writing",
                    fraction: 0.75 + 0.25 * done,
                })
            },
        )?;
        let over = metrics
            .true_peak_dbtp
            .map_or(0.0, |tp| tp - plan.ceiling_dbtp);
        let measured = metrics.integrated_lufs.unwrap_or(f64::NEG_INFINITY);
        let error = plan.target_lufs - measured;
        if renders_left > 0 && over > 0.0 && job.request.stages.limiter {
            // Belt and braces: the stored file (after dither), measured by an
            // independent 4× meter, is over the ceiling (its interpolator reads some
            // inter-sample peaks higher than the limiter's). Lower the limiter's
            // ceiling by the excess, rounded up to 0.01 dB so the result cannot
            // hinge on float noise, and render again.
            let lowered_db = ((over + 0.005) * 100.0).ceil() / 100.0;
            extra_decisions.push(Decision {
                stage: "limiter",
                reason: format!(
                    "the written file measured {over:.3} dB over the ceiling on an independent 4x meter; rendered again with the limiter {lowered_db:.2} dB lower"
                ),
            });
            ceiling_dbtp -= lowered_db;
            continue;
        }
        if renders_left > 0
            && job.request.stages.loudness
            && error.abs() > FINAL_LOUDNESS_TOLERANCE_LU
        {
            // Secant step (the limiter makes loudness grow more slowly than gain).
            let step = match previous {
                Some((g0, l0)) if (measured - l0).abs() > 1e-6 => {
                    error * (gain_db - g0) / (measured - l0)
                }
                _ => error,
            };
            previous = Some((gain_db, measured));
            gain_db += step.clamp(-12.0, 12.0);
            continue;
        }
        writer.finish()?;
        break (metrics, stats);
    };

    let output_lufs = output_metrics.integrated_lufs;
    if let Some(lufs) = output_lufs.filter(|_| job.request.stages.loudness) {
        if (lufs - plan.target_lufs).abs() > 0.1 {
            warnings.push(format!(
                "output loudness {lufs:.2} LUFS misses the target {:.1} LUFS by more than 0.1 LU",
                plan.target_lufs
            ));
        }
    }
    if limiter_stats.max_db > HEAVY_LIMITING_DB {
        warnings.push(format!(
            "heavy limiting: reaching {:.1} LUFS took up to {:.1} dB of peak gain reduction (consider a lower target or a more open mix)",
            plan.target_lufs, limiter_stats.max_db
        ));
    }
    if let (Some(max_lra), Some(lra)) = (
        job.request.max_loudness_range_lu,
        output_metrics.loudness_range_lu,
    ) {
        if lra > max_lra {
            warnings.push(format!(
                "loudness range {lra:.1} LU is still above the preset's {max_lra:.0} LU"
            ));
        }
    }
    progress(Progress {
        stage: "done",
        fraction: 1.0,
    });

    let mut chain_specs = plan.pre_limiter.clone();
    if job.request.stages.loudness {
        chain_specs.push(ProcessorSpec::Gain {
            gain_db: (gain_db * 100.0).round() / 100.0,
        });
    }
    if job.request.stages.limiter {
        chain_specs.push(ProcessorSpec::Limiter {
            ceiling_dbtp: (ceiling_dbtp * 100.0).round() / 100.0,
            lookahead_ms: limiter_settings.lookahead_ms,
            release_ms: limiter_settings.release_ms,
        });
    }
    Ok(MasterReport {
        input: AnalysisRecord::new(&job.input, &input_profile.metrics),
        output: AnalysisRecord::new(&job.output, &output_metrics),
        preset: job.request.preset.clone(),
        target_lufs: plan.target_lufs,
        ceiling_dbtp: plan.ceiling_dbtp,
        amount: job.request.amount,
        references: job
            .references
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        chain: chain_specs,
        dither: dither_applied(job, sample_rate_hz),
        eq_curve: eq_curve(&plan, sample_rate_hz),
        limiter: LimiterReport {
            max_gain_reduction_db: round_hundredth(limiter_stats.max_db),
            mean_gain_reduction_db: round_hundredth(limiter_stats.mean_db),
            active_percent: round_hundredth(limiter_stats.active_fraction * 100.0),
        },
        decisions: plan
            .decisions
            .iter()
            .cloned()
            .chain(extra_decisions)
            .collect(),
        warnings,
    })
}

/// Rounds to 0.01; adding 0.0 turns a rounded −0.0 into 0.0 for display.
fn round_hundredth(v: f64) -> f64 {
    (v * 100.0).round() / 100.0 + 0.0
}

/// The stretch of the programme a limiter run hands on: its input starts `skip`
/// frames before the first frame handed on (a warm-up), `take` frames are handed on
/// (`None`: all), and the input ends `flush` frames short of the last output's
/// lookahead, which silence stands in for.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    skip: usize,
    take: Option<usize>,
    flush: usize,
}

/// Something that feeds planar blocks to a sink, in order.
type Feed<'a> = dyn FnOnce(&mut BlockSink) -> Result<(), MasterError> + 'a;

/// Runs gain and limiter over the blocks `feed` gives, handing each aligned output
/// block of `stretch` to `each`; returns the limiter's statistics.
#[allow(clippy::too_many_arguments)]
fn run_limited(
    feed: Box<Feed<'_>>,
    stretch: Stretch,
    channel_count: usize,
    sample_rate_hz: u32,
    gain_db: f64,
    settings: LimiterSettings,
    job: &MasterJob,
    mut each: impl FnMut(&[&[f32]]) -> Result<(), MasterError>,
) -> Result<mixdown_dsp::limiter::GainReductionStats, MasterError> {
    let block_frames = job.block_frames.max(1);
    let gain = db_to_gain(gain_db) as f32;
    let mut limiter = job.request.stages.limiter.then(|| {
        let mut l = TruePeakLimiter::new(settings);
        l.prepare(sample_rate_hz, block_frames, channel_count);
        l
    });
    let latency = limiter.as_ref().map_or(0, |l| l.latency_frames());
    let flush = if limiter.is_some() { stretch.flush } else { 0 };
    let mut buffer: Vec<Vec<f32>> = vec![Vec::with_capacity(block_frames); channel_count];
    // Drop the lookahead delay and the warm-up at the start.
    let mut to_skip = latency + stretch.skip;
    let mut to_take = stretch.take.unwrap_or(usize::MAX);
    let mut run = |block: &[&[f32]]| -> Result<(), MasterError> {
        for (out, channel) in buffer.iter_mut().zip(block) {
            out.clear();
            out.extend(channel.iter().map(|&x| x * gain));
        }
        if let Some(limiter) = limiter.as_mut() {
            let mut slices: Vec<&mut [f32]> = buffer.iter_mut().map(Vec::as_mut_slice).collect();
            limiter.process(&mut slices);
        }
        let n = buffer.first().map_or(0, Vec::len);
        let skip = to_skip.min(n);
        to_skip -= skip;
        let take = to_take.min(n - skip);
        to_take -= take;
        if take > 0 {
            let out: Vec<&[f32]> = buffer.iter().map(|c| &c[skip..skip + take]).collect();
            each(&out)?;
        }
        Ok(())
    };
    feed(&mut run)?;
    // Silence flushes the lookahead, in blocks no larger than the limiter was prepared for.
    let silence = vec![0.0f32; block_frames];
    let mut flushed = 0;
    while flushed < flush {
        let n = (flush - flushed).min(block_frames);
        run(&vec![&silence[..n]; channel_count])?;
        flushed += n;
    }
    Ok(limiter
        .map(|l| l.gain_reduction_stats())
        .unwrap_or_default())
}

/// The whole programme through gain and limiter (see [`run_limited`]).
fn run_limited_whole(
    processed: &mut ProcessedAudio,
    sample_rate_hz: u32,
    gain_db: f64,
    settings: LimiterSettings,
    job: &MasterJob,
    each: impl FnMut(&[&[f32]]) -> Result<(), MasterError>,
) -> Result<mixdown_dsp::limiter::GainReductionStats, MasterError> {
    let channel_count = processed.channel_count();
    let latency = if job.request.stages.limiter {
        let mut limiter = TruePeakLimiter::new(settings);
        limiter.prepare(sample_rate_hz, job.block_frames.max(1), channel_count);
        limiter.latency_frames()
    } else {
        0
    };
    let block_frames = job.block_frames.max(1);
    run_limited(
        Box::new(move |sink: &mut BlockSink| processed.for_each_block(block_frames, sink)),
        Stretch {
            skip: 0,
            take: None,
            flush: latency,
        },
        channel_count,
        sample_rate_hz,
        gain_db,
        settings,
        job,
        each,
    )
}

/// Programmes at least this long have their loudness after the limiter measured in
/// two halves, one per core, s.
const SPLIT_MEASURE_MIN_S: f64 = 20.0;
/// Programme the second half's limiter runs through before its measured stretch, s:
/// many times its lookahead and release, so its state has caught up with the
/// uncut run's.
const SPLIT_WARM_UP_S: f64 = 1.0;

/// Integrated loudness after gain and limiter. A song held in memory is measured in
/// two halves side by side (the second half's limiter warmed up on the second
/// before it). That only informs the gain: the written file is measured whole.
fn limited_loudness(
    processed: &mut ProcessedAudio,
    sample_rate_hz: u32,
    gain_db: f64,
    settings: LimiterSettings,
    job: &MasterJob,
) -> Result<f64, MasterError> {
    let channel_count = processed.channel_count();
    let frames = processed.frames();
    let long_enough = frames as f64 >= SPLIT_MEASURE_MIN_S * f64::from(sample_rate_hz);
    if let (Some(channels), true, true) = (processed.in_memory(), long_enough, channel_count <= 2) {
        let mut first = GatedLoudness::new(channel_count, sample_rate_hz);
        let mut second = GatedLoudness::new(channel_count, sample_rate_hz);
        // The halves meet on the meter's sub-block grid, so their energies join.
        let sub_block = first.sub_block_frames();
        let split = frames / 2 / sub_block * sub_block;
        let warm_up = ((SPLIT_WARM_UP_S * f64::from(sample_rate_hz)) as usize).min(split);
        let latency = {
            let mut limiter = TruePeakLimiter::new(settings);
            limiter.prepare(sample_rate_hz, job.block_frames.max(1), channel_count);
            limiter.latency_frames()
        };
        let half = |from: usize, start: usize, end: usize, meter: &mut GatedLoudness| {
            let input_end = (end + latency).min(frames);
            let block_frames = job.block_frames.max(1);
            let mut rechunker = Rechunker::new(channel_count);
            let mut measure = |block: &[&[f32]]| -> Result<(), MasterError> {
                meter.add(block);
                Ok(())
            };
            run_limited(
                Box::new(move |sink: &mut BlockSink| {
                    for block_start in (from..input_end).step_by(block_frames) {
                        let block_end = (block_start + block_frames).min(input_end);
                        let block: Vec<&[f32]> = channels
                            .iter()
                            .map(|c| &c[block_start..block_end])
                            .collect();
                        sink(&block)?;
                    }
                    Ok(())
                }),
                Stretch {
                    skip: start - from,
                    take: Some(end - start),
                    flush: end + latency - input_end,
                },
                channel_count,
                sample_rate_hz,
                gain_db,
                settings,
                job,
                |block| rechunker.push(block, &mut measure),
            )?;
            rechunker.flush(&mut measure)
        };
        let (a, b) = rayon::join(
            || half(0, 0, split, &mut first),
            || half(split - warm_up, split, frames, &mut second),
        );
        a?;
        b?;
        first.append(second);
        return Ok(first.loudness_lufs().unwrap_or(f64::NEG_INFINITY));
    }
    let mut meter = IntegratedLoudness::new(channel_count, sample_rate_hz)?;
    let mut rechunker = Rechunker::new(channel_count);
    let mut measure = |block: &[&[f32]]| -> Result<(), MasterError> { Ok(meter.add(block)?) };
    pipelined(
        |send: &mut Send<'_, MasterError>| {
            run_limited_whole(processed, sample_rate_hz, gain_db, settings, job, |block| {
                send(block.iter().map(|c| c.to_vec()).collect())
            })
        },
        |block| {
            rechunker.push(
                &block.iter().map(Vec::as_slice).collect::<Vec<_>>(),
                &mut measure,
            )
        },
        pipeline_stopped,
    )?;
    rechunker.flush(&mut measure)?;
    Ok(meter.loudness_lufs().unwrap_or(f64::NEG_INFINITY))
}

/// Renders the final output into a writer (not yet committed) and measures the
/// stored samples.
#[allow(clippy::type_complexity)]
fn render_output(
    processed: &mut ProcessedAudio,
    sample_rate_hz: u32,
    gain_db: f64,
    settings: LimiterSettings,
    job: &MasterJob,
    encode: &EncodeOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<
    (
        mixdown_analysis::Metrics,
        mixdown_dsp::limiter::GainReductionStats,
        AudioWriter,
    ),
    MasterError,
> {
    let channel_count = processed.channel_count();
    let total = processed.frames().max(1) as f64;
    let mut writer = AudioWriter::create(&job.output, sample_rate_hz, channel_count, encode)?;
    // The report needs the written file's loudness, peaks and levels, not its spectrum.
    let mut analyzer = Analyzer::without_spectrum(channel_count, sample_rate_hz)?;
    let mut written = 0usize;
    let mut rechunker = Rechunker::new(channel_count);
    let mut measure = |block: &[&[f32]]| -> Result<(), MasterError> { Ok(analyzer.add(block)?) };
    // The limiter on a worker thread; encoding and metering what is stored here.
    let stats = pipelined(
        |send: &mut Send<'_, MasterError>| {
            run_limited_whole(processed, sample_rate_hz, gain_db, settings, job, |block| {
                send(block.iter().map(|c| c.to_vec()).collect())
            })
        },
        |block| {
            let slices: Vec<&[f32]> = block.iter().map(Vec::as_slice).collect();
            writer.write(&slices)?;
            let stored: Vec<&[f32]> = writer.last_written().iter().map(Vec::as_slice).collect();
            rechunker.push(&stored, &mut measure)?;
            written += slices.first().map_or(0, |c| c.len());
            if written % (1 << 20) < job.block_frames {
                progress(written as f64 / total);
            }
            Ok(())
        },
        pipeline_stopped,
    )?;
    rechunker.flush(&mut measure)?;
    Ok((analyzer.finish(), stats, writer))
}

/// The response of the plan's EQ stages at the 1/3-octave centres.
fn eq_curve(plan: &MasteringPlan, sample_rate_hz: u32) -> Vec<EqCurvePoint> {
    let rate = f64::from(sample_rate_hz);
    let part_bands = |wanted: StereoPart| -> Vec<mixdown_session::EqBand> {
        plan.pre_limiter
            .iter()
            .filter_map(|p| match p {
                ProcessorSpec::Eq { bands, part } if *part == wanted => Some(bands.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    };
    let (stereo, mid, side) = (
        part_bands(StereoPart::Stereo),
        part_bands(StereoPart::Mid),
        part_bands(StereoPart::Side),
    );
    third_octave_centers_hz()
        .filter(|&f| f < rate / 2.0)
        .map(|freq_hz| EqCurvePoint {
            freq_hz: (freq_hz * 10.0).round() / 10.0,
            mid_db: round_hundredth(
                eq_response_db(&stereo, freq_hz, rate) + eq_response_db(&mid, freq_hz, rate),
            ),
            side_db: round_hundredth(
                eq_response_db(&stereo, freq_hz, rate) + eq_response_db(&side, freq_hz, rate),
            ),
        })
        .collect()
}

/// Whether two paths name the same file (an output must never overwrite an input).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// What the last stage did to the word length, for the report.
fn dither_applied(job: &MasterJob, output_rate_hz: u32) -> String {
    match job.output_format.integer_bits() {
        None => "none: 32-bit float output".into(),
        Some(bits) => {
            let shaped = job.noise_shaped_dither
                && mixdown_dsp::dither::NOISE_SHAPING_RATES_HZ.contains(&output_rate_hz);
            if shaped {
                format!("noise-shaped TPDF to {bits} bits (Wannamaker 3-tap E-weighted)")
            } else {
                format!("TPDF to {bits} bits")
            }
        }
    }
}
