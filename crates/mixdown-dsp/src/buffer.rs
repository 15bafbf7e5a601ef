//! Planar `f32` audio, the one in-memory audio shape every mixdown layer passes around.

/// A block of planar audio: one `Vec<f32>` per channel, all of equal length,
/// nominal full scale ±1.0.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBuffer {
    /// Sample rate in hertz.
    pub sample_rate_hz: u32,
    /// One vector per channel; every channel has the same number of frames.
    pub channels: Vec<Vec<f32>>,
}

impl AudioBuffer {
    /// A buffer of `frame_count` zero frames.
    pub fn silent(sample_rate_hz: u32, channel_count: usize, frame_count: usize) -> Self {
        Self {
            sample_rate_hz,
            channels: vec![vec![0.0; frame_count]; channel_count],
        }
    }

    /// Wraps planar channels. Panics if the channels differ in length: that is a
    /// programming error, never a property of user input.
    pub fn from_channels(sample_rate_hz: u32, channels: Vec<Vec<f32>>) -> Self {
        let frames = channels.first().map_or(0, Vec::len);
        assert!(
            channels.iter().all(|c| c.len() == frames),
            "AudioBuffer channels must have equal length"
        );
        Self {
            sample_rate_hz,
            channels,
        }
    }

    /// Number of channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Number of frames (samples per channel).
    pub fn frame_count(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frame_count() as f64 / f64::from(self.sample_rate_hz)
    }

    /// Borrowed channel slices, the shape meters and encoders take.
    pub fn channel_slices(&self) -> Vec<&[f32]> {
        self.channels.iter().map(Vec::as_slice).collect()
    }

    /// Adds `other` into `self`, sample by sample. Both must have the same channel
    /// count; a shorter `other` is treated as padded with silence, a longer one
    /// extends `self`.
    pub fn mix_in(&mut self, other: &AudioBuffer) {
        assert_eq!(self.channel_count(), other.channel_count());
        let frames = self.frame_count().max(other.frame_count());
        for (dst, src) in self.channels.iter_mut().zip(&other.channels) {
            dst.resize(frames, 0.0);
            for (d, s) in dst.iter_mut().zip(src) {
                *d += *s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_in_pads_and_sums() {
        let mut a = AudioBuffer::from_channels(48_000, vec![vec![1.0, 2.0], vec![0.5, 0.5]]);
        let b = AudioBuffer::from_channels(48_000, vec![vec![1.0, 1.0, 1.0], vec![0.0, 0.0, -1.0]]);
        a.mix_in(&b);
        assert_eq!(a.channels, vec![vec![2.0, 3.0, 1.0], vec![0.5, 0.5, -1.0]]);
        assert_eq!(a.frame_count(), 3);
        assert!((a.duration_s() - 3.0 / 48_000.0).abs() < 1e-15);
    }
}
