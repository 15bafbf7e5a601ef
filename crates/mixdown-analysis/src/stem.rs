//! What automix needs to know about one stem: how loud it is where it plays, how its
//! level is distributed, where its energy sits in frequency, how percussive it is,
//! and how much of it is pitched, at what pitch (see [`crate::pitch`]).

use crate::gated::GatedLoudness;
use crate::levels::LevelStats;
use crate::pitch::PitchTracker;
use crate::spectrum::{SpectrumAnalyzer, ThirdOctaveSpectrum};
use crate::AnalysisError;
use mixdown_dsp::units::power_to_db;

/// Length of the level envelope's frames, ms.
const FRAME_MS: f64 = 10.0;
/// Frames quieter than this below the loudest frame are "not playing", dB.
const ACTIVITY_RANGE_DB: f64 = 45.0;
/// An onset is a frame this much louder than the quietest of the few before it, dB.
const ONSET_RISE_DB: f64 = 9.0;
/// Frames before an onset compared against it.
const ONSET_LOOKBACK_FRAMES: usize = 3;
/// No two onsets closer than this, frames (50 ms).
const ONSET_REFRACTORY_FRAMES: usize = 5;
/// Upper edge of the "low end", Hz.
pub const LOW_END_HZ: f64 = 150.0;
/// Lower edge of the "top end", Hz.
pub const TOP_END_HZ: f64 = 5_000.0;

/// Features of one stem.
#[derive(Debug, Clone, PartialEq)]
pub struct StemFeatures {
    /// Channels of the stem.
    pub channel_count: usize,
    /// Length, s.
    pub duration_s: f64,
    /// Gated integrated loudness (BS.1770-4): silence and quiet passages are gated
    /// out, so a stem playing for 10 s of 3 minutes is judged by those 10 s. LUFS;
    /// `None` for silence.
    pub active_loudness_lufs: Option<f64>,
    /// Share of the stem's duration where it plays (10 ms frames within 45 dB of
    /// its loudest frame), 0…1.
    pub active_fraction: f64,
    /// Highest sample, dBFS.
    pub peak_dbfs: Option<f64>,
    /// Percentiles 50, 90 and 99 of the 10 ms RMS levels of the active frames, dBFS:
    /// where compressor thresholds belong.
    pub level_percentiles_db: Option<[f64; 3]>,
    /// Long-term 1/3-octave spectrum of the mono sum.
    pub spectrum: ThirdOctaveSpectrum,
    /// Power-weighted mean frequency of the spectrum, Hz.
    pub centroid_hz: Option<f64>,
    /// Share of the power below [`LOW_END_HZ`], 0…1.
    pub low_share: f64,
    /// Share of the power above [`TOP_END_HZ`], 0…1.
    pub top_share: f64,
    /// Onsets per second of playing time: high for drums, low for pads.
    pub onset_rate_hz: f64,
    /// Correlation of left and right (`None` for mono).
    pub stereo_correlation: Option<f64>,
    /// Share of the mono sum's pitch frames (≈ 50 ms every 40 ms, within 30 dB of the
    /// loudest so far) that are periodic by YIN, 0…1: near 1 for a voice, a bass line
    /// or a lead, near 0 for cymbals and noise (a held chord is periodic too, at the
    /// period common to its notes).
    pub voiced_fraction: f64,
    /// Median fundamental frequency of the voiced frames, Hz (40–1600 Hz searched);
    /// `None` when no frame is voiced.
    pub median_pitch_hz: Option<f64>,
    /// Spread of the voiced frames' pitch from its 10th to its 90th percentile,
    /// semitones: ≈ 0 for a drone or a held note, several for a melody; `None` when no
    /// frame is voiced.
    pub pitch_range_semitones: Option<f64>,
}

/// Streaming measurement of [`StemFeatures`]: feed planar blocks, then finish.
pub struct StemAnalyzer {
    sample_rate_hz: u32,
    channel_count: usize,
    frames: u64,
    loudness: GatedLoudness,
    levels: LevelStats,
    spectrum: SpectrumAnalyzer,
    pitch: PitchTracker,
    mono: Vec<f32>,
    frame_len: usize,
    frame_fill: usize,
    frame_energy: f64,
    /// Mean square of each 10 ms frame of the mono sum.
    frame_powers: Vec<f64>,
}

