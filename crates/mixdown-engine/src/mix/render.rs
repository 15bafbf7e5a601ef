//! The render graph of a session and the offline render that runs it.
//!
//! Every node (track strip, bus, master) processes the same span of frames per
//! block. Tracks render first, in sidechain "waves" (a wave's tracks in parallel
//! with rayon; a keyed track comes after its key), then buses in routing order, then
//! the master. Latency compensation: a node's output lags the timeline by its
//! latency `D`. A track's own input is delayed (its stem starts later) so the keys
//! reaching its compressors are aligned; every edge into a bus is delayed to the
//! latest of the bus's inputs; the master output is finally read `D(master)` frames
//! late. So every path from a stem to the mix has the same total delay.

use super::source::{Placement, StemSource};
use super::strip::{planar, BusStrip, Fader, Panner, Planar, StageChain, TrackStrip};
use super::{LoadedSession, MixError};
use mixdown_analysis::GatedLoudness;
use mixdown_dsp::stereo::PanLaw;
use mixdown_dsp::{FixedDelay, Processor};
use mixdown_io::{decode_file, resample, AudioWriter, IoError};
use mixdown_session::{bus_render_order, track_waves, Send, MASTER};
use rayon::prelude::*;
use std::ops::Range;

/// Longest reverb or delay tail rendered after the last stem ends, s: a long delay with
/// high feedback would otherwise ring for hours.
pub const MAX_TAIL_S: u64 = 60;

/// Where an edge takes its signal from.
#[derive(Debug, Clone, Copy)]
enum Tap {
    /// A track strip's output (by position in wave order).
    TrackPost(usize),
    /// A track strip's pre-fader tap.
    TrackPre(usize),
    /// A bus's output (by bus index; the master is never a source).
    BusPost(usize),
    /// A bus's pre-fader tap.
    BusPre(usize),
}

/// A connection into a bus: a tap, a gain and the compensating delay.
struct Edge {
    from: Tap,
    gain: f32,
    delay: Option<(FixedDelay, Planar)>,
}

/// A session turned into strips, buses and edges, ready to render.
///
/// Rendering is a two-stage pipeline: while the buses, the master and the files
/// take block `k` (from the track outputs handed over in `taps`), the track strips
/// already render block `k + 1` on the other threads. The order of operations on
/// each node is unchanged, so the output does not depend on it.
pub struct Graph {
    tracks: TrackStage,
    mixer: Mixer,
    /// Frames of the mix on the timeline (longest placed stem plus tails).
    pub length_frames: u64,
    /// Frames per block.
    pub block_frames: usize,
}

/// The track strips.
struct TrackStage {
    /// Track strips in wave order.
    strips: Vec<TrackStrip>,
    /// Ranges of `strips` that may render in parallel, in order.
    waves: Vec<Range<usize>>,
    /// Position in `strips` of each session track.
    strip_of_track: Vec<usize>,
}

/// The outputs of one track strip for one block, handed from the tracks to the mixer.
struct TrackTaps {
    post: Planar,
    pre: Option<Planar>,
}

/// The buses and the master, fed by the track outputs of a block.
pub struct Mixer {
    /// Track outputs of the block being mixed, by strip position.
    taps: Vec<TrackTaps>,
    /// Position in `taps` of each session track.
    strip_of_track: Vec<usize>,
    /// Session buses, then the master (last).
    buses: Vec<BusStrip>,
    /// Bus indices in render order, ending with the master.
    bus_order: Vec<usize>,
    /// Edges into each bus (same indexing as `buses`).
    incoming: Vec<Vec<Edge>>,
    /// Output latency of each bus, frames.
    bus_latency_frames: Vec<usize>,
    /// Output latency of each track strip, by session track.
    track_latency_frames: Vec<usize>,
}

/// Latency and tail of a node, frames.
#[derive(Debug, Clone, Copy, Default)]
struct Timing {
    latency: usize,
    tail: usize,
}

