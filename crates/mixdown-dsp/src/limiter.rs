//! Stereo-linked true-peak lookahead limiter.
//!
//! Per sample the required gain is `g_req = min(1, ceiling / true_peak)`, with the true
//! peak estimated by [`TruePeakDetector`] (ITU-R BS.1770-4 Annex 2 style oversampling).
//! The applied gain is the moving average over `W` samples of the moving minimum over
//! the same `W` samples, so every sample's gain is an average of values that are each
//! ≤ its `g_req`: the ceiling holds at every peak while the gain ramps down linearly
//! over the lookahead, without clicks. Release is a first-order recovery toward unity
//! inserted before the average, so it is smoothed too. This is the structure of
//! Sanfilippo's and Signalsmith's lookahead limiters ("Limiter", 2022); see also
//! Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor Design", JAES 60(6), 2012.

use crate::oversampling::TruePeakDetector;
use crate::processor::Processor;
use crate::units::db_to_gain;

/// Internal headroom below the ceiling, dB. Multiplying the signal by a gain that
/// moves lets the product's inter-sample peaks exceed the detected ones slightly, and
/// the detector itself reads up to ≈ 0.03 dB low below 0.45·fs; this margin covers
/// both, measured against ideal 8× interpolation (`tests/limiter_props.rs`).
pub const SAFETY_MARGIN_DB: f64 = 0.1;

/// Gain at or above which a sample counts as unlimited in the statistics (−0.01 dB).
const ACTIVE_THRESHOLD_DB: f64 = -0.01;

/// Fixed-point scale of the averaged gain: integer sums never drift, so the average
/// returns to exactly 1.0 after limiting and quiet signals pass bit-exactly.
const GAIN_ONE: u64 = 1 << 32;

/// Frames handled per internal pass; bounds the scratch buffers.
const CHUNK_FRAMES: usize = 256;

/// Sample rate assumed until [`Processor::prepare`] is called.
const DEFAULT_SAMPLE_RATE_HZ: u32 = 48_000;

/// User settings of the limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterSettings {
    /// Highest true peak allowed at the output, dBTP (ITU-R BS.1770-4).
    pub ceiling_dbtp: f64,
    /// How far ahead the limiter looks, and over how long the gain ramps down, ms.
    pub lookahead_ms: f64,
    /// Time constant of the exponential recovery toward unity gain, ms.
    pub release_ms: f64,
}

impl Default for LimiterSettings {
    fn default() -> Self {
        Self {
            ceiling_dbtp: -1.0,
            lookahead_ms: 1.5,
            release_ms: 60.0,
        }
    }
}

/// Gain reduction accumulated since the last [`Processor::reset`] (or `prepare`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GainReductionStats {
    /// Largest gain reduction, dB (≥ 0).
    pub max_db: f64,
    /// Mean gain reduction over all processed frames, dB (≥ 0).
    pub mean_db: f64,
    /// Fraction of frames whose gain is below −0.01 dB.
    pub active_fraction: f64,
}

/// The gain path: moving minimum → release → moving average, one frame at a time.
#[derive(Debug, Clone)]
struct GainPath {
    /// Window length `W` of the minimum and of the average.
    window_frames: usize,
    /// Per-frame release step toward unity, `1 − exp(−1 / (release · fs))`.
    release_coefficient: f64,
    /// Estimate of the previous sample period: a sample's gain must satisfy both periods
    /// it bounds, since the inter-sample peaks beside it are scaled by about its gain.
    previous_peak: f32,
    /// Monotonic deque (frame index, required gain) for the moving minimum (Lemire,
    /// "Streaming maximum-minimum filter using no more than three comparisons per
    /// element", 2006), in a ring of power-of-two capacity ≥ `W`; values increase
    /// from front to back.
    minimum_ring: Vec<(u64, f32)>,
    minimum_front: usize,
    minimum_len: usize,
    frame_index: u64,
    /// Released gain (before averaging).
    released_gain: f64,
    /// The last `W` released gains in fixed point, and their sum.
    average_ring: Vec<u64>,
    average_position: usize,
    average_sum: u64,
}

impl GainPath {
    fn new(window_frames: usize, release_coefficient: f64) -> Self {
        let mut path = Self {
            window_frames,
            release_coefficient,
            previous_peak: 0.0,
            minimum_ring: vec![(0, 1.0); window_frames.next_power_of_two()],
            minimum_front: 0,
            minimum_len: 0,
            frame_index: 0,
            released_gain: 1.0,
            average_ring: vec![GAIN_ONE; window_frames],
            average_position: 0,
            average_sum: 0,
        };
        path.reset();
        path
    }

    fn reset(&mut self) {
        self.previous_peak = 0.0;
        self.minimum_front = 0;
        self.minimum_len = 0;
        self.frame_index = 0;
        self.released_gain = 1.0;
        self.average_ring.fill(GAIN_ONE);
        self.average_position = 0;
        self.average_sum = self.window_frames as u64 * GAIN_ONE;
    }