impl StemAnalyzer {
    /// An analyzer for `channel_count` channels (1 or 2: stems) at `sample_rate_hz`.
    pub fn new(channel_count: usize, sample_rate_hz: u32) -> Result<Self, AnalysisError> {
        Ok(Self {
            sample_rate_hz,
            channel_count,
            frames: 0,
            loudness: GatedLoudness::new(channel_count, sample_rate_hz),
            levels: LevelStats::new(channel_count),
            spectrum: SpectrumAnalyzer::new(sample_rate_hz),
            pitch: PitchTracker::new(sample_rate_hz),
            mono: Vec::new(),
            frame_len: ((f64::from(sample_rate_hz) * FRAME_MS / 1000.0).round() as usize).max(1),
            frame_fill: 0,
            frame_energy: 0.0,
            frame_powers: Vec::new(),
        })
    }

    /// Adds one planar block.
    pub fn add(&mut self, block: &[&[f32]]) -> Result<(), AnalysisError> {
        self.loudness.add(block);
        self.levels.add(block);
        let frames = block.first().map_or(0, |c| c.len());
        self.frames += frames as u64;
        let scale = 1.0 / block.len().max(1) as f32;
        self.mono.clear();
        self.mono
            .extend((0..frames).map(|i| block.iter().map(|c| c[i]).sum::<f32>() * scale));
        self.spectrum.push(&self.mono);
        self.pitch.push(&self.mono);
        for &x in &self.mono {
            self.frame_energy += f64::from(x) * f64::from(x);
            self.frame_fill += 1;
            if self.frame_fill == self.frame_len {
                self.frame_powers
                    .push(self.frame_energy / self.frame_len as f64);
                self.frame_energy = 0.0;
                self.frame_fill = 0;
            }
        }
        Ok(())
    }

    /// The features of everything added.
    pub fn finish(self) -> StemFeatures {
        let spectrum = self.spectrum.finish();
        let band_powers: Vec<(f64, f64)> = spectrum
            .bands
            .iter()
            .filter_map(|b| b.level_db.map(|db| (b.center_hz, 10f64.powf(db / 10.0))))
            .collect();
        let total: f64 = band_powers.iter().map(|(_, p)| p).sum();
        let share = |keep: &dyn Fn(f64) -> bool| {
            if total > 0.0 {
                band_powers
                    .iter()
                    .filter(|(f, _)| keep(*f))
                    .map(|(_, p)| p)
                    .sum::<f64>()
                    / total
            } else {
                0.0
            }
        };
        let centroid_hz =
            (total > 0.0).then(|| band_powers.iter().map(|(f, p)| f * p).sum::<f64>() / total);

        let loudest = self.frame_powers.iter().copied().fold(0.0, f64::max);
        let floor = loudest * 10f64.powf(-ACTIVITY_RANGE_DB / 10.0);
        let active: Vec<f64> = self
            .frame_powers
            .iter()
            .copied()
            .filter(|&p| loudest > 0.0 && p >= floor)
            .collect();
        let active_fraction = if self.frame_powers.is_empty() {
            0.0
        } else {
            active.len() as f64 / self.frame_powers.len() as f64
        };
        let level_percentiles_db = (!active.is_empty()).then(|| {
            let mut sorted: Vec<f64> = active.iter().map(|&p| power_to_db(p)).collect();
            sorted.sort_by(f64::total_cmp);
            let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
            [at(0.5), at(0.9), at(0.99)]
        });
        let onsets = count_onsets(&self.frame_powers, floor);
        let pitch = self.pitch.finish();
        let active_s = active.len() as f64 * FRAME_MS / 1000.0;
        StemFeatures {
            channel_count: self.channel_count,
            duration_s: self.frames as f64 / f64::from(self.sample_rate_hz),
            active_loudness_lufs: self.loudness.loudness_lufs(),
            active_fraction,
            peak_dbfs: self.levels.sample_peak_dbfs(),
            level_percentiles_db,
            spectrum,
            centroid_hz,
            low_share: share(&|f| f < LOW_END_HZ),
            top_share: share(&|f| f >= TOP_END_HZ),
            onset_rate_hz: if active_s > 0.0 {
                onsets as f64 / active_s
            } else {
                0.0
            },
            stereo_correlation: self.levels.stereo_correlation(),
            voiced_fraction: pitch.voiced_fraction,
            median_pitch_hz: pitch.median_pitch_hz,
            pitch_range_semitones: pitch.pitch_range_semitones,
        }
    }
}