impl Graph {
    /// Builds the graph of a loaded (valid) session.
    pub fn build(loaded: &LoadedSession, block_frames: usize) -> Result<Self, MixError> {
        let session = &loaded.session;
        let rate = loaded.sample_rate_hz;
        let block_frames = block_frames.max(1);
        let tempo = session.mix.tempo_bpm;
        let law = PanLaw::from_db(session.mix.pan_law_db)
            .ok_or_else(|| MixError::Invalid("invalid pan law (validate first)".into()))?;
        let waves =
            track_waves(session).map_err(|c| MixError::Invalid(format!("sidechain cycle: {c}")))?;
        let track_index = |name: &str| session.track_index(name);
        let frames_of = |ms: f64| (ms * f64::from(rate) / 1000.0).round() as u64;

        // Tracks, wave by wave: a track's keys are already built.
        let mut strips: Vec<TrackStrip> = Vec::with_capacity(session.tracks.len());
        let mut strip_of_track = vec![usize::MAX; session.tracks.len()];
        let mut track_timing = vec![Timing::default(); session.tracks.len()];
        let mut wave_ranges = Vec::with_capacity(waves.len());
        let mut timeline_end = 0u64;
        for wave in &waves {
            let start = strips.len();
            for &t in wave {
                let track = &session.tracks[t];
                let stem = &loaded.stems[t];
                let mut chain = StageChain::new(
                    &track.chain,
                    rate,
                    tempo,
                    block_frames,
                    stem.channel_count,
                    &track_index,
                );
                let keys = chain.keys();
                let input_delay = keys
                    .iter()
                    .map(|&(_, k, before)| track_timing[k].latency.saturating_sub(before))
                    .max()
                    .unwrap_or(0);
                for &(stage, k, before) in &keys {
                    chain.set_key_delay(stage, input_delay + before - track_timing[k].latency);
                }
                track_timing[t] = Timing {
                    latency: input_delay + chain.latency_frames(),
                    tail: chain.tail_frames(),
                };
                let offset = (track.start_s * f64::from(rate)).round() as u64
                    + track
                        .delay_samples
                        .unwrap_or_else(|| frames_of(track.delay_ms));
                let placement = Placement {
                    lead_in_frames: offset + input_delay as u64,
                    invert_polarity: track.invert_polarity,
                    fade_in_frames: frames_of(track.fade_in_ms),
                    fade_out_frames: frames_of(track.fade_out_ms),
                };
                let source = if stem.sample_rate_hz == rate {
                    StemSource::stream(&stem.path, stem.frames, placement)?
                } else {
                    let decoded = decode_file(&stem.path)?;
                    StemSource::memory(resample(&decoded.audio, rate)?, placement)
                };
                timeline_end = timeline_end.max(source.end_frame() - input_delay as u64);
                let fader = Fader::new(
                    track.gain_db,
                    &track.automation,
                    rate,
                    !session.is_audible(track),
                );
                let panner = Panner::new(stem.channel_count, track.pan, track.width, law);
                strip_of_track[t] = strips.len();
                strips.push(TrackStrip::new(
                    t,
                    source,
                    chain,
                    fader,
                    panner,
                    track_timing[t].latency,
                    track.sends.iter().any(|s| s.pre_fader),
                    block_frames,
                ));
            }
            wave_ranges.push(start..strips.len());
        }
        for track in &session.tracks {
            for key in mixdown_session::sidechain_sources(&track.chain) {
                if let Some(k) = session.track_index(key) {
                    strips[strip_of_track[k]].is_key = true;
                }
            }
        }

        // Buses in routing order, then the master.
        let master = session.buses.len();
        let bus_index = |name: &str| {
            if name == MASTER {
                Some(master)
            } else {
                session.buses.iter().position(|b| b.name == name)
            }
        };
        let mut bus_order = bus_render_order(session)
            .map_err(|c| MixError::Invalid(format!("routing cycle: {c}")))?;
        bus_order.push(master);
        // (source tap, source timing, gain dB) for every edge into each bus.
        let mut sources: Vec<Vec<(Tap, f64)>> = vec![Vec::new(); master + 1];
        let sends_into =
            |sends: &[Send], post: Tap, pre: Tap, sources: &mut Vec<Vec<(Tap, f64)>>| {
                for send in sends {
                    if let Some(b) = bus_index(&send.bus) {
                        sources[b].push((if send.pre_fader { pre } else { post }, send.level_db));
                    }
                }
            };
        for (t, track) in session.tracks.iter().enumerate() {
            let s = strip_of_track[t];
            if let Some(b) = bus_index(&track.output) {
                sources[b].push((Tap::TrackPost(s), 0.0));
            }
            sends_into(
                &track.sends,
                Tap::TrackPost(s),
                Tap::TrackPre(s),
                &mut sources,
            );
        }
        for (j, bus) in session.buses.iter().enumerate() {
            if let Some(b) = bus_index(&bus.output) {
                sources[b].push((Tap::BusPost(j), 0.0));
            }
            sends_into(&bus.sends, Tap::BusPost(j), Tap::BusPre(j), &mut sources);
        }

        let mut buses: Vec<Option<BusStrip>> = (0..=master).map(|_| None).collect();
        let mut bus_timing = vec![Timing::default(); master + 1];
        let mut incoming: Vec<Vec<Edge>> = (0..=master).map(|_| Vec::new()).collect();
        for &b in &bus_order {
            let (specs, gain_db, mute, needs_pre) = match session.buses.get(b) {
                Some(bus) => (
                    &bus.chain,
                    bus.gain_db,
                    bus.mute,
                    bus.sends.iter().any(|s| s.pre_fader),
                ),
                None => (&session.master.chain, session.master.gain_db, false, false),
            };
            let mut chain = StageChain::new(specs, rate, tempo, block_frames, 2, &track_index);
            let timing_of = |tap: Tap| match tap {
                Tap::TrackPost(s) | Tap::TrackPre(s) => track_timing[strips[s].track],
                Tap::BusPost(j) | Tap::BusPre(j) => bus_timing[j],
            };
            let source_timing: Vec<Timing> =
                sources[b].iter().map(|&(tap, _)| timing_of(tap)).collect();
            let keys = chain.keys();
            let input_latency = source_timing
                .iter()
                .map(|timing| timing.latency)
                .chain(
                    keys.iter()
                        .map(|&(_, k, before)| track_timing[k].latency.saturating_sub(before)),
                )
                .max()
                .unwrap_or(0);
            for &(stage, k, before) in &keys {
                chain.set_key_delay(stage, input_latency + before - track_timing[k].latency);
            }
            let input_tail = source_timing.iter().map(|t| t.tail).max().unwrap_or(0);
            bus_timing[b] = Timing {
                latency: input_latency + chain.latency_frames(),
                tail: input_tail + chain.tail_frames(),
            };
            incoming[b] = sources[b]
                .iter()
                .zip(&source_timing)
                .map(|(&(tap, level_db), timing)| {
                    let delay_frames = input_latency - timing.latency;
                    Edge {
                        from: tap,
                        gain: mixdown_dsp::units::db_to_gain(level_db) as f32,
                        delay: (delay_frames > 0).then(|| {
                            let mut delay = FixedDelay::new(delay_frames);
                            delay.prepare(rate, block_frames, 2);
                            (delay, planar(2, block_frames))
                        }),
                    }
                })
                .collect();
            let fader = Fader::new(gain_db, &[], rate, mute);
            buses[b] = Some(BusStrip::new(chain, fader, needs_pre, block_frames));
        }
        let buses: Vec<BusStrip> = buses
            .into_iter()
            .map(|b| b.expect("every bus is in the render order"))
            .collect();

        let taps = strips
            .iter()
            .map(|strip| TrackTaps {
                post: planar(2, block_frames),
                pre: strip.pre_fader.as_ref().map(|_| planar(2, block_frames)),
            })
            .collect();
        Ok(Self {
            mixer: Mixer {
                taps,
                strip_of_track: strip_of_track.clone(),
                buses,
                bus_order,
                incoming,
                bus_latency_frames: bus_timing.iter().map(|t| t.latency).collect(),
                track_latency_frames: track_timing.iter().map(|t| t.latency).collect(),
            },
            tracks: TrackStage {
                strips,
                waves: wave_ranges,
                strip_of_track,
            },
            length_frames: timeline_end
                + (bus_timing[master].tail as u64).min(u64::from(rate) * MAX_TAIL_S),
            block_frames,
        })
    }

