//! Long-term average spectrum in 1/3-octave bands (IEC 61260 base-two band centres,
//! 20 Hz – 20 kHz), estimated with Welch's method (Hann window, 50 % overlap).

use mixdown_dsp::units::power_to_db;
use realfft::{RealFftPlanner, RealToComplex};

/// Exact base-two 1/3-octave centre frequencies from 20 Hz to 20 kHz:
/// `1000 · 2^(k/3)` for k = −17..=13 (IEC 61260-1).
pub fn third_octave_centers_hz() -> impl Iterator<Item = f64> {
    (-17..=13).map(|k| 1000.0 * 2f64.powf(f64::from(k) / 3.0))
}

/// Nominal (labelled) centre frequencies of the same bands, IEC 61260-1 Annex E.
pub const NOMINAL_CENTERS_HZ: [f64; 31] = [
    20.0, 25.0, 31.5, 40.0, 50.0, 63.0, 80.0, 100.0, 125.0, 160.0, 200.0, 250.0, 315.0, 400.0,
    500.0, 630.0, 800.0, 1000.0, 1250.0, 1600.0, 2000.0, 2500.0, 3150.0, 4000.0, 5000.0, 6300.0,
    8000.0, 10_000.0, 12_500.0, 16_000.0, 20_000.0,
];

/// One band of a [`ThirdOctaveSpectrum`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThirdOctaveBand {
    /// Exact band centre, Hz.
    pub center_hz: f64,
    /// The band's nominal label, Hz (31.5, 63, 125...).
    pub nominal_hz: f64,
    /// Band power in dB relative to a full-scale sine (AES17 convention: a 0 dBFS
    /// sine inside the band reads 0 dB); `None` above Nyquist or for silence.
    pub level_db: Option<f64>,
}

/// A long-term 1/3-octave spectrum.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThirdOctaveSpectrum {
    /// Bands from 20 Hz upward.
    pub bands: Vec<ThirdOctaveBand>,
}

/// FFT length giving about 0.35 s windows (≈ 2.7 Hz bins at 44.1/48 kHz), enough to
/// resolve the 20 Hz band (4.6 Hz wide).
fn fft_len_for(sample_rate_hz: u32) -> usize {
    ((f64::from(sample_rate_hz) * 0.35) as usize)
        .next_power_of_two()
        .max(256)
}

/// Estimates the long-term spectrum of one channel (callers pass a mono or mid downmix).
pub fn third_octave_spectrum(samples: &[f32], sample_rate_hz: u32) -> ThirdOctaveSpectrum {
    let mut analyzer = SpectrumAnalyzer::new(sample_rate_hz);
    analyzer.push(samples);
    analyzer.finish()
}

/// Streaming long-term spectrum: push samples in blocks of any size, then
/// [`finish`](Self::finish). Gives the same result as [`third_octave_spectrum`] on
/// the whole signal.
pub struct SpectrumAnalyzer {
    sample_rate_hz: u32,
    fft: std::sync::Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    window_power: f64,
    /// Samples not yet shifted out: the next frame starts at `pending[0]`.
    pending: Vec<f32>,
    frame: Vec<f32>,
    bins: Vec<realfft::num_complex::Complex<f32>>,
    scratch: Vec<realfft::num_complex::Complex<f32>>,
    power: Vec<f64>,
    frames_done: usize,
    /// Bin ranges of the bands whose per-frame levels are kept (see [`Self::track_bands`]).
    tracked_bins: Vec<std::ops::Range<usize>>,
    /// Per tracked band, the mean-square level of each frame, dB.
    tracked_levels_db: Vec<Vec<f64>>,
}