/// Frames that rise [`ONSET_RISE_DB`] above the quietest of the few before them, above
/// the activity floor, at least [`ONSET_REFRACTORY_FRAMES`] apart.
fn count_onsets(frame_powers: &[f64], floor: f64) -> usize {
    let rise = 10f64.powf(ONSET_RISE_DB / 10.0);
    let mut count = 0;
    let mut last_onset: Option<usize> = None;
    for i in ONSET_LOOKBACK_FRAMES..frame_powers.len() {
        let before = frame_powers[i - ONSET_LOOKBACK_FRAMES..i]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let is_onset = frame_powers[i] >= floor
            && frame_powers[i] > rise * before.max(floor * 1e-3)
            && last_onset.is_none_or(|last| i - last >= ONSET_REFRACTORY_FRAMES);
        if is_onset {
            count += 1;
            last_onset = Some(i);
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixdown_dsp::dither::NoiseSource;
    use std::f64::consts::{PI, TAU};

    const RATE: u32 = 48_000;

    fn features(channels: &[Vec<f32>]) -> StemFeatures {
        // Odd block sizes: the result must not depend on them.
        features_in_blocks(channels, 1_234)
    }

    fn features_in_blocks(channels: &[Vec<f32>], block: usize) -> StemFeatures {
        let mut analyzer = StemAnalyzer::new(channels.len(), RATE).unwrap();
        let frames = channels[0].len();
        let mut start = 0;
        while start < frames {
            let end = (start + block).min(frames);
            let block: Vec<&[f32]> = channels.iter().map(|c| &c[start..end]).collect();
            analyzer.add(&block).unwrap();
            start = end;
        }
        analyzer.finish()
    }

    fn tone(freq_hz: f64, amplitude: f64, seconds: f64) -> Vec<f32> {
        (0..(seconds * f64::from(RATE)) as usize)
            .map(|i| (amplitude * (2.0 * PI * freq_hz * i as f64 / f64::from(RATE)).sin()) as f32)
            .collect()
    }

    #[test]
    fn loudness_is_judged_where_the_stem_plays() {
        let mut sparse = vec![0.0f32; 60 * RATE as usize];
        let burst = tone(1000.0, 0.5, 10.0);
        sparse[..burst.len()].copy_from_slice(&burst);
        let sparse = features(&[sparse]);
        let full = features(&[tone(1000.0, 0.5, 10.0)]);
        let (a, b) = (
            sparse.active_loudness_lufs.unwrap(),
            full.active_loudness_lufs.unwrap(),
        );
        // The 400 ms blocks straddling the end of the burst cost a few hundredths.
        assert!((a - b).abs() < 0.1, "{a} vs {b}");
        assert!(
            (sparse.active_fraction - 1.0 / 6.0).abs() < 0.01,
            "{}",
            sparse.active_fraction
        );
        // A 0.5-amplitude sine: −9.0 dBFS RMS in every frame.
        let [p50, p90, p99] = full.level_percentiles_db.unwrap();
        for p in [p50, p90, p99] {
            assert!((p + 9.03).abs() < 0.1, "{p}");
        }
    }

    #[test]
    fn spectrum_shares_and_onsets_tell_a_kick_from_a_pad() {
        // Kick-like: 55 Hz bursts of 100 ms, twice a second.
        let mut kick = vec![0.0f32; 8 * RATE as usize];
        for beat in 0..16 {
            let burst = tone(55.0, 0.8, 0.1);
            let at = beat * RATE as usize / 2;
            kick[at..at + burst.len()].copy_from_slice(&burst);
        }
        let kick = features(&[kick]);
        let pad = features(&[tone(880.0, 0.3, 8.0)]);
        assert!(kick.low_share > 0.9, "{}", kick.low_share);
        assert!(pad.low_share < 0.01, "{}", pad.low_share);
        assert!((kick.onset_rate_hz * kick.active_fraction * 8.0 - 16.0).abs() <= 1.0);
        assert!(pad.onset_rate_hz < 0.2, "{}", pad.onset_rate_hz);
        assert!(pad.centroid_hz.unwrap() > 700.0 && pad.centroid_hz.unwrap() < 1100.0);
        let silence = features(&[vec![0.0; RATE as usize]]);
        assert_eq!(silence.active_loudness_lufs, None);
        assert_eq!(silence.active_fraction, 0.0);
        assert_eq!(silence.level_percentiles_db, None);
    }

    #[test]
    fn voicing_and_pitch_tell_a_bass_line_from_noise() {
        // A bass line: 1/k harmonics of A1 (55 Hz) and E2 (82.4 Hz), half a second each.
        let notes_hz = [55.0, 82.407, 55.0, 82.407, 55.0, 82.407];
        let mut bass = Vec::new();
        for &f0 in &notes_hz {
            let note: Vec<f32> = (0..RATE as usize / 2)
                .map(|i| {
                    let t = i as f64 / f64::from(RATE);
                    let x: f64 = (1..=12)
                        .map(|k| (TAU * k as f64 * f0 * t).sin() / k as f64)
                        .sum();
                    (0.2 * x) as f32
                })
                .collect();
            bass.extend(note);
        }
        let bass = features(&[bass.clone(), bass]);
        assert!(bass.voiced_fraction > 0.9, "{bass:?}");
        // Half the voiced frames at each note: the nearest-rank median is one of them.
        let median = bass.median_pitch_hz.unwrap();
        assert!(
            notes_hz.iter().any(|f| (median / f - 1.0).abs() < 0.01),
            "{median}"
        );
        // Percentiles 10 and 90 are the two notes: a fifth, 7 semitones.
        assert!(
            (bass.pitch_range_semitones.unwrap() - 7.0).abs() < 0.1,
            "{bass:?}"
        );

        let mut source = NoiseSource::new(3);
        let noise: Vec<f32> = (0..2 * RATE as usize)
            .map(|_| (source.next_uniform() * 0.3) as f32)
            .collect();
        let noise = features(&[noise]);
        assert!(noise.voiced_fraction < 0.05, "{noise:?}");
        let silence = features(&[vec![0.0; RATE as usize]]);
        assert_eq!(silence.voiced_fraction, 0.0);
        assert_eq!(silence.median_pitch_hz, None);
        assert_eq!(silence.pitch_range_semitones, None);
    }

    #[test]
    fn features_do_not_depend_on_block_sizes() {
        // Stereo: a gliding tone on the left, bursts of noise on the right.
        let left: Vec<f32> = (0..2 * RATE as usize)
            .map(|i| {
                let t = i as f64 / f64::from(RATE);
                // Phase of 220·2^(t/2) Hz: 220·2/ln 2·(2^(t/2) − 1) cycles.
                (0.3 * (TAU * 440.0 / 2f64.ln() * (2f64.powf(t / 2.0) - 1.0)).sin()) as f32
            })
            .collect();
        let mut source = NoiseSource::new(5);
        let right: Vec<f32> = (0..left.len())
            .map(|i| {
                let burst = (i / 4_800) % 4 == 0;
                if burst {
                    (source.next_uniform() * 0.5) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let channels = [left, right];
        let whole = features_in_blocks(&channels, channels[0].len());
        assert!(whole.voiced_fraction > 0.2, "{whole:?}");
        let pitch = |f: &StemFeatures| {
            (
                f.voiced_fraction,
                f.median_pitch_hz,
                f.pitch_range_semitones,
            )
        };
        // The voicing and pitch features exactly (the loudness and level sums differ
        // in their last digits between block sizes; their own tests bound that).
        for block in [1, 441, 1_234, 4_096] {
            let cut = features_in_blocks(&channels, block);
            assert_eq!(pitch(&cut), pitch(&whole), "{block}");
        }
    }
}
