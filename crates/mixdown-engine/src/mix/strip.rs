//! Channel strips: a track's stem through its chain, fader and panner; a bus's sum
//! through its chain and fader. Every buffer is sized once, when the strip is built.

use super::render::AlignedMeter;
use super::source::StemSource;
use crate::chain::{build_processor, compressor_for, filter_sections};
use mixdown_dsp::dynamics::Compressor;
use mixdown_dsp::filters::{FilterChain, FilterTarget};
use mixdown_dsp::stereo::{balance_gains, PanLaw};
use mixdown_dsp::units::db_to_gain;
use mixdown_dsp::{FixedDelay, Processor};
use mixdown_io::IoError;
use mixdown_session::{GainPoint, ProcessorSpec};

/// Planar stereo (or mono) scratch of `max_block` frames per channel.
pub type Planar = Vec<Vec<f32>>;

/// A silent planar buffer.
pub fn planar(channel_count: usize, frames: usize) -> Planar {
    vec![vec![0.0; frames]; channel_count]
}

/// One stage of a chain: a processor, or a compressor listening to another track.
enum Stage {
    Plain(Box<dyn Processor>),
    Keyed {
        compressor: Box<Compressor>,
        /// Index of the track whose output is the key.
        key_track: usize,
        /// Aligns the key with the signal reaching this stage.
        key_delay: FixedDelay,
        key_scratch: Planar,
    },
}

/// A strip's processors in series, with sidechain keys resolved to track indices.
pub struct StageChain {
    stages: Vec<Stage>,
    /// Latency of the stages before each stage, frames.
    latency_before: Vec<usize>,
    latency_frames: usize,
    tail_frames: usize,
    sample_rate_hz: u32,
    max_block_frames: usize,
}

/// The outputs of the tracks rendered so far in this block, for sidechain keys.
pub type KeyLookup<'a> = dyn Fn(usize) -> &'a [Vec<f32>] + Sync + 'a;

