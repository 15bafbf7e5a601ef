//! Delays: an exact integer-sample delay (track delays, latency compensation), a
//! feedback echo with optional ping-pong and a low-pass in the loop, and the ring
//! buffer they (and the reverb) are built on.

use crate::biquad::{Biquad, BiquadCoefficients, BiquadKind};
use crate::processor::Processor;
use std::f64::consts::FRAC_1_SQRT_2;

/// Values below this are flushed to 0 in feedback loops: a loop ringing out into
/// silence would otherwise decay into subnormal numbers, ~100× slower on x86 (the
/// threshold of [`Biquad::process_sample`]).
const TINY: f64 = 1e-30;

/// `x`, or exactly 0 when `|x|` is below 1e-30 (inaudible; keeps loops out of
/// subnormal numbers).
#[inline(always)]
pub(crate) fn flush_tiny(x: f64) -> f64 {
    if x.abs() < TINY {
        0.0
    } else {
        x
    }
}

/// A ring buffer delaying one signal by a fixed number of frames; the buffer is
/// allocated by [`new`](Self::new) only.
#[derive(Debug, Clone, Default)]
pub(crate) struct DelayLine {
    buffer: Vec<f64>,
    position: usize,
}

impl DelayLine {
    /// A silent line of `delay_frames` frames.
    pub(crate) fn new(delay_frames: usize) -> Self {
        Self {
            buffer: vec![0.0; delay_frames],
            position: 0,
        }
    }

    /// The sample pushed `delay_frames` pushes ago (0 until then). The line must not
    /// be empty.
    #[inline(always)]
    pub(crate) fn front(&self) -> f64 {
        self.buffer[self.position]
    }

    /// Appends a sample, dropping the one [`front`](Self::front) returned. The line
    /// must not be empty.
    #[inline(always)]
    pub(crate) fn push(&mut self, x: f64) {
        self.buffer[self.position] = x;
        self.position += 1;
        if self.position == self.buffer.len() {
            self.position = 0;
        }
    }

    /// `x` delayed by the line: `y[n] = x[n − delay_frames]`; an empty line passes `x`.
    #[inline(always)]
    pub(crate) fn process(&mut self, x: f64) -> f64 {
        if self.buffer.is_empty() {
            return x;
        }
        let y = self.front();
        self.push(x);
        y
    }

    /// Silences the line.
    pub(crate) fn reset(&mut self) {
        self.buffer.fill(0.0);
        self.position = 0;
    }
}

/// Frames in `time_ms` at `sample_rate_hz`, rounded to the nearest frame.
pub(crate) fn ms_to_frames(time_ms: f64, sample_rate_hz: f64) -> usize {
    (time_ms * sample_rate_hz / 1_000.0).round() as usize
}

/// Silences the channels of `block` beyond `prepared` (a caller error: `process`
/// cannot allocate their state and must not fail) and returns how many are left.
pub(crate) fn silence_unprepared(block: &mut [&mut [f32]], prepared: usize) -> usize {
    for extra in block.iter_mut().skip(prepared) {
        extra.fill(0.0);
    }
    prepared.min(block.len())
}

/// An exact integer-sample delay of every channel, for track delays and latency
/// compensation: the output is the input `delay_frames` later, bit for bit.
///
/// [`latency_frames`](Processor::latency_frames) is 0 because the delay is the intended
/// effect, not a side effect to compensate; [`tail_frames`](Processor::tail_frames) is
/// `delay_frames`. Channels beyond the prepared count are silenced.
#[derive(Debug, Clone)]
pub struct FixedDelay {
    delay_frames: usize,
    lines: Vec<DelayLine>,
}

impl FixedDelay {
    /// A delay of `delay_frames` frames (0 is a bit-exact bypass).
    pub fn new(delay_frames: usize) -> Self {
        Self {
            delay_frames,
            lines: Vec::new(),
        }
    }
}

impl Processor for FixedDelay {
    fn prepare(&mut self, _sample_rate_hz: u32, _max_block_frames: usize, channel_count: usize) {
        self.lines = vec![DelayLine::new(self.delay_frames); channel_count];
    }

    fn reset(&mut self) {
        self.lines.iter_mut().for_each(DelayLine::reset);
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        silence_unprepared(block, self.lines.len());
        if self.delay_frames == 0 {
            return;
        }
        for (channel, line) in block.iter_mut().zip(&mut self.lines) {
            for sample in channel.iter_mut() {
                // f32 → f64 → f32 is exact.
                *sample = line.process(f64::from(*sample)) as f32;
            }
        }
    }

