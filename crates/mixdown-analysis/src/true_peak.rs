//! True peak (ITU-R BS.1770-4 Annex 2) read exactly as libebur128 and the `ebur128`
//! crate read it, several times faster.
//!
//! The interpolator is theirs: a 48-tap Hann-windowed sinc split into 4 phases of
//! 12 taps (2 phases of 24 from 96 kHz; none from 192 kHz, where the sample peak
//! stands in), run in `f32` with the taps summed in the same order, newest sample
//! first, from the same zero history. Each interpolated value is therefore the same
//! `f32`, and so is their maximum, the channel's true peak (never below its sample
//! peak). What differs is the schedule:
//!
//! - eight consecutive output periods are computed together, so the sums vectorise
//!   (each value still sums its own taps in order, so the result is bit-identical);
//! - a stretch is skipped when it cannot raise the maximum: every interpolated value
//!   is a weighted sum of the samples within the filter's reach, so it is at most
//!   `max |x| · Σ |taps|` of its phase. When that bound (with room for `f32`
//!   rounding) is below the running maximum, the stretch's values cannot change the
//!   maximum, whatever they are. Quiet passages and the body of a limited master cost
//!   only the sample-peak scan.

use std::f64::consts::PI;

/// Taps of the whole interpolation filter (libebur128's 49-tap window, less its zero tap).
const FILTER_TAPS: usize = 48;
/// Output periods computed together: two SSE registers per phase.
const LANES: usize = 8;
/// Frames examined per skip decision.
const CHUNK_FRAMES: usize = 512;
/// Relative room for `f32` rounding in the skip bound: a 24-term `f32` sum is off by at
/// most ≈ 24 · 2⁻²⁴ ≈ 1.4·10⁻⁶ of its absolute terms.
const ROUNDING_ROOM: f64 = 1e-4;

/// The polyphase taps, `taps[k][p]`: the weight of the sample `k` periods back in phase `p`.
#[derive(Debug, Clone)]
enum Phases {
    /// Below 96 kHz: 4×.
    Four(Box<[[f32; 4]; 12]>),
    /// From 96 kHz to 192 kHz: 2×.
    Two(Box<[[f32; 2]; 24]>),
    /// From 192 kHz: the sample peak is the true peak.
    None,
}

/// libebur128's interpolation filter for `factor`, as `taps[k][p]` (coefficient
/// `k · factor + p` of the Hann-windowed sinc), computed as it computes it.
fn polyphase<const F: usize, const T: usize>() -> [[f32; F]; T] {
    let mut taps = [[0.0f32; F]; T];
    for (j, tap) in taps.iter_mut().flat_map(|row| row.iter_mut()).enumerate() {
        let j = j as f64;
        let window = FILTER_TAPS as f64;
        let hann = 0.5 * (1.0 - (2.0 * PI * j / window).cos());
        let m = j - window / 2.0;
        *tap = if m.abs() > 0.000_001 {
            hann * (m * PI / F as f64).sin() / (m * PI / F as f64)
        } else {
            hann
        } as f32;
    }
    taps
}

/// Largest `Σ_k |taps[k][p]|` over the phases, widened by [`ROUNDING_ROOM`].
fn overshoot_bound<const F: usize>(taps: &[[f32; F]]) -> f32 {
    let largest = (0..F)
        .map(|p| taps.iter().map(|row| f64::from(row[p].abs())).sum::<f64>())
        .fold(0.0, f64::max);
    (largest * (1.0 + ROUNDING_ROOM)) as f32
}

/// Streaming true-peak meter of any number of channels.
#[derive(Debug, Clone)]
pub struct TruePeakMeter {
    phases: Phases,
    /// See [`overshoot_bound`].
    bound: f32,
    channels: Vec<ChannelPeak>,
}

#[derive(Debug, Clone)]
struct ChannelPeak {
    /// The taps' history (`reach` samples), the chunk, then lane padding.
    buffer: Vec<f32>,
    /// Largest interpolated magnitude so far.
    interpolated: f32,
    /// Largest sample magnitude so far.
    sample: f32,
}

impl TruePeakMeter {
    /// A meter for `channel_count` channels at `sample_rate_hz`.
    pub fn new(channel_count: usize, sample_rate_hz: u32) -> Self {
        let (phases, bound, reach) = if sample_rate_hz < 96_000 {
            let taps = polyphase::<4, 12>();
            (Phases::Four(Box::new(taps)), overshoot_bound(&taps), 11)
        } else if sample_rate_hz < 192_000 {
            let taps = polyphase::<2, 24>();
            (Phases::Two(Box::new(taps)), overshoot_bound(&taps), 23)
        } else {
            (Phases::None, 1.0, 0)
        };
        Self {
            phases,
            bound,
            channels: vec![
                ChannelPeak {
                    buffer: vec![0.0; reach + CHUNK_FRAMES + LANES],
                    interpolated: 0.0,
                    sample: 0.0,
                };
                channel_count
            ],
        }
    }

    /// Adds a planar block (`block[channel][frame]`); extra channels are ignored.
    pub fn add(&mut self, block: &[&[f32]]) {
        for (channel, samples) in self.channels.iter_mut().zip(block) {
            for chunk in samples.chunks(CHUNK_FRAMES) {
                match &self.phases {
                    Phases::Four(taps) => channel.add_chunk(taps, self.bound, chunk),
                    Phases::Two(taps) => channel.add_chunk(taps, self.bound, chunk),
                    Phases::None => channel.sample = magnitude_max(channel.sample, chunk),
                }
            }
        }
    }