impl StageChain {
    /// Builds and prepares `specs` for `channel_count` channels. `track_index` resolves
    /// sidechain names (the session is valid, so every name resolves).
    pub fn new(
        specs: &[ProcessorSpec],
        sample_rate_hz: u32,
        tempo_bpm: Option<f64>,
        max_block_frames: usize,
        channel_count: usize,
        track_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Self {
        // Consecutive filters (high-pass, low-pass, stereo EQ) run as one cascade:
        // one pass over the block instead of one per stage, the same samples.
        let mut processors: Vec<Stage> = Vec::with_capacity(specs.len());
        let mut pending_sections = Vec::new();
        let flush = |pending: &mut Vec<_>, processors: &mut Vec<Stage>| {
            if !pending.is_empty() {
                let sections = std::mem::take(pending);
                processors.push(Stage::Plain(Box::new(FilterChain::new(
                    sections,
                    FilterTarget::AllChannels,
                ))));
            }
        };
        for spec in specs {
            if let Some(sections) = filter_sections(spec, f64::from(sample_rate_hz)) {
                pending_sections.extend(sections);
                continue;
            }
            flush(&mut pending_sections, &mut processors);
            let keyed = match spec {
                ProcessorSpec::Compressor(c) => c
                    .sidechain
                    .as_deref()
                    .and_then(track_index)
                    .map(|key_track| (compressor_for(c), key_track)),
                _ => None,
            };
            processors.push(match keyed {
                Some((compressor, key_track)) => Stage::Keyed {
                    compressor: Box::new(compressor),
                    key_track,
                    key_delay: FixedDelay::new(0),
                    key_scratch: planar(2, max_block_frames),
                },
                None => Stage::Plain(build_processor(spec, sample_rate_hz, tempo_bpm)),
            });
        }
        flush(&mut pending_sections, &mut processors);

        let mut stages = Vec::with_capacity(processors.len());
        let mut latency_before = Vec::with_capacity(processors.len());
        let mut latency_frames = 0;
        let mut tail_frames = 0;
        for mut stage in processors {
            let processor: &mut dyn Processor = match &mut stage {
                Stage::Plain(p) => p.as_mut(),
                Stage::Keyed {
                    compressor,
                    key_delay,
                    ..
                } => {
                    key_delay.prepare(sample_rate_hz, max_block_frames, 2);
                    compressor.as_mut()
                }
            };
            processor.prepare(sample_rate_hz, max_block_frames, channel_count);
            latency_before.push(latency_frames);
            latency_frames += processor.latency_frames();
            tail_frames += processor.tail_frames();
            stages.push(stage);
        }
        Self {
            stages,
            latency_before,
            latency_frames,
            tail_frames,
            sample_rate_hz,
            max_block_frames,
        }
    }

    /// Delay through the chain, frames.
    pub fn latency_frames(&self) -> usize {
        self.latency_frames
    }

    /// How long the chain rings after its input stops, frames.
    pub fn tail_frames(&self) -> usize {
        self.tail_frames
    }

    /// `(stage, key track, latency before the stage)` for every keyed stage.
    pub fn keys(&self) -> Vec<(usize, usize, usize)> {
        self.stages
            .iter()
            .enumerate()
            .filter_map(|(i, stage)| match stage {
                Stage::Keyed { key_track, .. } => Some((i, *key_track, self.latency_before[i])),
                Stage::Plain(_) => None,
            })
            .collect()
    }

    /// Delays the (stereo) key of `stage` by `frames` (allocates: call before rendering).
    pub fn set_key_delay(&mut self, stage: usize, frames: usize) {
        if let Some(Stage::Keyed { key_delay, .. }) = self.stages.get_mut(stage) {
            *key_delay = FixedDelay::new(frames);
            key_delay.prepare(self.sample_rate_hz, self.max_block_frames, 2);
        }
    }

    /// Runs `block` through every stage in place.
    pub fn process(&mut self, block: &mut [&mut [f32]], keys: &KeyLookup<'_>) {
        let frames = block.first().map_or(0, |c| c.len());
        for stage in &mut self.stages {
            match stage {
                Stage::Plain(processor) => processor.process(block),
                Stage::Keyed {
                    compressor,
                    key_track,
                    key_delay,
                    key_scratch,
                } => {
                    let key = keys(*key_track);
                    for (scratch, channel) in key_scratch.iter_mut().zip(key) {
                        scratch[..frames].copy_from_slice(&channel[..frames]);
                    }
                    let mut key_block: Vec<&mut [f32]> =
                        key_scratch.iter_mut().map(|c| &mut c[..frames]).collect();
                    key_delay.process(&mut key_block);
                    let key_view: Vec<&[f32]> = key_block.iter().map(|c| &**c).collect();
                    compressor.process_with_key(block, &key_view);
                }
            }
        }
    }
}

/// Fader gain over time: a static gain plus automation, interpolated linearly in dB
/// between points and held before the first and after the last.
pub struct Fader {
    gain_db: f64,
    /// `(timeline frame, offset dB)`, in time order.
    points: Vec<(f64, f64)>,
    silent: bool,
}

impl Fader {
    /// A fader at `gain_db` with `automation` at `sample_rate_hz`; `silent` mutes it.
    pub fn new(gain_db: f64, automation: &[GainPoint], sample_rate_hz: u32, silent: bool) -> Self {
        Self {
            gain_db,
            points: automation
                .iter()
                .map(|p| (p.time_s * f64::from(sample_rate_hz), p.gain_db))
                .collect(),
            silent,
        }
    }

    /// Whether the fader passes nothing.
    pub fn is_silent(&self) -> bool {
        self.silent
    }

    /// The automation offset at timeline frame `frame`, dB.
    fn automation_db(&self, frame: f64) -> f64 {
        let next = self.points.partition_point(|&(f, _)| f <= frame);
        match (
            next.checked_sub(1).map(|i| self.points[i]),
            self.points.get(next),
        ) {
            (None, None) => 0.0,
            (None, Some(&(_, db))) | (Some((_, db)), None) => db,
            (Some((f0, db0)), Some(&(f1, db1))) => db0 + (db1 - db0) * (frame - f0) / (f1 - f0),
        }
    }

