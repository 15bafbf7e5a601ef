//! What the mastering planner needs to know about a programme, gathered in one
//! streaming pass: the analyze metrics, mid and side spectra, the level
//! distribution of each multiband band, and the stereo image of the low end.

use mixdown_analysis::{AnalysisError, Analyzer, Metrics, SpectrumAnalyzer, ThirdOctaveSpectrum};
use mixdown_dsp::biquad::Biquad;
use mixdown_dsp::crossover::BandSplitter;
use mixdown_dsp::filters::{butterworth_sections, PassKind};
use mixdown_dsp::units::power_to_db;

/// Crossovers of the mastering multiband compressor, Hz: lows, low mids, high
/// mids, highs — the split most mastering multibands default to.
pub const MULTIBAND_CROSSOVERS_HZ: [f64; 3] = [120.0, 1_000.0, 6_000.0];

/// Below this frequency the low end is checked for width and phase (and may be
/// made mono), Hz.
pub const LOW_END_HZ: f64 = 120.0;

/// Length of the blocks whose RMS forms each band's level distribution, seconds.
const LEVEL_BLOCK_S: f64 = 0.1;

/// The measured profile of a programme.
#[derive(Debug, Clone)]
pub struct ProgrammeProfile {
    /// The analyze metrics; `metrics.spectrum` is the mid (channel-average) spectrum.
    pub metrics: Metrics,
    /// Spectrum of the side signal (L−R)/2; `None` unless stereo.
    pub side_spectrum: Option<ThirdOctaveSpectrum>,
    /// For each band of [`MULTIBAND_CROSSOVERS_HZ`]: the RMS levels (dBFS) of the
    /// 100 ms blocks of the mid signal in that band, sorted ascending, silent blocks left out.
    pub band_levels_db: Vec<Vec<f64>>,
    /// Side-to-mid energy ratio below [`LOW_END_HZ`], dB; `None` unless stereo or when silent.
    pub low_side_to_mid_db: Option<f64>,
    /// Side-to-mid energy ratio over the whole band, dB.
    pub side_to_mid_db: Option<f64>,
}

impl ProgrammeProfile {
    /// The `percentile` (0–100) of band `band`'s block levels, dBFS.
    pub fn band_level_percentile_db(&self, band: usize, percentile: f64) -> Option<f64> {
        let levels = self.band_levels_db.get(band)?;
        if levels.is_empty() {
            return None;
        }
        let index = ((percentile / 100.0) * (levels.len() - 1) as f64).round() as usize;
        levels.get(index).copied()
    }
}

/// Builds a [`ProgrammeProfile`] from planar blocks.
pub struct ProfileBuilder {
    analyzer: Analyzer,
    side_spectrum: Option<SpectrumAnalyzer>,
    splitter: BandSplitter,
    band_sums: Vec<f64>,
    band_scratch: Vec<f64>,
    band_levels_db: Vec<Vec<f64>>,
    frames_per_level_block: usize,
    frames_in_level_block: usize,
    low_pass: [Vec<Biquad>; 2],
    low_mid_energy: f64,
    low_side_energy: f64,
    mid_energy: f64,
    side_energy: f64,
    side_scratch: Vec<f32>,
    stereo: bool,
}

