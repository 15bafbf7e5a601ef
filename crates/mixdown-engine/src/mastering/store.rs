//! Where the processed (pre-limiter) programme waits for the loudness passes: in
//! memory for songs, in a temporary file for long programmes, so memory stays
//! bounded whatever the length.

use super::MasterError;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// Programmes up to this many samples (all channels) stay in memory: 32 Mi
/// samples = 128 MiB of `f32`, about 6 minutes of 44.1 kHz stereo.
pub(super) const MEMORY_LIMIT_SAMPLES: usize = 32 << 20;
/// Frames per chunk in the spill file (planar within a chunk).
const SPILL_CHUNK_FRAMES: usize = 65_536;

/// Processed audio, appended once and read back any number of times.
pub struct ProcessedAudio {
    channel_count: usize,
    frames: usize,
    storage: Storage,
}

enum Storage {
    Memory(Vec<Vec<f32>>),
    Spilled {
        writer: Option<BufWriter<File>>,
        file: Option<File>,
        pending: Vec<Vec<f32>>,
    },
}

fn spill_error(error: std::io::Error) -> MasterError {
    MasterError::Invalid(format!(
        "temporary storage for the processed audio failed: {error}"
    ))
}

impl ProcessedAudio {
    /// Storage for about `expected_frames` frames of `channel_count` channels.
    pub fn new(channel_count: usize, expected_frames: usize) -> Result<Self, MasterError> {
        Self::with_memory_limit(channel_count, expected_frames, MEMORY_LIMIT_SAMPLES)
    }

    fn with_memory_limit(
        channel_count: usize,
        expected_frames: usize,
        limit_samples: usize,
    ) -> Result<Self, MasterError> {
        let storage = if expected_frames.saturating_mul(channel_count) <= limit_samples {
            Storage::Memory(vec![Vec::with_capacity(expected_frames); channel_count])
        } else {
            // An anonymous temporary file: the system removes it however we end.
            let file = tempfile::tempfile().map_err(spill_error)?;
            let writer = BufWriter::new(file.try_clone().map_err(spill_error)?);
            Storage::Spilled {
                writer: Some(writer),
                file: Some(file),
                pending: vec![Vec::with_capacity(SPILL_CHUNK_FRAMES); channel_count],
            }
        };
        Ok(Self {
            channel_count,
            frames: 0,
            storage,
        })
    }

    /// Frames stored.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Channel count.
    pub fn channel_count(&self) -> usize {
        self.channel_count
    }

    /// The stored channels, when they are held in memory.
    pub fn in_memory(&self) -> Option<&[Vec<f32>]> {
        match &self.storage {
            Storage::Memory(channels) => Some(channels),
            Storage::Spilled { .. } => None,
        }
    }