    /// Applies the fader to `block`, whose first frame is timeline frame `first_frame`
    /// (negative before the timeline starts: latency compensation).
    pub fn apply(&self, block: &mut [&mut [f32]], first_frame: i64) {
        if self.silent {
            block.iter_mut().for_each(|c| c.fill(0.0));
            return;
        }
        let frames = block.first().map_or(0, |c| c.len());
        let constant = self.points.is_empty() || {
            // Before the first point or after the last, the offset holds.
            let (first, last) = (self.points[0].0, self.points[self.points.len() - 1].0);
            let (a, b) = (first_frame as f64, (first_frame + frames as i64) as f64);
            b <= first || a >= last
        };
        if constant {
            let gain_db = self.gain_db + self.automation_db(first_frame as f64);
            if gain_db != 0.0 {
                let gain = db_to_gain(gain_db);
                for channel in block.iter_mut() {
                    for x in channel.iter_mut() {
                        *x = (f64::from(*x) * gain) as f32;
                    }
                }
            }
            return;
        }
        for i in 0..frames {
            let gain =
                db_to_gain(self.gain_db + self.automation_db((first_frame + i as i64) as f64));
            for channel in block.iter_mut() {
                channel[i] = (f64::from(channel[i]) * gain) as f32;
            }
        }
    }
}

/// How a strip's channels reach the stereo bus.
#[derive(Debug, Clone, Copy)]
pub enum Panner {
    /// A mono source placed by a pan law.
    Mono { gains: [f64; 2] },
    /// A stereo source: side scaled by `width`, then balanced.
    Stereo { width: f64, gains: [f64; 2] },
}

impl Panner {
    /// The panner for a source of `channel_count` channels.
    pub fn new(channel_count: usize, pan: f64, width: f64, law: PanLaw) -> Self {
        if channel_count == 1 {
            Self::Mono {
                gains: law.gains(pan),
            }
        } else {
            Self::Stereo {
                width,
                gains: balance_gains(pan),
            }
        }
    }

    /// Writes `input` (1 or 2 channels, `frames` long) panned into `output` (stereo).
    /// Unity gains and width copy the samples exactly (the null test relies on it).
    pub fn pan(&self, input: &[Vec<f32>], output: &mut [Vec<f32>], frames: usize) {
        let scaled = |dst: &mut [f32], src: &[f32], gain: f64| {
            if gain == 1.0 {
                dst.copy_from_slice(src);
            } else {
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = (f64::from(s) * gain) as f32;
                }
            }
        };
        match *self {
            Self::Mono { gains } => {
                for (out, gain) in output.iter_mut().zip(gains) {
                    scaled(&mut out[..frames], &input[0][..frames], gain);
                }
            }
            Self::Stereo { width, gains } => {
                let (left, right) = output.split_at_mut(1);
                let (left, right) = (&mut left[0][..frames], &mut right[0][..frames]);
                if width == 1.0 {
                    scaled(left, &input[0][..frames], gains[0]);
                    scaled(right, &input[1][..frames], gains[1]);
                } else {
                    for i in 0..frames {
                        let (l, r) = (f64::from(input[0][i]), f64::from(input[1][i]));
                        let mid = 0.5 * (l + r);
                        let side = 0.5 * (l - r) * width;
                        left[i] = ((mid + side) * gains[0]) as f32;
                        right[i] = ((mid - side) * gains[1]) as f32;
                    }
                }
            }
        }
    }
}

/// A track: stem → chain → fader → panner, with an optional pre-fader tap for sends.
pub struct TrackStrip {
    /// Index of the track in the session.
    pub track: usize,
    source: StemSource,
    /// The stem's channels, processed in place.
    work: Planar,
    chain: StageChain,
    fader: Fader,
    panner: Panner,
    /// Frames the strip output lags the timeline (its own and its keys' latency).
    pub output_latency_frames: usize,
    /// Whether the chain must run although the track is silent (it keys another).
    pub is_key: bool,
    /// Post-fader, post-pan stereo output.
    pub output: Planar,
    /// Pre-fader stereo tap, when a pre-fader send needs it.
    pub pre_fader: Option<Planar>,
    /// Meters the output, when the render measures contributions (here, so the
    /// meters run in parallel with the strips).
    pub meter: Option<AlignedMeter>,
    frames_rendered: u64,
}