impl ProfileBuilder {
    /// A builder for `channel_count` channels at `sample_rate_hz`.
    pub fn new(channel_count: usize, sample_rate_hz: u32) -> Result<Self, AnalysisError> {
        let rate = f64::from(sample_rate_hz);
        let stereo = channel_count == 2;
        // LR4 low-pass: two cascaded 2nd-order Butterworth sections.
        let lr4: Vec<Biquad> = [
            butterworth_sections(PassKind::LowPass, 2, LOW_END_HZ, rate),
            butterworth_sections(PassKind::LowPass, 2, LOW_END_HZ, rate),
        ]
        .concat()
        .into_iter()
        .map(Biquad::new)
        .collect();
        let bands = MULTIBAND_CROSSOVERS_HZ.len() + 1;
        Ok(Self {
            analyzer: Analyzer::new(channel_count, sample_rate_hz)?,
            side_spectrum: stereo.then(|| SpectrumAnalyzer::new(sample_rate_hz)),
            splitter: BandSplitter::new(&MULTIBAND_CROSSOVERS_HZ, rate),
            band_sums: vec![0.0; bands],
            band_scratch: vec![0.0; bands],
            band_levels_db: vec![Vec::new(); bands],
            frames_per_level_block: ((rate * LEVEL_BLOCK_S) as usize).max(1),
            frames_in_level_block: 0,
            low_pass: [lr4.clone(), lr4],
            low_mid_energy: 0.0,
            low_side_energy: 0.0,
            mid_energy: 0.0,
            side_energy: 0.0,
            side_scratch: Vec::new(),
            stereo,
        })
    }

    /// Adds one planar block.
    pub fn add(&mut self, block: &[&[f32]]) -> Result<(), AnalysisError> {
        self.analyzer.add(block)?;
        let frames = block.first().map_or(0, |c| c.len());
        let weight = 1.0 / block.len().max(1) as f64;
        for frame in 0..frames {
            let mid: f64 = block.iter().map(|c| f64::from(c[frame])).sum::<f64>() * weight;
            self.splitter.split_sample(mid, &mut self.band_scratch);
            for (sum, band) in self.band_sums.iter_mut().zip(&self.band_scratch) {
                *sum += band * band;
            }
            self.frames_in_level_block += 1;
            if self.frames_in_level_block == self.frames_per_level_block {
                self.close_level_block();
            }
        }
        if let [left, right] = block {
            self.side_scratch.clear();
            for (&l, &r) in left.iter().zip(*right) {
                let (l, r) = (f64::from(l), f64::from(r));
                let (mid, side) = (0.5 * (l + r), 0.5 * (l - r));
                self.mid_energy += mid * mid;
                self.side_energy += side * side;
                let low_l = self.low_pass[0]
                    .iter_mut()
                    .fold(l, |x, s| s.process_sample(x));
                let low_r = self.low_pass[1]
                    .iter_mut()
                    .fold(r, |x, s| s.process_sample(x));
                self.low_mid_energy += (0.5 * (low_l + low_r)).powi(2);
                self.low_side_energy += (0.5 * (low_l - low_r)).powi(2);
                self.side_scratch.push(side as f32);
            }
            if let Some(spectrum) = self.side_spectrum.as_mut() {
                spectrum.push(&self.side_scratch);
            }
        }
        Ok(())
    }

    fn close_level_block(&mut self) {
        let frames = self.frames_in_level_block as f64;
        for (levels, sum) in self
            .band_levels_db
            .iter_mut()
            .zip(self.band_sums.iter_mut())
        {
            let level_db = power_to_db(*sum / frames);
            // Blocks below -90 dBFS are silence, not programme.
            if level_db > -90.0 {
                levels.push(level_db);
            }
            *sum = 0.0;
        }
        self.frames_in_level_block = 0;
    }

    /// The profile of everything added.
    pub fn finish(mut self) -> ProgrammeProfile {
        if self.frames_in_level_block > 0 {
            self.close_level_block();
        }
        for levels in &mut self.band_levels_db {
            levels.sort_by(f64::total_cmp);
        }
        let ratio_db = |side: f64, mid: f64| {
            (mid > 0.0 && self.stereo)
                .then(|| power_to_db(side / mid))
                .filter(|v| v.is_finite())
        };
        ProgrammeProfile {
            low_side_to_mid_db: ratio_db(self.low_side_energy, self.low_mid_energy),
            side_to_mid_db: ratio_db(self.side_energy, self.mid_energy),
            metrics: self.analyzer.finish(),
            side_spectrum: self.side_spectrum.map(SpectrumAnalyzer::finish),
            band_levels_db: self.band_levels_db,
        }
    }
}