    /// Frames by which the master output lags the timeline.
    pub fn master_latency_frames(&self) -> usize {
        self.mixer.master_latency_frames()
    }

    /// Output latency of session track `t`, frames.
    pub fn track_latency_frames(&self, t: usize) -> usize {
        self.mixer.track_latency_frames[t]
    }

    /// Output latency of session bus `b`, frames.
    pub fn bus_latency_frames(&self, b: usize) -> usize {
        self.mixer.bus_latency_frames[b]
    }

    /// Meters every track's output over the mix's length during the render.
    pub fn meter_tracks(&mut self, sample_rate_hz: u32) {
        let length = self.length_frames;
        for strip in &mut self.tracks.strips {
            strip.meter = Some(AlignedMeter::new(
                sample_rate_hz,
                strip.output_latency_frames,
                length,
            ));
        }
    }

    /// Integrated loudness of session track `t`'s output, when metered.
    pub fn track_loudness_lufs(&self, t: usize) -> Option<f64> {
        self.tracks.strips[self.tracks.strip_of_track[t]]
            .meter
            .as_ref()
            .and_then(AlignedMeter::loudness_lufs)
    }

    /// Renders `total_frames` frames, block by block; `consume` gets the mixer after
    /// each block (its outputs) with the block's first frame and length, and
    /// `progress` the frames done. The first error stops the render.
    pub fn run(
        &mut self,
        total_frames: u64,
        consume: &mut (dyn FnMut(&Mixer, u64, usize) -> Result<(), MixError> + std::marker::Send),
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), MixError> {
        let block = self.block_frames as u64;
        let Self { tracks, mixer, .. } = self;
        let mut index = 0u64;
        let first = total_frames.min(block) as usize;
        if first > 0 {
            tracks.render(first)?;
            tracks.hand_over(&mut mixer.taps);
        }
        while index < total_frames {
            let frames = (total_frames - index).min(block) as usize;
            let next = (total_frames - index - frames as u64).min(block) as usize;
            let (rendered, mixed) = rayon::join(
                || {
                    if next > 0 {
                        tracks.render(next)
                    } else {
                        Ok(())
                    }
                },
                || {
                    mixer.render(frames);
                    consume(mixer, index, frames)
                },
            );
            rendered?;
            mixed?;
            if next > 0 {
                tracks.hand_over(&mut mixer.taps);
            }
            index += frames as u64;
            progress(index);
        }
        Ok(())
    }
}