impl TrackStrip {
    /// Assembles a strip; buffers hold `max_block_frames`.
    #[allow(clippy::too_many_arguments)] // The parts of a strip, each built by the graph.
    pub fn new(
        track: usize,
        source: StemSource,
        chain: StageChain,
        fader: Fader,
        panner: Panner,
        output_latency_frames: usize,
        needs_pre_fader: bool,
        max_block_frames: usize,
    ) -> Self {
        let channel_count = source.channel_count();
        Self {
            track,
            source,
            work: planar(channel_count, max_block_frames),
            chain,
            fader,
            panner,
            output_latency_frames,
            is_key: false,
            output: planar(2, max_block_frames),
            pre_fader: needs_pre_fader.then(|| planar(2, max_block_frames)),
            meter: None,
            frames_rendered: 0,
        }
    }

    /// Renders the next `frames` frames into [`output`](Self::output) (and the pre-fader
    /// tap). `keys` gives the outputs of tracks rendered earlier in this block.
    pub fn render(&mut self, frames: usize, keys: &KeyLookup<'_>) -> Result<(), IoError> {
        let index = self.frames_rendered;
        let first_frame = index as i64 - self.output_latency_frames as i64;
        self.frames_rendered += frames as u64;
        if self.fader.is_silent() && !self.is_key {
            // Nothing of a silent track is heard; skip decoding and processing, but keep
            // the stream in step.
            self.source.read(&mut self.work, frames)?;
            zero(&mut self.output, frames);
            if let Some(pre) = &mut self.pre_fader {
                zero(pre, frames);
            }
            return Ok(());
        }
        self.source.read(&mut self.work, frames)?;
        let mut block: Vec<&mut [f32]> = self.work.iter_mut().map(|c| &mut c[..frames]).collect();
        self.chain.process(&mut block, keys);
        if let Some(pre) = &mut self.pre_fader {
            if self.fader.is_silent() {
                zero(pre, frames);
            } else {
                self.panner.pan(&self.work, pre, frames);
            }
        }
        let mut block: Vec<&mut [f32]> = self.work.iter_mut().map(|c| &mut c[..frames]).collect();
        self.fader.apply(&mut block, first_frame);
        self.panner.pan(&self.work, &mut self.output, frames);
        if let Some(meter) = &mut self.meter {
            meter.add(&self.output, index, frames);
        }
        Ok(())
    }
}

/// A bus (or the master): summed input → chain → fader.
pub struct BusStrip {
    /// The stereo sum of everything routed and sent here, then the output in place.
    pub signal: Planar,
    chain: StageChain,
    fader: Fader,
    /// Pre-fader stereo tap, when a pre-fader send needs it.
    pub pre_fader: Option<Planar>,
}

impl BusStrip {
    /// A bus with `chain` and `fader`.
    pub fn new(
        chain: StageChain,
        fader: Fader,
        needs_pre_fader: bool,
        max_block_frames: usize,
    ) -> Self {
        Self {
            signal: planar(2, max_block_frames),
            chain,
            fader,
            pre_fader: needs_pre_fader.then(|| planar(2, max_block_frames)),
        }
    }

    /// Processes the summed input of `frames` frames in place.
    pub fn render(&mut self, frames: usize, keys: &KeyLookup<'_>) {
        let mut block: Vec<&mut [f32]> = self.signal.iter_mut().map(|c| &mut c[..frames]).collect();
        self.chain.process(&mut block, keys);
        if let Some(pre) = &mut self.pre_fader {
            for (p, s) in pre.iter_mut().zip(&self.signal) {
                p[..frames].copy_from_slice(&s[..frames]);
            }
        }
        let mut block: Vec<&mut [f32]> = self.signal.iter_mut().map(|c| &mut c[..frames]).collect();
        // Bus faders are not automated: the frame position does not matter.
        self.fader.apply(&mut block, 0);
    }
}

fn zero(buffer: &mut [Vec<f32>], frames: usize) {
    buffer.iter_mut().for_each(|c| c[..frames].fill(0.0));
}
