//! Sample-level statistics gathered in one pass: peaks, RMS, DC, clipping, correlation.

use mixdown_dsp::units::{finite_or_none, gain_to_db, power_to_db};

/// Magnitude at or above which a sample counts as clipped: the largest positive
/// 16-bit code, 32767/32768 (−0.00027 dBFS). Any integer format's full-scale
/// samples reach it, and a float sample this close to full scale has, in practice,
/// hit a ceiling.
pub const CLIP_THRESHOLD: f32 = 32_767.0 / 32_768.0;

/// Accumulated sample statistics of a planar signal.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LevelStats {
    frames: u64,
    sum: Vec<f64>,
    sum_squares: Vec<f64>,
    peak: Vec<f32>,
    clipped: u64,
    sum_left_right: f64,
}

impl LevelStats {
    /// Empty statistics for `channel_count` channels.
    pub fn new(channel_count: usize) -> Self {
        Self {
            frames: 0,
            sum: vec![0.0; channel_count],
            sum_squares: vec![0.0; channel_count],
            peak: vec![0.0; channel_count],
            clipped: 0,
            sum_left_right: 0.0,
        }
    }

    /// Adds a planar block; it must have the channel count given to [`new`](Self::new).
    pub fn add(&mut self, block: &[&[f32]]) {
        debug_assert_eq!(block.len(), self.sum.len());
        for (ch, samples) in block.iter().enumerate() {
            // f32 partial sums over short chunks keep full accuracy (a 1024-sample
            // f32 sum errs by ~1e-5 relative at worst); the running totals are f64.
            for chunk in samples.chunks(1024) {
                // Eight independent lanes: no loop-carried dependency between them,
                // so the loop compiles to SIMD adds, multiplies and maxes.
                let (mut sum, mut squares, mut peak, mut clipped) =
                    ([0.0f32; 8], [0.0f32; 8], [0.0f32; 8], [0u32; 8]);
                let lanes = chunk.chunks_exact(8);
                let tail = lanes.remainder();
                for group in lanes {
                    for i in 0..8 {
                        let magnitude = group[i].abs();
                        sum[i] += group[i];
                        squares[i] += group[i] * group[i];
                        peak[i] = if magnitude > peak[i] {
                            magnitude
                        } else {
                            peak[i]
                        };
                        clipped[i] += u32::from(magnitude >= CLIP_THRESHOLD);
                    }
                }
                for (i, &x) in tail.iter().enumerate() {
                    let magnitude = x.abs();
                    sum[i] += x;
                    squares[i] += x * x;
                    peak[i] = peak[i].max(magnitude);
                    clipped[i] += u32::from(magnitude >= CLIP_THRESHOLD);
                }
                self.sum[ch] += sum.iter().map(|&v| f64::from(v)).sum::<f64>();
                self.sum_squares[ch] += squares.iter().map(|&v| f64::from(v)).sum::<f64>();
                self.peak[ch] = peak.iter().copied().fold(self.peak[ch], f32::max);
                self.clipped += clipped.iter().map(|&c| u64::from(c)).sum::<u64>();
            }
        }
        if let [left, right, ..] = block {
            for (l, r) in left.chunks(1024).zip(right.chunks(1024)) {
                let cross: f32 = l.iter().zip(r).map(|(a, b)| a * b).sum();
                self.sum_left_right += f64::from(cross);
            }
        }
        self.frames += block.first().map_or(0, |c| c.len() as u64);
    }

    /// Number of channels measured.
    pub fn channel_count(&self) -> usize {
        self.sum.len()
    }

    /// Highest sample magnitude over all channels, dBFS.
    pub fn sample_peak_dbfs(&self) -> Option<f64> {
        let peak = self.peak.iter().copied().fold(0.0f32, f32::max);
        finite_or_none(gain_to_db(f64::from(peak)))
    }

    /// RMS over all channels pooled, dBFS (a full-scale square wave reads 0 dB).
    pub fn rms_dbfs(&self) -> Option<f64> {
        let samples = self.frames * self.sum.len() as u64;
        if samples == 0 {
            return None;
        }
        finite_or_none(power_to_db(
            self.sum_squares.iter().sum::<f64>() / samples as f64,
        ))
    }

    /// Crest factor: sample peak over RMS, dB.
    pub fn crest_db(&self) -> Option<f64> {
        Some(self.sample_peak_dbfs()? - self.rms_dbfs()?)
    }

    /// Largest per-channel mean (DC offset) magnitude, dBFS; `None` when there is none.
    pub fn dc_offset_dbfs(&self) -> Option<f64> {
        if self.frames == 0 {
            return None;
        }
        let worst = self
            .sum
            .iter()
            .map(|s| (s / self.frames as f64).abs())
            .fold(0.0, f64::max);
        finite_or_none(gain_to_db(worst))
    }

    /// Pearson correlation of the first two channels about zero (the phase-meter
    /// convention: +1 mono-compatible, 0 unrelated, −1 out of phase). `None` for
    /// mono or when either channel is silent.
    pub fn stereo_correlation(&self) -> Option<f64> {
        if self.sum.len() < 2 {
            return None;
        }
        let denominator = (self.sum_squares[0] * self.sum_squares[1]).sqrt();
        (denominator > 0.0).then(|| (self.sum_left_right / denominator).clamp(-1.0, 1.0))
    }

    /// Samples at or above [`CLIP_THRESHOLD`], counted over all channels.
    pub fn clipped_samples(&self) -> u64 {
        self.clipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_wave_statistics() {
        let left: Vec<f32> = (0..1000)
            .map(|i| if i % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        let right: Vec<f32> = left.iter().map(|x| -x).collect();
        let mut stats = LevelStats::new(2);
        stats.add(&[&left, &right]);
        assert!((stats.sample_peak_dbfs().unwrap() + 6.0206).abs() < 1e-3);
        assert!(stats.crest_db().unwrap().abs() < 1e-9);
        assert!((stats.stereo_correlation().unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(stats.dc_offset_dbfs(), None);
        assert_eq!(stats.clipped_samples(), 0);
    }

    #[test]
    fn sine_crest_dc_and_clipping() {
        let n = 48_000;
        let sine: Vec<f32> = (0..n)
            .map(|i| (0.9 * (std::f64::consts::TAU * 1000.0 * i as f64 / 48_000.0).sin()) as f32)
            .collect();
        let offset: Vec<f32> = vec![0.01; n];
        let mut stats = LevelStats::new(2);
        stats.add(&[&sine, &offset]);
        stats.add(&[&[1.0, -1.0, 0.2], &[0.0, 0.0, 0.0]]);
        assert_eq!(stats.clipped_samples(), 2);
        assert!((stats.dc_offset_dbfs().unwrap() + 40.0).abs() < 0.01);
        let mut mono = LevelStats::new(1);
        mono.add(&[&sine]);
        assert!((mono.crest_db().unwrap() - 3.0103).abs() < 1e-3);
        assert_eq!(mono.stereo_correlation(), None);
    }

    #[test]
    fn silence_is_undefined_not_infinite() {
        let mut stats = LevelStats::new(2);
        stats.add(&[&[0.0; 100], &[0.0; 100]]);
        assert_eq!(stats.sample_peak_dbfs(), None);
        assert_eq!(stats.crest_db(), None);
        assert_eq!(stats.stereo_correlation(), None);
        assert_eq!(stats.dc_offset_dbfs(), None);
    }
}