    fn tail_frames(&self) -> usize {
        self.delay_frames
    }
}

/// Parameters of a [`FeedbackDelay`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelaySettings {
    /// Time between repeats, ms (rounded to whole frames; at least one frame).
    pub time_ms: f64,
    /// Level of each repeat relative to the previous one, in `[0, 1)`.
    pub feedback: f64,
    /// Wet share in `[0, 1]`: output = (1 − mix)·dry + mix·echoes.
    pub mix: f64,
    /// Stereo only: repeats alternate left and right, fed by the mono sum of the
    /// input (first repeat on the left).
    pub ping_pong: bool,
    /// Corner of a 2nd-order Butterworth low-pass inside the loop: every repeat passes
    /// it once more than the previous one, so repeats get darker. `None`, or a corner
    /// at or above Nyquist, disables it.
    pub highcut_hz: Option<f64>,
}

impl DelaySettings {
    fn validate(&self) {
        assert!(
            self.time_ms >= 0.0 && self.time_ms.is_finite(),
            "delay time must be finite and ≥ 0 ms, got {}",
            self.time_ms
        );
        assert!(
            (0.0..1.0).contains(&self.feedback),
            "feedback must lie in [0, 1), got {}",
            self.feedback
        );
        assert!(
            (0.0..=1.0).contains(&self.mix),
            "mix must lie in [0, 1], got {}",
            self.mix
        );
        if let Some(highcut_hz) = self.highcut_hz {
            assert!(
                highcut_hz > 0.0,
                "high cut must be > 0 Hz, got {highcut_hz}"
            );
        }
    }
}

/// A feedback echo: `w[n] = x[n] + feedback·LP(w[n − d])`, output
/// `(1 − mix)·x[n] + mix·LP(w[n − d])` with `d` the delay time in frames, so repeat `k`
/// (from 1) arrives at `k·d` with amplitude `feedback^(k−1)·mix` (before the optional
/// low-pass `LP`). In ping-pong mode (stereo) the loop runs through a left and a right
/// line in turn. Channels beyond the prepared count are silenced.
#[derive(Debug, Clone)]
pub struct FeedbackDelay {
    settings: DelaySettings,
    delay_frames: usize,
    /// One line per channel (left then right in ping-pong mode).
    lines: Vec<DelayLine>,
    /// One low-pass per line, or none.
    highcuts: Vec<Biquad>,
}

impl FeedbackDelay {
    /// An echo with `settings`, prepared for 48 kHz stereo until
    /// [`Processor::prepare`] is called.
    ///
    /// # Panics
    /// If `settings` are out of range (see [`DelaySettings`]).
    pub fn new(settings: DelaySettings) -> Self {
        settings.validate();
        let mut delay = Self {
            settings,
            delay_frames: 1,
            lines: Vec::new(),
            highcuts: Vec::new(),
        };
        delay.prepare(48_000, 0, 2);
        delay
    }

    /// Repeats after the first one until they are 60 dB below it.
    fn repeats_to_minus_60_db(&self) -> usize {
        let feedback = self.settings.feedback;
        if feedback > 0.0 {
            (1e-3f64.ln() / feedback.ln()).ceil() as usize
        } else {
            0
        }
    }

    /// The output of line `index` this frame: its oldest sample through its low-pass.
    #[inline(always)]
    fn echo(&mut self, index: usize) -> f64 {
        let echo = self.lines[index].front();
        match self.highcuts.get_mut(index) {
            Some(highcut) => highcut.process_sample(echo),
            None => echo,
        }
    }

    /// Every channel its own loop.
    fn process_independent(&mut self, block: &mut [&mut [f32]], frames: usize) {
        let DelaySettings { feedback, mix, .. } = self.settings;
        for (index, channel) in block.iter_mut().enumerate() {
            for sample in &mut channel[..frames] {
                let x = f64::from(*sample);
                let wet = self.echo(index);
                self.lines[index].push(flush_tiny(x + feedback * wet));
                *sample = ((1.0 - mix) * x + mix * wet) as f32;
            }
        }
    }