    /// Takes the peak estimate of one period, returns the gain of the frame `W − 1`
    /// frames earlier.
    #[inline]
    fn next(&mut self, period_peak: f32, threshold: f32) -> f32 {
        let peak = period_peak.max(self.previous_peak);
        self.previous_peak = period_peak;
        let required = if peak > threshold {
            threshold / peak
        } else {
            1.0
        };

        // Moving minimum over the last W required gains.
        let mask = self.minimum_ring.len() - 1;
        let oldest_kept = (self.frame_index + 1).saturating_sub(self.window_frames as u64);
        while self.minimum_len > 0 && self.minimum_ring[self.minimum_front].0 < oldest_kept {
            self.minimum_front = (self.minimum_front + 1) & mask;
            self.minimum_len -= 1;
        }
        while self.minimum_len > 0 {
            let back = (self.minimum_front + self.minimum_len - 1) & mask;
            if self.minimum_ring[back].1 < required {
                break;
            }
            self.minimum_len -= 1;
        }
        let back = (self.minimum_front + self.minimum_len) & mask;
        self.minimum_ring[back] = (self.frame_index, required);
        self.minimum_len += 1;
        self.frame_index += 1;
        let held = f64::from(self.minimum_ring[self.minimum_front].1);

        // Release: rise toward 1 at most at the first-order rate, never above `held`.
        let rising = self.released_gain + self.release_coefficient * (1.0 - self.released_gain);
        self.released_gain = held.min(rising);
        // Within one fixed-point step of unity the recovery is complete.
        if 1.0 - self.released_gain < 1.0 / GAIN_ONE as f64 {
            self.released_gain = 1.0;
        }

        // Moving average; flooring keeps every term ≤ the g_req it bounds.
        let fixed = (self.released_gain * GAIN_ONE as f64) as u64;
        let slot = &mut self.average_ring[self.average_position];
        self.average_sum = self.average_sum - *slot + fixed;
        *slot = fixed;
        self.average_position += 1;
        if self.average_position == self.window_frames {
            self.average_position = 0;
        }
        let full = self.window_frames as u64 * GAIN_ONE;
        if self.average_sum == full {
            1.0
        } else {
            (self.average_sum as f64 / full as f64) as f32
        }
    }
}

/// Running gain-reduction statistics.
#[derive(Debug, Clone, Default)]
struct StatsAccumulator {
    frames: u64,
    active_frames: u64,
    sum_db: f64,
    max_db: f64,
}

impl StatsAccumulator {
    fn record(&mut self, gains: &[f32]) {
        let active_gain = db_to_gain(ACTIVE_THRESHOLD_DB) as f32;
        self.frames += gains.len() as u64;
        for &gain in gains {
            // Unity (the common case) needs no logarithm.
            if gain < 1.0 {
                let reduction_db = -20.0 * f64::from(gain).log10();
                self.sum_db += reduction_db;
                self.max_db = self.max_db.max(reduction_db);
                if gain < active_gain {
                    self.active_frames += 1;
                }
            }
        }
    }

    fn stats(&self) -> GainReductionStats {
        if self.frames == 0 {
            return GainReductionStats::default();
        }
        let frames = self.frames as f64;
        GainReductionStats {
            max_db: self.max_db,
            mean_db: self.sum_db / frames,
            active_fraction: self.active_frames as f64 / frames,
        }
    }
}

/// A true-peak limiter whose output, interpolated 8× ideally, stays below the ceiling.
///
/// All channels share one gain (stereo-linked), so the image does not shift. The
/// output is the input delayed by [`latency_frames`](Processor::latency_frames) times
/// that gain; when the true peak stays below the ceiling the gain is exactly 1.0.
#[derive(Debug, Clone)]
pub struct TruePeakLimiter {
    settings: LimiterSettings,
    /// Ceiling minus the safety margin, linear.
    threshold: f32,
    latency_frames: usize,
    detectors: Vec<TruePeakDetector>,
    /// Delay lines, one per channel, `latency_frames` long, sharing `delay_position`.
    delays: Vec<Vec<f32>>,
    delay_position: usize,
    gain_path: GainPath,
    stats: StatsAccumulator,
    peaks: Vec<f32>,
    channel_peaks: Vec<f32>,
    gains: Vec<f32>,
}

impl TruePeakLimiter {
    /// A limiter prepared for 48 kHz stereo; call [`Processor::prepare`] for other streams.
    pub fn new(settings: LimiterSettings) -> Self {
        let mut limiter = Self {
            settings,
            threshold: 1.0,
            latency_frames: 1,
            detectors: Vec::new(),
            delays: Vec::new(),
            delay_position: 0,
            gain_path: GainPath::new(1, 1.0),
            stats: StatsAccumulator::default(),
            peaks: vec![0.0; CHUNK_FRAMES],
            channel_peaks: vec![0.0; CHUNK_FRAMES],
            gains: vec![0.0; CHUNK_FRAMES],
        };
        limiter.set_ceiling_dbtp(settings.ceiling_dbtp);
        limiter.prepare(DEFAULT_SAMPLE_RATE_HZ, CHUNK_FRAMES, 2);
        limiter
    }