impl TrackStage {
    /// Renders the next `frames` frames of every strip, wave by wave.
    fn render(&mut self, frames: usize) -> Result<(), IoError> {
        for wave in &self.waves {
            let (done, current) = self.strips.split_at_mut(wave.start);
            let current = &mut current[..wave.len()];
            let outputs: Vec<&[Vec<f32>]> = done.iter().map(|s| s.output.as_slice()).collect();
            let strip_of_track = &self.strip_of_track;
            let keys = |track: usize| outputs[strip_of_track[track]];
            if current.len() == 1 {
                current[0].render(frames, &keys)?;
            } else {
                current
                    .par_iter_mut()
                    .try_for_each(|strip| strip.render(frames, &keys))?;
            }
        }
        Ok(())
    }

    /// Swaps the strips' fresh outputs with the mixer's spent ones (no copy).
    fn hand_over(&mut self, taps: &mut [TrackTaps]) {
        for (strip, taps) in self.strips.iter_mut().zip(taps) {
            std::mem::swap(&mut strip.output, &mut taps.post);
            if let (Some(strip_pre), Some(taps_pre)) = (&mut strip.pre_fader, &mut taps.pre) {
                std::mem::swap(strip_pre, taps_pre);
            }
        }
    }
}

impl Mixer {
    /// Sums and processes every bus, then the master, for `frames` frames.
    fn render(&mut self, frames: usize) {
        let taps = &self.taps;
        let outputs: Vec<&[Vec<f32>]> = taps.iter().map(|t| t.post.as_slice()).collect();
        let strip_of_track = &self.strip_of_track;
        let keys = |track: usize| outputs[strip_of_track[track]];
        for &b in &self.bus_order {
            let mut signal = std::mem::take(&mut self.buses[b].signal);
            signal.iter_mut().for_each(|c| c[..frames].fill(0.0));
            for edge in &mut self.incoming[b] {
                let tap: &[Vec<f32>] = match edge.from {
                    Tap::TrackPost(s) => &taps[s].post,
                    Tap::TrackPre(s) => taps[s].pre.as_deref().unwrap_or(&[]),
                    Tap::BusPost(j) => &self.buses[j].signal,
                    Tap::BusPre(j) => self.buses[j].pre_fader.as_deref().unwrap_or(&[]),
                };
                let tap: &[Vec<f32>] = match &mut edge.delay {
                    None => tap,
                    Some((delay, scratch)) => {
                        for (s, t) in scratch.iter_mut().zip(tap) {
                            s[..frames].copy_from_slice(&t[..frames]);
                        }
                        let mut block: Vec<&mut [f32]> =
                            scratch.iter_mut().map(|c| &mut c[..frames]).collect();
                        delay.process(&mut block);
                        scratch
                    }
                };
                accumulate(&mut signal, tap, edge.gain, frames);
            }
            self.buses[b].signal = signal;
            self.buses[b].render(frames, &keys);
        }
    }