    /// Left line fed by the mono sum and the right line's repeats, right line fed by
    /// the left line's repeats.
    fn process_ping_pong(&mut self, left: &mut [f32], right: &mut [f32]) {
        let DelaySettings { feedback, mix, .. } = self.settings;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let (x_left, x_right) = (f64::from(*l), f64::from(*r));
            let wet_left = self.echo(0);
            let wet_right = self.echo(1);
            let mono = 0.5 * (x_left + x_right);
            self.lines[0].push(flush_tiny(mono + feedback * wet_right));
            self.lines[1].push(flush_tiny(feedback * wet_left));
            *l = ((1.0 - mix) * x_left + mix * wet_left) as f32;
            *r = ((1.0 - mix) * x_right + mix * wet_right) as f32;
        }
    }
}

impl Processor for FeedbackDelay {
    fn prepare(&mut self, sample_rate_hz: u32, _max_block_frames: usize, channel_count: usize) {
        let sample_rate_hz = f64::from(sample_rate_hz.max(1));
        self.delay_frames = ms_to_frames(self.settings.time_ms, sample_rate_hz).max(1);
        self.lines = vec![DelayLine::new(self.delay_frames); channel_count];
        self.highcuts = match self.settings.highcut_hz {
            Some(freq_hz) if freq_hz < sample_rate_hz / 2.0 => {
                let low_pass = BiquadCoefficients::design(
                    BiquadKind::LowPass,
                    freq_hz,
                    FRAC_1_SQRT_2,
                    sample_rate_hz,
                );
                vec![Biquad::new(low_pass); channel_count]
            }
            _ => Vec::new(),
        };
    }

    fn reset(&mut self) {
        self.lines.iter_mut().for_each(DelayLine::reset);
        self.highcuts.iter_mut().for_each(Biquad::reset);
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        let channels = silence_unprepared(block, self.lines.len());
        let block = &mut block[..channels];
        if self.settings.mix == 0.0 {
            // Dry only; the loop is never fed, so there is nothing to keep running.
            return;
        }
        let frames = block.iter().map(|c| c.len()).min().unwrap_or(0);
        match block {
            [left, right] if self.settings.ping_pong => {
                self.process_ping_pong(&mut left[..frames], &mut right[..frames]);
            }
            block => self.process_independent(block, frames),
        }
    }

    /// Until the repeats have fallen 60 dB below the first one.
    fn tail_frames(&self) -> usize {
        if self.settings.mix == 0.0 {
            return 0;
        }
        self.delay_frames * (1 + self.repeats_to_minus_60_db())
    }
}