    /// The current settings.
    pub fn settings(&self) -> LimiterSettings {
        self.settings
    }

    /// Changes the ceiling without clearing state (real-time safe); a non-finite value
    /// means 0 dBTP. Frames already inside the lookahead keep the gain computed for the
    /// old ceiling, so a raised ceiling applies after `latency_frames()`.
    pub fn set_ceiling_dbtp(&mut self, ceiling_dbtp: f64) {
        let ceiling_dbtp = if ceiling_dbtp.is_finite() {
            ceiling_dbtp
        } else {
            0.0
        };
        self.settings.ceiling_dbtp = ceiling_dbtp;
        self.threshold = db_to_gain(ceiling_dbtp - SAFETY_MARGIN_DB) as f32;
    }

    /// Gain reduction since the last reset.
    pub fn gain_reduction_stats(&self) -> GainReductionStats {
        self.stats.stats()
    }

    fn process_chunk(&mut self, block: &mut [&mut [f32]], start: usize, frames: usize) {
        let range = start..start + frames;
        // Non-finite input would poison the gain; it is treated as silence.
        for channel in block.iter_mut() {
            for sample in &mut channel[range.clone()] {
                if !sample.is_finite() {
                    *sample = 0.0;
                }
            }
        }

        let peaks = &mut self.peaks[..frames];
        peaks.fill(0.0);
        for (detector, channel) in self.detectors.iter_mut().zip(block.iter()) {
            let channel_peaks = &mut self.channel_peaks[..frames];
            detector.process(&channel[range.clone()], channel_peaks);
            for (peak, &channel_peak) in peaks.iter_mut().zip(channel_peaks.iter()) {
                *peak = peak.max(channel_peak);
            }
        }

        let gains = &mut self.gains[..frames];
        for (gain, &peak) in gains.iter_mut().zip(peaks.iter()) {
            *gain = self.gain_path.next(peak, self.threshold);
        }
        self.stats.record(gains);

        let latency = self.latency_frames;
        for (delay, channel) in self.delays.iter_mut().zip(block.iter_mut()) {
            let mut position = self.delay_position;
            for (sample, &gain) in channel[range.clone()].iter_mut().zip(gains.iter()) {
                let delayed = std::mem::replace(&mut delay[position], *sample);
                *sample = delayed * gain;
                position += 1;
                if position == latency {
                    position = 0;
                }
            }
        }
        self.delay_position = (self.delay_position + frames) % latency;
    }
}

impl Processor for TruePeakLimiter {
    fn prepare(&mut self, sample_rate_hz: u32, _max_block_frames: usize, channel_count: usize) {
        let rate = f64::from(sample_rate_hz.max(1));
        // At most 1 s of lookahead; negative or NaN settings mean one frame.
        let lookahead_ms = self.settings.lookahead_ms.clamp(0.0, 1_000.0);
        let lookahead_frames = ((lookahead_ms * rate / 1_000.0).round() as usize).max(1);
        let release_frames = self.settings.release_ms.max(0.0) * rate / 1_000.0;
        let release_coefficient = if release_frames > 0.0 {
            1.0 - (-1.0 / release_frames).exp()
        } else {
            1.0
        };
        // The window spans the frame itself plus the lookahead.
        self.gain_path = GainPath::new(lookahead_frames + 1, release_coefficient);

        let detector = TruePeakDetector::new();
        self.latency_frames = lookahead_frames + detector.group_delay_frames();
        self.detectors = vec![detector; channel_count];
        self.delays = vec![vec![0.0; self.latency_frames]; channel_count];
        self.reset();
    }

    fn reset(&mut self) {
        for detector in &mut self.detectors {
            detector.reset();
        }
        for delay in &mut self.delays {
            delay.fill(0.0);
        }
        self.delay_position = 0;
        self.gain_path.reset();
        self.stats = StatsAccumulator::default();
    }

    /// Channels beyond the prepared count are a caller error; they are silenced, the
    /// one output that cannot break the ceiling.
    fn process(&mut self, block: &mut [&mut [f32]]) {
        debug_assert_eq!(block.len(), self.detectors.len(), "prepared channel count");
        let prepared = self.detectors.len();
        for extra in block.iter_mut().skip(prepared) {
            extra.fill(0.0);
        }
        let used = prepared.min(block.len());
        let block = &mut block[..used];
        let frames = block.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut start = 0;
        while start < frames {
            let chunk = (frames - start).min(CHUNK_FRAMES);
            self.process_chunk(block, start, chunk);
            start += chunk;
        }
    }

    fn latency_frames(&self) -> usize {
        self.latency_frames
    }
}
