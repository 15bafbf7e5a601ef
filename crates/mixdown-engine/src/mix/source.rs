//! Stems as a continuous signal on the session timeline: silence before the stem
//! starts, its frames (faded in and out, polarity applied), silence after it ends.

use mixdown_dsp::AudioBuffer;
use mixdown_io::{AudioReader, IoError};
use std::f64::consts::PI;
use std::path::Path;

/// Where a stem's frames come from.
enum Frames {
    /// Decoded packet by packet: memory stays bounded whatever the stem's length.
    Stream {
        reader: AudioReader,
        /// Decoded frames not handed out yet, per channel, from `pending_start`.
        pending: Vec<Vec<f32>>,
        pending_start: usize,
    },
    /// Resampled to the session rate (the resampler needs the whole stem).
    Memory {
        audio: AudioBuffer,
        next_frame: usize,
    },
}

/// One stem placed on the timeline.
pub struct StemSource {
    frames: Frames,
    channel_count: usize,
    /// Silent frames before the stem's first frame.
    lead_in_frames: u64,
    /// Frames of the stem itself.
    stem_frames: u64,
    /// Timeline frames handed out so far.
    position: u64,
    polarity: f32,
    fade_in_frames: u64,
    fade_out_frames: u64,
}

/// How a stem is placed and shaped.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// Silent frames before the stem starts.
    pub lead_in_frames: u64,
    /// Flip the polarity.
    pub invert_polarity: bool,
    /// Raised-cosine fade-in length, frames.
    pub fade_in_frames: u64,
    /// Raised-cosine fade-out length, frames.
    pub fade_out_frames: u64,
}

impl StemSource {
    /// Opens `path` for streaming at its own rate; `stem_frames` is its length.
    pub fn stream(path: &Path, stem_frames: u64, placement: Placement) -> Result<Self, IoError> {
        let reader = AudioReader::open(path)?;
        let channel_count = reader.channel_count();
        Ok(Self::new(
            Frames::Stream {
                reader,
                pending: vec![Vec::new(); channel_count],
                pending_start: 0,
            },
            channel_count,
            stem_frames,
            placement,
        ))
    }

    /// A stem already in memory (decoded and resampled).
    pub fn memory(audio: AudioBuffer, placement: Placement) -> Self {
        let channel_count = audio.channel_count();
        let stem_frames = audio.frame_count() as u64;
        Self::new(
            Frames::Memory {
                audio,
                next_frame: 0,
            },
            channel_count,
            stem_frames,
            placement,
        )
    }

    fn new(frames: Frames, channel_count: usize, stem_frames: u64, placement: Placement) -> Self {
        // A fade never covers more than the stem.
        let fade_in_frames = placement.fade_in_frames.min(stem_frames);
        let fade_out_frames = placement.fade_out_frames.min(stem_frames);
        Self {
            frames,
            channel_count,
            lead_in_frames: placement.lead_in_frames,
            stem_frames,
            position: 0,
            polarity: if placement.invert_polarity { -1.0 } else { 1.0 },
            fade_in_frames,
            fade_out_frames,
        }
    }

    /// Channels of the stem (1 or 2).
    pub fn channel_count(&self) -> usize {
        self.channel_count
    }

    /// The timeline frame after the stem's last one.
    pub fn end_frame(&self) -> u64 {
        self.lead_in_frames + self.stem_frames
    }

    /// Fills `block[channel][..frames]` with the next `frames` timeline frames.
    pub fn read(&mut self, block: &mut [Vec<f32>], frames: usize) -> Result<(), IoError> {
        let start = self.position;
        self.position += frames as u64;
        for channel in block.iter_mut() {
            channel[..frames].fill(0.0);
        }
        // The part of [start, start + frames) the stem covers, as stem frames.
        let first = start.max(self.lead_in_frames);
        let last = (start + frames as u64).min(self.end_frame());
        if first >= last {
            return Ok(());
        }
        let offset = (first - start) as usize;
        let count = (last - first) as usize;
        self.take(block, offset, count)?;
        self.shape(block, offset, count, first - self.lead_in_frames);
        Ok(())
    }

    /// Copies the next `count` stem frames into `block[..][offset..]`. A stem that ends
    /// early (shorter than its header said) leaves silence.
    fn take(&mut self, block: &mut [Vec<f32>], offset: usize, count: usize) -> Result<(), IoError> {
        match &mut self.frames {
            Frames::Memory { audio, next_frame } => {
                for (out, channel) in block.iter_mut().zip(&audio.channels) {
                    let available = channel.len().saturating_sub(*next_frame).min(count);
                    out[offset..offset + available]
                        .copy_from_slice(&channel[*next_frame..*next_frame + available]);
                }
                *next_frame += count;
            }
            Frames::Stream {
                reader,
                pending,
                pending_start,
            } => {
                let mut filled = 0;
                while filled < count {
                    let available = pending[0].len() - *pending_start;
                    if available == 0 {
                        pending.iter_mut().for_each(Vec::clear);
                        *pending_start = 0;
                        match reader.next_block()? {
                            Some(decoded) => {
                                for (p, d) in pending.iter_mut().zip(decoded) {
                                    p.extend_from_slice(d);
                                }
                                continue;
                            }
                            None => break,
                        }
                    }
                    let n = available.min(count - filled);
                    for (out, p) in block.iter_mut().zip(pending.iter()) {
                        out[offset + filled..offset + filled + n]
                            .copy_from_slice(&p[*pending_start..*pending_start + n]);
                    }
                    *pending_start += n;
                    filled += n;
                }
            }
        }
        Ok(())
    }

    /// Polarity and fades over `count` frames at `block[..][offset..]`, whose first
    /// frame is stem frame `stem_frame`.
    fn shape(&self, block: &mut [Vec<f32>], offset: usize, count: usize, stem_frame: u64) {
        let fade_out_start = self.stem_frames - self.fade_out_frames;
        let in_fade = |i: u64| i < self.fade_in_frames || i >= fade_out_start;
        let touches_fade = in_fade(stem_frame) || in_fade(stem_frame + count as u64 - 1);
        if self.polarity == 1.0 && !touches_fade {
            return;
        }
        for channel in block.iter_mut() {
            for (k, x) in channel[offset..offset + count].iter_mut().enumerate() {
                let i = stem_frame + k as u64;
                let mut gain = f64::from(self.polarity);
                if i < self.fade_in_frames {
                    gain *= raised_cosine(i as f64 / self.fade_in_frames as f64);
                }
                if i >= fade_out_start && self.fade_out_frames > 0 {
                    // The last frame of the stem is the last one above silence.
                    let remaining = (self.stem_frames - i) as f64;
                    gain *= raised_cosine(remaining / self.fade_out_frames as f64);
                }
                *x = (f64::from(*x) * gain) as f32;
            }
        }
    }
}

/// The raised-cosine (Hann) fade curve: 0 at 0, 1 at 1, smooth at both ends.
fn raised_cosine(progress: f64) -> f64 {
    0.5 - 0.5 * (PI * progress.clamp(0.0, 1.0)).cos()
}