    /// Appends a planar block.
    pub fn push(&mut self, block: &[&[f32]]) -> Result<(), MasterError> {
        let frames = block.first().map_or(0, |c| c.len());
        self.frames += frames;
        match &mut self.storage {
            Storage::Memory(channels) => {
                for (stored, new) in channels.iter_mut().zip(block) {
                    stored.extend_from_slice(new);
                }
            }
            Storage::Spilled {
                writer, pending, ..
            } => {
                let writer = writer
                    .as_mut()
                    .ok_or_else(|| spill_error(std::io::ErrorKind::Other.into()))?;
                let mut offset = 0;
                while offset < frames {
                    let take = (SPILL_CHUNK_FRAMES - pending[0].len()).min(frames - offset);
                    for (p, b) in pending.iter_mut().zip(block) {
                        p.extend_from_slice(&b[offset..offset + take]);
                    }
                    offset += take;
                    if pending[0].len() == SPILL_CHUNK_FRAMES {
                        write_chunk(writer, pending)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends appending (flushes the spill file).
    pub fn seal(&mut self) -> Result<(), MasterError> {
        if let Storage::Spilled {
            writer, pending, ..
        } = &mut self.storage
        {
            if let Some(mut w) = writer.take() {
                write_chunk(&mut w, pending)?;
                w.flush().map_err(spill_error)?;
            }
        }
        Ok(())
    }

    /// Calls `each` with the stored audio in order, in blocks of at most `block_frames`.
    pub fn for_each_block(
        &mut self,
        block_frames: usize,
        mut each: impl FnMut(&[&[f32]]) -> Result<(), MasterError>,
    ) -> Result<(), MasterError> {
        let block_frames = block_frames.max(1);
        let mut emit = |channels: &[Vec<f32>]| in_blocks(channels, block_frames, &mut each);
        let total_frames = self.frames;
        let channel_count = self.channel_count;
        match &mut self.storage {
            Storage::Memory(channels) => emit(channels),
            Storage::Spilled { file, .. } => {
                let file = file
                    .as_mut()
                    .ok_or_else(|| spill_error(std::io::ErrorKind::Other.into()))?;
                file.seek(SeekFrom::Start(0)).map_err(spill_error)?;
                let mut reader = BufReader::with_capacity(1 << 20, &*file);
                let mut chunk = vec![Vec::with_capacity(SPILL_CHUNK_FRAMES); channel_count];
                let mut bytes = vec![0u8; SPILL_CHUNK_FRAMES * 4];
                let mut remaining = total_frames;
                while remaining > 0 {
                    let frames = remaining.min(SPILL_CHUNK_FRAMES);
                    for channel in &mut chunk {
                        reader
                            .read_exact(&mut bytes[..frames * 4])
                            .map_err(spill_error)?;
                        channel.clear();
                        channel.extend(
                            bytes[..frames * 4]
                                .chunks_exact(4)
                                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                        );
                    }
                    emit(&chunk)?;
                    remaining -= frames;
                }
                Ok(())
            }
        }
    }
}

/// Calls `each` with consecutive planar slices of `channels`, at most
/// `block_frames` (≥ 1) frames long.
pub(super) fn in_blocks(
    channels: &[Vec<f32>],
    block_frames: usize,
    each: &mut impl FnMut(&[&[f32]]) -> Result<(), MasterError>,
) -> Result<(), MasterError> {
    let frames = channels.first().map_or(0, Vec::len);
    for start in (0..frames).step_by(block_frames.max(1)) {
        let end = (start + block_frames).min(frames);
        let block: Vec<&[f32]> = channels.iter().map(|c| &c[start..end]).collect();
        each(&block)?;
    }
    Ok(())
}

/// Writes the pending chunk planar (channel after channel) and empties it.
fn write_chunk(writer: &mut BufWriter<File>, pending: &mut [Vec<f32>]) -> Result<(), MasterError> {
    for channel in pending.iter_mut() {
        for sample in channel.iter() {
            writer
                .write_all(&sample.to_le_bytes())
                .map_err(spill_error)?;
        }
        channel.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(store: &mut ProcessedAudio, block_frames: usize) -> Vec<Vec<f32>> {
        let mut out = vec![Vec::new(); store.channel_count()];
        store
            .for_each_block(block_frames, |block| {
                for (o, b) in out.iter_mut().zip(block) {
                    o.extend_from_slice(b);
                }
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn memory_and_spill_file_give_back_the_same_audio() {
        let frames = 200_003;
        let left: Vec<f32> = (0..frames).map(|i| (i as f32 * 0.001).sin()).collect();
        let right: Vec<f32> = (0..frames).map(|i| -(i as f32 * 0.0007).cos()).collect();
        for limit in [usize::MAX, 0] {
            let mut store = ProcessedAudio::with_memory_limit(2, frames, limit).unwrap();
            for start in (0..frames).step_by(4_097) {
                let end = (start + 4_097).min(frames);
                store
                    .push(&[&left[start..end], &right[start..end]])
                    .unwrap();
            }
            store.seal().unwrap();
            assert_eq!(store.frames(), frames);
            for block in [1_000, 65_536, 100_000] {
                // Read twice: every loudness pass reads the whole programme again.
                assert_eq!(
                    read_all(&mut store, block),
                    vec![left.clone(), right.clone()]
                );
            }
        }
    }
}