impl SpectrumAnalyzer {
    /// An empty analyzer for signals at `sample_rate_hz`.
    pub fn new(sample_rate_hz: u32) -> Self {
        let fft_len = fft_len_for(sample_rate_hz);
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(fft_len);
        let window: Vec<f32> = (0..fft_len)
            .map(|n| (0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / fft_len as f64).cos()) as f32)
            .collect();
        let window_power = window.iter().map(|&w| f64::from(w) * f64::from(w)).sum();
        Self {
            sample_rate_hz,
            frame: fft.make_input_vec(),
            bins: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            window,
            window_power,
            pending: Vec::with_capacity(fft_len),
            power: vec![0.0; fft_len / 2 + 1],
            frames_done: 0,
            tracked_bins: Vec::new(),
            tracked_levels_db: Vec::new(),
        }
    }

    /// Also keeps, for every frame (≈ 0.37 s, hop ≈ 0.19 s), the mean-square level
    /// in dB of each band between consecutive `edges_hz` (from 0 Hz to Nyquist):
    /// a band-level distribution for free, since the transform is computed anyway.
    pub fn track_bands(&mut self, edges_hz: &[f64]) {
        let bin_hz = f64::from(self.sample_rate_hz) / self.fft_len() as f64;
        let bins = self.power.len();
        let mut bounds: Vec<usize> = vec![1];
        bounds.extend(
            edges_hz
                .iter()
                .map(|&f| ((f / bin_hz).round() as usize).clamp(1, bins)),
        );
        bounds.push(bins);
        self.tracked_bins = bounds.windows(2).map(|w| w[0]..w[1].max(w[0])).collect();
        self.tracked_levels_db = vec![Vec::new(); self.tracked_bins.len()];
    }

    fn fft_len(&self) -> usize {
        self.window.len()
    }

    /// Adds samples.
    pub fn push(&mut self, mut samples: &[f32]) {
        let fft_len = self.fft_len();
        while !samples.is_empty() {
            let take = (fft_len - self.pending.len()).min(samples.len());
            self.pending.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.pending.len() == fft_len {
                self.transform_pending();
                // Hann windows at 50 % overlap: the next frame starts half a frame on.
                self.pending.drain(..fft_len / 2);
            }
        }
    }

    /// Windows, zero-pads and transforms `pending`, accumulating bin powers.
    fn transform_pending(&mut self) {
        for (i, slot) in self.frame.iter_mut().enumerate() {
            *slot = self.pending.get(i).copied().unwrap_or(0.0) * self.window[i];
        }
        self.fft
            .process_with_scratch(&mut self.frame, &mut self.bins, &mut self.scratch)
            .expect("buffers come from the planner");
        for (p, b) in self.power.iter_mut().zip(&self.bins) {
            *p += f64::from(b.norm_sqr());
        }
        // One-sided Parseval with the window's power: the frame's mean square per band.
        let scale = 2.0 / (self.window_power * self.fft_len() as f64);
        for (range, levels) in self.tracked_bins.iter().zip(&mut self.tracked_levels_db) {
            let band: f64 = self.bins[range.clone()]
                .iter()
                .map(|b| f64::from(b.norm_sqr()))
                .sum();
            levels.push(power_to_db(band * scale));
        }
        self.frames_done += 1;
    }

    /// The spectrum of everything pushed. Samples after the last full frame go into
    /// one zero-padded frame, so short signals still get a spectrum.
    pub fn finish(self) -> ThirdOctaveSpectrum {
        self.finish_with_band_levels().0
    }

    /// The spectrum and, per tracked band, the frame levels in dB (see [`Self::track_bands`]).
    pub fn finish_with_band_levels(mut self) -> (ThirdOctaveSpectrum, Vec<Vec<f64>>) {
        if self.frames_done == 0 || self.pending.len() > self.fft_len() / 2 {
            self.transform_pending();
        }
        let fft_len = self.fft_len();
        // One-sided periodogram scaled so a sine of amplitude A sums to A²/2 over its
        // bins; relative to a full-scale sine (power 1/2) that is 0 dB.
        let scale = 2.0 / (self.window_power * fft_len as f64 * self.frames_done as f64);
        let bin_hz = f64::from(self.sample_rate_hz) / fft_len as f64;
        let nyquist_hz = f64::from(self.sample_rate_hz) / 2.0;
        let power = &self.power;
        let bands = third_octave_centers_hz()
            .zip(NOMINAL_CENTERS_HZ)
            .map(|(center_hz, nominal_hz)| {
                let (low_hz, high_hz) = (
                    center_hz * 2f64.powf(-1.0 / 6.0),
                    center_hz * 2f64.powf(1.0 / 6.0),
                );
                if high_hz > nyquist_hz {
                    return ThirdOctaveBand {
                        center_hz,
                        nominal_hz,
                        level_db: None,
                    };
                }
                let first = (low_hz / bin_hz).ceil() as usize;
                let last = ((high_hz / bin_hz).ceil() as usize).min(power.len());
                let band_power: f64 = power[first..last].iter().sum::<f64>() * scale;
                let level = power_to_db(band_power / 0.5);
                ThirdOctaveBand {
                    center_hz,
                    nominal_hz,
                    level_db: level.is_finite().then_some(level),
                }
            })
            .collect();
        (
            ThirdOctaveSpectrum { bands },
            std::mem::take(&mut self.tracked_levels_db),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(amplitude: f64, freq_hz: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| {
                (amplitude * (std::f64::consts::TAU * freq_hz * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    #[test]
    fn centres_are_the_iec_base_two_series() {
        let centres: Vec<f64> = third_octave_centers_hz().collect();
        assert_eq!(centres.len(), 31);
        assert!((centres[0] - 19.686).abs() < 1e-3);
        assert!((centres[17] - 1000.0).abs() < 1e-9);
        assert!((centres[30] - 20_158.7).abs() < 0.1);
        for (exact, nominal) in centres.iter().zip(NOMINAL_CENTERS_HZ) {
            assert!(
                (exact / nominal).log2().abs() < 0.03,
                "{exact} vs {nominal}"
            );
        }
    }

    #[test]
    fn sine_lands_in_its_band_at_its_level() {
        for (freq_hz, amplitude_db) in [(1000.0, -6.0), (63.0, -20.0), (8000.0, -1.0)] {
            let amp = 10f64.powf(amplitude_db / 20.0);
            let spectrum = third_octave_spectrum(&sine(amp, freq_hz, 48_000, 5.0), 48_000);
            let (loudest, level) = spectrum
                .bands
                .iter()
                .filter_map(|b| b.level_db.map(|l| (b.center_hz, l)))
                .fold((0.0, f64::NEG_INFINITY), |acc, (c, l)| {
                    if l > acc.1 {
                        (c, l)
                    } else {
                        acc
                    }
                });
            assert!(
                (loudest / freq_hz).log2().abs() < 1.0 / 6.0,
                "{freq_hz} Hz fell in the {loudest} Hz band"
            );
            assert!(
                (level - amplitude_db).abs() < 0.2,
                "{freq_hz} Hz: {level} dB, expected {amplitude_db}"
            );
        }
    }

    #[test]
    fn streaming_in_odd_blocks_matches_the_whole_signal() {
        let signal = sine(0.3, 440.0, 44_100, 2.3);
        let whole = third_octave_spectrum(&signal, 44_100);
        let mut analyzer = SpectrumAnalyzer::new(44_100);
        for chunk in signal.chunks(1_001) {
            analyzer.push(chunk);
        }
        assert_eq!(analyzer.finish(), whole);
    }

    #[test]
    fn tracked_bands_report_each_frames_mean_square() {
        // A -6 dBFS sine at 1 kHz: mean square -9.03 dB in the 120 Hz - 6 kHz band,
        // nothing to speak of in the others.
        let mut analyzer = SpectrumAnalyzer::new(48_000);
        analyzer.track_bands(&[120.0, 6_000.0]);
        analyzer.push(&sine(0.5, 1_000.0, 48_000, 3.0));
        let (_, levels) = analyzer.finish_with_band_levels();
        assert_eq!(levels.len(), 3);
        let full_frames = &levels[1][..levels[1].len() - 1];
        assert!(
            full_frames.iter().all(|&l| (l + 9.03).abs() < 0.05),
            "{full_frames:?}"
        );
        assert!(levels[0][..levels[0].len() - 1].iter().all(|&l| l < -60.0));
    }

    #[test]
    fn bands_above_nyquist_and_silence_are_undefined() {
        let spectrum = third_octave_spectrum(&vec![0.0; 16_000], 16_000);
        assert!(spectrum.bands.iter().all(|b| b.level_db.is_none()));
        assert_eq!(spectrum.bands.len(), 31);
    }
}