/// The duration in ms of a tempo-synced note value at `tempo_bpm` (a beat is a
/// quarter note): `"1/4"` is one beat, `"1/1"` four, `"1/8"` half a beat, and so on;
/// any `"n/m"` with positive integers works (`"3/16"`). A trailing `.` makes it dotted
/// (×1.5), a trailing `t` or `T` a triplet (×2/3). Surrounding spaces are ignored.
/// `None` for anything else or a tempo that is not positive and finite.
pub fn note_duration_ms(note: &str, tempo_bpm: f64) -> Option<f64> {
    if !(tempo_bpm > 0.0 && tempo_bpm.is_finite()) {
        return None;
    }
    let note = note.trim();
    let (fraction, factor) = if let Some(fraction) = note.strip_suffix('.') {
        (fraction, 1.5)
    } else if let Some(fraction) = note.strip_suffix(['t', 'T']) {
        (fraction, 2.0 / 3.0)
    } else {
        (note, 1.0)
    };
    let (numerator, denominator) = fraction.split_once('/')?;
    let numerator: u32 = numerator.parse().ok()?;
    let denominator: u32 = denominator.parse().ok()?;
    if numerator == 0 || denominator == 0 {
        return None;
    }
    let whole_note_ms = 4.0 * 60_000.0 / tempo_bpm;
    Some(whole_note_ms * f64::from(numerator) / f64::from(denominator) * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::process_in_blocks;

    const FS: u32 = 48_000;

    fn settings(time_ms: f64, feedback: f64, mix: f64) -> DelaySettings {
        DelaySettings {
            time_ms,
            feedback,
            mix,
            ping_pong: false,
            highcut_hz: None,
        }
    }

    /// The response of `processor` to a unit impulse in every one of `channels`.
    fn impulse_response(
        processor: &mut dyn Processor,
        channels: usize,
        frames: usize,
    ) -> Vec<Vec<f32>> {
        processor.prepare(FS, 1_024, channels);
        let mut signal = vec![vec![0.0f32; frames]; channels];
        for channel in &mut signal {
            channel[0] = 1.0;
        }
        process_in_blocks(processor, &mut signal, 1_024);
        signal
    }

    /// A deterministic test signal (two tones and a sweep).
    fn programme(frames: usize, channels: usize) -> Vec<Vec<f32>> {
        (0..channels)
            .map(|c| {
                (0..frames)
                    .map(|n| {
                        let t = n as f64 / f64::from(FS);
                        let phase = std::f64::consts::TAU * (220.0 + 300.0 * c as f64) * t;
                        (0.4 * phase.sin() + 0.3 * (3_000.0 * t * t * 40.0).sin()) as f32
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn echoes_arrive_at_multiples_of_the_delay_with_geometric_amplitudes() {
        let (time_ms, feedback, mix) = (10.3, 0.6, 0.7);
        let d = (time_ms * f64::from(FS) / 1_000.0).round() as usize;
        assert_eq!(d, 494);
        let mut delay = FeedbackDelay::new(settings(time_ms, feedback, mix));
        let response = impulse_response(&mut delay, 1, 8 * d);
        let mut worst: f64 = 0.0;
        for (n, &y) in response[0].iter().enumerate() {
            let expected = if n == 0 {
                1.0 - mix
            } else if n % d == 0 {
                feedback.powi((n / d) as i32 - 1) * mix
            } else {
                0.0
            };
            worst = worst.max((f64::from(y) - expected).abs());
            assert!(
                (f64::from(y) - expected).abs() < 1e-7,
                "frame {n}: {y} vs {expected}"
            );
        }
        println!("feedback delay: worst echo amplitude error {worst:.2e}");
        // The tail reaches the repeats 60 dB below the first.
        let repeats = delay.tail_frames() / d - 1;
        assert!(feedback.powi(repeats as i32) <= 1e-3);
        assert!(feedback.powi(repeats as i32 - 1) > 1e-3);
        assert_eq!(delay.latency_frames(), 0);
    }

    #[test]
    fn ping_pong_alternates_sides() {
        let (feedback, mix) = (0.5, 1.0);
        let mut delay = FeedbackDelay::new(DelaySettings {
            ping_pong: true,
            ..settings(5.0, feedback, mix)
        });
        let d = 240;
        let response = impulse_response(&mut delay, 2, 7 * d);
        for repeat in 1..=6 {
            let amplitude = (feedback.powi(repeat - 1) * mix) as f32;
            let (on, off) = if repeat % 2 == 1 { (0, 1) } else { (1, 0) };
            let n = repeat as usize * d;
            assert_eq!(response[on][n], amplitude, "repeat {repeat}");
            assert_eq!(response[off][n], 0.0, "repeat {repeat}");
        }
        // Nothing between repeats, and no dry signal at mix 1.
        let energy: f64 = response
            .iter()
            .flatten()
            .map(|&y| f64::from(y).powi(2))
            .sum();
        let expected: f64 = (0..6).map(|k| feedback.powi(2 * k)).sum();
        assert!((energy - expected).abs() < 1e-9);
    }

    #[test]
    fn high_cut_darkens_each_repeat() {
        let mut delay = FeedbackDelay::new(DelaySettings {
            highcut_hz: Some(2_000.0),
            ..settings(50.0, 0.9, 1.0)
        });
        let response = impulse_response(&mut delay, 1, 48_000);
        // Energy of repeat k (a 2nd-order low-pass raised to the power k).
        let d = 2_400;
        let repeat_energy = |k: usize| -> f64 {
            response[0][k * d..(k + 1) * d]
                .iter()
                .map(|&y| f64::from(y).powi(2))
                .sum()
        };
        let ratios: Vec<f64> = (1..5)
            .map(|k| repeat_energy(k + 1) / repeat_energy(k))
            .collect();
        // Without the filter each ratio would be 0.81.
        assert!(ratios.iter().all(|&r| r < 0.81 && r > 0.0), "{ratios:?}");
        // At or above Nyquist the filter is dropped: exact geometric repeats.
        let mut open = FeedbackDelay::new(DelaySettings {
            highcut_hz: Some(30_000.0),
            ..settings(50.0, 0.9, 1.0)
        });
        let response = impulse_response(&mut open, 1, 3 * d + 1);
        assert_eq!(response[0][2 * d], 0.9);
    }

    #[test]
    fn fixed_delay_is_an_exact_integer_delay() {
        let input = programme(5_000, 3);
        for delay_frames in [0, 1, 37, 1_000, 4_999] {
            let mut delay = FixedDelay::new(delay_frames);
            delay.prepare(FS, 512, 3);
            let mut output = input.clone();
            process_in_blocks(&mut delay, &mut output, 300);
            for (x, y) in input.iter().zip(&output) {
                assert!(y[..delay_frames].iter().all(|&s| s == 0.0));
                assert_eq!(y[delay_frames..], x[..x.len() - delay_frames]);
            }
            assert_eq!(delay.latency_frames(), 0);
            assert_eq!(delay.tail_frames(), delay_frames);
        }
        // Channels beyond the prepared count are silenced.
        let mut delay = FixedDelay::new(3);
        delay.prepare(FS, 16, 1);
        let (mut a, mut b) = (vec![1.0f32; 8], vec![1.0f32; 8]);
        delay.process(&mut [&mut a, &mut b]);
        assert_eq!(a, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(b, [0.0; 8]);
    }

    #[test]
    fn note_values_follow_the_tempo() {
        let cases = [
            ("1/4", 500.0),
            ("1/8", 250.0),
            ("1/16", 125.0),
            ("1/2", 1_000.0),
            ("1/1", 2_000.0),
            ("1/8.", 375.0),
            ("1/8t", 500.0 / 3.0),
            ("1/4T", 1_000.0 / 3.0),
            (" 3/16 ", 375.0),
        ];
        for (note, expected_ms) in cases {
            let ms = note_duration_ms(note, 120.0).unwrap();
            assert!((ms - expected_ms).abs() < 1e-9, "{note}: {ms}");
        }
        assert!((note_duration_ms("1/8t", 120.0).unwrap() - 166.67).abs() < 0.01);
        assert!((note_duration_ms("1/4", 90.0).unwrap() - 666.666_666_666_666_7).abs() < 1e-9);
        for bad in [
            "", "1/0", "0/4", "1/4x", "quarter", "1/", "/4", "-1/4", "1/4..",
        ] {
            assert_eq!(note_duration_ms(bad, 120.0), None, "{bad:?}");
        }
        for tempo in [0.0, -120.0, f64::NAN, f64::INFINITY] {
            assert_eq!(note_duration_ms("1/4", tempo), None);
        }
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        let input = programme(20_000, 2);
        let makers: Vec<Box<dyn Fn() -> Box<dyn Processor>>> = vec![
            Box::new(|| Box::new(FixedDelay::new(123))),
            Box::new(|| Box::new(FeedbackDelay::new(settings(7.7, 0.7, 0.5)))),
            Box::new(|| {
                Box::new(FeedbackDelay::new(DelaySettings {
                    ping_pong: true,
                    highcut_hz: Some(3_000.0),
                    ..settings(33.0, 0.8, 0.4)
                }))
            }),
        ];
        for make in makers {
            let mut reference = input.clone();
            let mut processor = make();
            processor.prepare(FS, 4_096, 2);
            process_in_blocks(processor.as_mut(), &mut reference, 4_096);
            assert_ne!(reference, input);
            for block_frames in [1, 64, 1_000] {
                let mut output = input.clone();
                let mut processor = make();
                processor.prepare(FS, 4_096, 2);
                process_in_blocks(processor.as_mut(), &mut output, block_frames);
                assert_eq!(output, reference, "block of {block_frames}");
            }
            processor.reset();
            let mut output = input.clone();
            process_in_blocks(processor.as_mut(), &mut output, 77);
            assert_eq!(output, reference, "after reset");
        }
    }

    #[test]
    fn zero_mix_is_a_bit_exact_bypass() {
        let input = programme(4_000, 2);
        let mut output = input.clone();
        let mut delay = FeedbackDelay::new(settings(10.0, 0.5, 0.0));
        delay.prepare(FS, 512, 2);
        process_in_blocks(&mut delay, &mut output, 512);
        assert_eq!(output, input);
        assert_eq!(delay.tail_frames(), 0);
    }

    #[test]
    #[should_panic(expected = "feedback must lie in [0, 1)")]
    fn feedback_of_one_is_rejected() {
        let _ = FeedbackDelay::new(settings(10.0, 1.0, 0.5));
    }
}