    /// Frames by which the master output lags the timeline.
    pub fn master_latency_frames(&self) -> usize {
        self.bus_latency_frames[self.buses.len() - 1]
    }

    /// The master output of the block.
    pub fn master_output(&self) -> &[Vec<f32>] {
        &self.buses[self.buses.len() - 1].signal
    }

    /// The output of session track `t` in the block.
    pub fn track_output(&self, t: usize) -> &[Vec<f32>] {
        &self.taps[self.strip_of_track[t]].post
    }

    /// The output of session bus `b` in the block.
    pub fn bus_output(&self, b: usize) -> &[Vec<f32>] {
        &self.buses[b].signal
    }
}

/// `sum += gain · tap` over `frames` frames; unity gain adds the samples exactly.
fn accumulate(sum: &mut [Vec<f32>], tap: &[Vec<f32>], gain: f32, frames: usize) {
    for (s, t) in sum.iter_mut().zip(tap) {
        if gain == 1.0 {
            for (s, &t) in s[..frames].iter_mut().zip(&t[..frames]) {
                *s += t;
            }
        } else {
            for (s, &t) in s[..frames].iter_mut().zip(&t[..frames]) {
                *s += gain * t;
            }
        }
    }
}

/// A file that receives one node's output, aligned with the timeline: the first
/// `latency` frames the node produces are dropped, then `length` frames are kept.
pub struct AlignedWriter {
    writer: AudioWriter,
    latency_frames: u64,
    length_frames: u64,
}

impl AlignedWriter {
    /// Wraps `writer` for a node lagging the timeline by `latency_frames`.
    pub fn new(writer: AudioWriter, latency_frames: usize, length_frames: u64) -> Self {
        Self {
            writer,
            latency_frames: latency_frames as u64,
            length_frames,
        }
    }

    /// Writes the part of `block` (rendered frames `[index, index + frames)`) that
    /// falls on the timeline.
    pub fn write(&mut self, block: &[Vec<f32>], index: u64, frames: usize) -> Result<(), IoError> {
        match on_timeline(index, frames, self.latency_frames, self.length_frames) {
            Some(range) => {
                let slices: Vec<&[f32]> = block.iter().map(|c| &c[range.clone()]).collect();
                self.writer.write(&slices)
            }
            None => Ok(()),
        }
    }

    /// Completes the file (renames it into place).
    pub fn finish(self) -> Result<(), IoError> {
        self.writer.finish()
    }
}

/// The frames of a rendered block `[index, index + frames)` that fall on the timeline
/// of a node lagging it by `latency_frames`, as a range within the block.
pub fn on_timeline(
    index: u64,
    frames: usize,
    latency_frames: u64,
    length_frames: u64,
) -> Option<Range<usize>> {
    let first = index.max(latency_frames);
    let last = (index + frames as u64).min(latency_frames + length_frames);
    (first < last).then(|| (first - index) as usize..(last - index) as usize)
}

/// Integrated loudness of one node's output, aligned with the timeline like
/// [`AlignedWriter`].
pub struct AlignedMeter {
    meter: GatedLoudness,
    latency_frames: u64,
    length_frames: u64,
}

impl AlignedMeter {
    /// A meter for a stereo node lagging the timeline by `latency_frames`.
    pub fn new(sample_rate_hz: u32, latency_frames: usize, length_frames: u64) -> Self {
        Self {
            meter: GatedLoudness::new(2, sample_rate_hz),
            latency_frames: latency_frames as u64,
            length_frames,
        }
    }

    /// Meters the part of `block` on the timeline.
    pub fn add(&mut self, block: &[Vec<f32>], index: u64, frames: usize) {
        if let Some(range) = on_timeline(index, frames, self.latency_frames, self.length_frames) {
            let slices: Vec<&[f32]> = block.iter().map(|c| &c[range.clone()]).collect();
            self.meter.add(&slices);
        }
    }

    /// Gated integrated loudness, LUFS.
    pub fn loudness_lufs(&self) -> Option<f64> {
        self.meter.loudness_lufs()
    }
}