    /// True peak of each channel so far, linear (the larger of the interpolated and
    /// the sample peak, as `ebur128` reports it).
    pub fn channel_peaks(&self) -> impl Iterator<Item = f64> + '_ {
        self.channels
            .iter()
            .map(|c| f64::from(c.interpolated.max(c.sample)))
    }

    /// Highest true peak over all channels so far, linear.
    pub fn peak(&self) -> f64 {
        self.channel_peaks().fold(0.0, f64::max)
    }
}

/// The larger of `max` and the largest magnitude in `samples`.
fn magnitude_max(max: f32, samples: &[f32]) -> f32 {
    samples
        .iter()
        .fold(max, |m, &x| if x.abs() > m { x.abs() } else { m })
}

impl ChannelPeak {
    fn add_chunk<const F: usize, const T: usize>(
        &mut self,
        taps: &[[f32; F]; T],
        bound: f32,
        chunk: &[f32],
    ) {
        let reach = T - 1;
        let frames = chunk.len();
        self.buffer[reach..reach + frames].copy_from_slice(chunk);
        self.sample = magnitude_max(self.sample, chunk);
        // Every value of this chunk is a weighted sum of these samples.
        let window_max = magnitude_max(0.0, &self.buffer[..reach + frames]);
        if window_max * bound >= self.interpolated {
            self.interpolated = interpolated_max(taps, &self.buffer, frames, self.interpolated);
        }
        self.buffer.copy_within(frames..frames + reach, 0);
    }
}

/// The larger of `max` and the largest interpolated magnitude of the `frames` samples
/// that follow the `T − 1` samples of history at the start of `buffer`.
fn interpolated_max<const F: usize, const T: usize>(
    taps: &[[f32; F]; T],
    buffer: &[f32],
    frames: usize,
    max: f32,
) -> f32 {
    let reach = T - 1;
    let mut lane_max = [max; LANES];
    let mut start = 0;
    while start < frames {
        // values[p][lane]: phase p of the period ending at sample start + lane.
        let mut values = [[0.0f32; LANES]; F];
        for (k, row) in taps.iter().enumerate() {
            let x: &[f32; LANES] = buffer[reach + start - k..][..LANES]
                .try_into()
                .expect("LANES-long slice");
            for (phase, &weight) in values.iter_mut().zip(row) {
                for (v, &x) in phase.iter_mut().zip(x) {
                    *v += weight * x;
                }
            }
        }
        // Lanes past the chunk read padding; they are left out.
        let valid = (frames - start).min(LANES);
        for phase in &values {
            for (m, v) in lane_max[..valid].iter_mut().zip(phase) {
                if v.abs() > *m {
                    *m = v.abs();
                }
            }
        }
        start += LANES;
    }
    lane_max.iter().fold(max, |m, &v| if v > m { v } else { m })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebur128::{EbuR128, Mode};

    fn ebur128_peaks(channels: &[&[f32]], rate: u32) -> Vec<f64> {
        let mut meter = EbuR128::new(channels.len() as u32, rate, Mode::TRUE_PEAK).unwrap();
        meter.add_frames_planar_f32(channels).unwrap();
        (0..channels.len() as u32)
            .map(|c| meter.true_peak(c).unwrap())
            .collect()
    }

    fn test_signal(seed: u64, frames: usize) -> Vec<f32> {
        let mut noise = mixdown_dsp::dither::NoiseSource::new(seed);
        (0..frames)
            .map(|n| {
                // Quiet stretches (skipped), near-Nyquist tones and noise bursts.
                let section = (n / 3_000) % 4;
                let t = n as f64;
                let value = match section {
                    0 => 0.01 * noise.next_uniform(),
                    1 => 0.7 * (t * PI * 0.98).sin() + 0.2 * noise.next_uniform(),
                    2 => 0.9 * noise.next_uniform() * 2.0,
                    _ => 0.5 * (t * 0.031).sin() + 0.45 * (t * 2.9).cos(),
                };
                value as f32
            })
            .collect()
    }

    #[test]
    fn reads_exactly_what_ebur128_reads_at_every_rate_and_block_size() {
        for rate in [44_100, 48_000, 96_000, 192_000] {
            let left = test_signal(1, 40_000);
            let right: Vec<f32> = test_signal(2, 40_000).iter().map(|x| -0.8 * x).collect();
            let expected = ebur128_peaks(&[&left, &right], rate);
            for block in [1, 37, 512, 4_096, 40_000] {
                let mut meter = TruePeakMeter::new(2, rate);
                for (l, r) in left.chunks(block).zip(right.chunks(block)) {
                    meter.add(&[l, r]);
                }
                let got: Vec<f64> = meter.channel_peaks().collect();
                assert_eq!(got, expected, "{rate} Hz, blocks of {block}");
            }
        }
    }

    #[test]
    fn a_quarter_rate_sine_reads_its_crest_between_the_samples() {
        // Samples at ±0.707·A; the continuous peak A lies between them.
        let samples: Vec<f32> = (0..4_000)
            .map(|n| (0.5 * (PI / 2.0 * n as f64 + PI / 4.0).sin()) as f32)
            .collect();
        let mut meter = TruePeakMeter::new(1, 48_000);
        meter.add(&[&samples]);
        assert!((meter.peak() - 0.5).abs() < 0.01, "{}", meter.peak());
    }

    #[test]
    fn the_skip_bound_holds_for_the_worst_signal() {
        // The signal that maximises phase p is sign(taps[k][p]) · A: its value is the
        // bound itself, which must not exceed the widened bound.
        let taps = polyphase::<4, 12>();
        let bound = overshoot_bound(&taps);
        for p in 0..4 {
            let value: f64 = taps.iter().map(|row| f64::from(row[p].abs())).sum();
            assert!(value <= f64::from(bound));
            assert!(value >= 1.0 - 1e-6, "phase {p} sums to {value}");
        }
    }
}
