//! ITU-R BS.1770-4 loudness and true peak, EBU R128 / Tech 3341 / Tech 3342 metering.
//!
//! The filtering, gating and true-peak interpolation are the `ebur128` crate's (a
//! port of libebur128, validated against the EBU conformance material); this module
//! adds what a mastering report needs on top: the maximum momentary and short-term
//! loudness (polled every 100 ms, the update rate Tech 3341 §2.4 requires), the
//! BS.2051 / 5.1 channel weights, and `None` wherever a quantity is undefined.

use crate::AnalysisError;
use ebur128::{Channel, EbuR128, Mode};
use mixdown_dsp::units::{finite_or_none, gain_to_db};

/// Loudness and peak figures of one programme.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoudnessReport {
    /// Gated integrated loudness (BS.1770-4), LUFS; `None` when every block is gated out.
    pub integrated_lufs: Option<f64>,
    /// Loudness range (EBU Tech 3342), LU; `None` with fewer than two gated 3 s blocks.
    pub loudness_range_lu: Option<f64>,
    /// Highest momentary (400 ms) loudness, LUFS.
    pub max_momentary_lufs: Option<f64>,
    /// Highest short-term (3 s) loudness, LUFS; `None` for programmes shorter than 3 s.
    pub max_short_term_lufs: Option<f64>,
    /// Highest true peak over all channels (≥ 4× oversampled below 96 kHz), dBTP.
    pub true_peak_dbtp: Option<f64>,
}

/// A streaming BS.1770-4 meter: feed planar blocks of any length, then [`finish`](Self::finish).
pub struct LoudnessMeter {
    meter: EbuR128,
    channel_count: usize,
    frames_per_poll: usize,
    frames_since_poll: usize,
    frames_total: u64,
    short_term_window_frames: u64,
    momentary_window_frames: u64,
    max_momentary_lufs: f64,
    max_short_term_lufs: f64,
}

impl LoudnessMeter {
    /// A meter for `channel_count` channels at `sample_rate_hz`.
    ///
    /// Channel weights follow BS.1770-4 for the usual WAV/FLAC orders: 1–5 channels
    /// as L, R, C, Ls, Rs; 6 channels as 5.1 (L, R, C, LFE, Ls, Rs) with the LFE
    /// excluded; beyond that L, R, C, LFE, then surrounds weighted +1.5 dB.
    pub fn new(channel_count: usize, sample_rate_hz: u32) -> Result<Self, AnalysisError> {
        let unsupported = AnalysisError::UnsupportedFormat {
            channels: channel_count,
            sample_rate_hz,
        };
        let channels_u32 = u32::try_from(channel_count).map_err(|_| unsupported.clone())?;
        let mode = Mode::I | Mode::LRA | Mode::M | Mode::S | Mode::TRUE_PEAK;
        let mut meter = EbuR128::new(channels_u32, sample_rate_hz, mode).map_err(|_| unsupported.clone())?;
        if channel_count >= 6 {
            let mut map = vec![Channel::Left, Channel::Right, Channel::Center, Channel::Unused];
            map.resize(channel_count, Channel::LeftSurround);
            meter.set_channel_map(&map).map_err(|_| unsupported)?;
        }
        let rate = u64::from(sample_rate_hz);
        Ok(Self {
            meter,
            channel_count,
            frames_per_poll: (sample_rate_hz as usize).div_ceil(10),
            frames_since_poll: 0,
            frames_total: 0,
            momentary_window_frames: (rate * 4).div_ceil(10),
            short_term_window_frames: rate * 3,
            max_momentary_lufs: f64::NEG_INFINITY,
            max_short_term_lufs: f64::NEG_INFINITY,
        })
    }

    /// Adds one planar block (`block[channel][frame]`).
    pub fn add(&mut self, block: &[&[f32]]) -> Result<(), AnalysisError> {
        if block.len() != self.channel_count {
            return Err(AnalysisError::ChannelMismatch {
                expected: self.channel_count,
                actual: block.len(),
            });
        }
        let frames = block.first().map_or(0, |c| c.len());
        let mut offset = 0;
        // Cut the input on the 100 ms grid so the windowed loudness is polled at
        // exactly the rate Tech 3341 asks of a meter, whatever block size arrives.
        while offset < frames {
            let take = (self.frames_per_poll - self.frames_since_poll).min(frames - offset);
            let parts: Vec<&[f32]> = block.iter().map(|c| &c[offset..offset + take]).collect();
            self.meter
                .add_frames_planar_f32(&parts)
                .expect("channel count checked above");
            offset += take;
            self.frames_total += take as u64;
            self.frames_since_poll += take;
            if self.frames_since_poll == self.frames_per_poll {
                self.frames_since_poll = 0;
                self.poll_windows();
            }
        }
        Ok(())
    }

    fn poll_windows(&mut self) {
        if self.frames_total >= self.momentary_window_frames {
            if let Ok(m) = self.meter.loudness_momentary() {
                self.max_momentary_lufs = self.max_momentary_lufs.max(m);
            }
        }
        if self.frames_total >= self.short_term_window_frames {
            if let Ok(s) = self.meter.loudness_shortterm() {
                self.max_short_term_lufs = self.max_short_term_lufs.max(s);
            }
        }
    }

    /// The figures for everything added so far.
    pub fn finish(&self) -> LoudnessReport {
        let true_peak = (0..self.channel_count as u32)
            .filter_map(|ch| self.meter.true_peak(ch).ok())
            .fold(0.0f64, f64::max);
        // Loudness of digital silence is -inf / -70 gated out: report it as undefined.
        let audible = |lufs: f64| finite_or_none(lufs).filter(|&v| v > -70.0 - 1e-9);
        let integrated_lufs = self.meter.loudness_global().ok().and_then(audible);
        LoudnessReport {
            integrated_lufs,
            // LRA needs at least one 3 s block above the gates.
            loudness_range_lu: self
                .meter
                .loudness_range()
                .ok()
                .filter(|_| integrated_lufs.is_some() && self.frames_total >= self.short_term_window_frames)
                .and_then(finite_or_none),
            max_momentary_lufs: audible(self.max_momentary_lufs),
            max_short_term_lufs: audible(self.max_short_term_lufs),
            true_peak_dbtp: finite_or_none(gain_to_db(true_peak)),
        }
    }
}

/// Measures a whole programme at once.
pub fn measure_loudness(channels: &[&[f32]], sample_rate_hz: u32) -> Result<LoudnessReport, AnalysisError> {
    let mut meter = LoudnessMeter::new(channels.len(), sample_rate_hz)?;
    meter.add(channels)?;
    Ok(meter.finish())
}
