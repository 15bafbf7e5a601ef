//! Turning processor specifications (`mixdown-session`'s vocabulary) into running
//! `mixdown-dsp` processors, and running a chain of them over a stream with its
//! latency compensated.

use mixdown_dsp::biquad::{BiquadCoefficients, BiquadKind};
use mixdown_dsp::dynamics::{Compressor, CompressorSettings, Detector, MultibandCompressor};
use mixdown_dsp::filters::{butterworth_sections, FilterChain, FilterTarget, Gain, PassKind};
use mixdown_dsp::limiter::{LimiterSettings, TruePeakLimiter};
use mixdown_dsp::saturation::Saturator;
use mixdown_dsp::stereo::StereoWidth;
use mixdown_dsp::{
    DeEsser, DeEsserSettings, DelaySettings, FeedbackDelay, Gate, GateSettings, Processor, Reverb,
    ReverbSettings,
};
use mixdown_session::{
    delay_time_ms, CompressorBand, CompressorSpec, DetectorKind, EqBand, EqBandKind, ProcessorSpec,
    StereoPart,
};

/// Biquad coefficients of one EQ band at `sample_rate_hz`.
pub fn eq_band_coefficients(band: &EqBand, sample_rate_hz: f64) -> BiquadCoefficients {
    let kind = match band.kind {
        EqBandKind::Bell => BiquadKind::Bell {
            gain_db: band.gain_db,
        },
        EqBandKind::LowShelf => BiquadKind::LowShelf {
            gain_db: band.gain_db,
        },
        EqBandKind::HighShelf => BiquadKind::HighShelf {
            gain_db: band.gain_db,
        },
        EqBandKind::Notch => BiquadKind::Notch,
    };
    BiquadCoefficients::design(kind, band.freq, band.q, sample_rate_hz)
}

/// The magnitude response of `bands` at `freq_hz`, dB.
pub fn eq_response_db(bands: &[EqBand], freq_hz: f64, sample_rate_hz: f64) -> f64 {
    bands
        .iter()
        .map(|b| {
            mixdown_dsp::units::gain_to_db(
                eq_band_coefficients(b, sample_rate_hz).magnitude_at(freq_hz, sample_rate_hz),
            )
        })
        .sum()
}

/// Compressor settings from a spec band. Mastering and bus compression listen to
/// RMS: it follows loudness rather than individual transients.
pub fn compressor_settings(band: &CompressorBand) -> CompressorSettings {
    CompressorSettings {
        threshold_db: band.threshold_db,
        ratio: band.ratio,
        knee_db: band.knee_db,
        attack_ms: band.attack_ms,
        release_ms: band.release_ms,
        makeup_db: band.makeup_db,
        detector: Detector::Rms,
    }
}

/// The biquad sections of a stage that filters every channel alike (high-pass,
/// low-pass, stereo EQ), or `None` for any other stage. Consecutive such stages can
/// run as one cascade: the same sections in the same order give the same samples.
pub fn filter_sections(
    spec: &ProcessorSpec,
    sample_rate_hz: f64,
) -> Option<Vec<BiquadCoefficients>> {
    match spec {
        ProcessorSpec::Highpass {
            freq,
            slope_db_per_oct,
        } => Some(butterworth_sections(
            PassKind::HighPass,
            slope_db_per_oct / 6,
            *freq,
            sample_rate_hz,
        )),
        ProcessorSpec::Lowpass {
            freq,
            slope_db_per_oct,
        } => Some(butterworth_sections(
            PassKind::LowPass,
            slope_db_per_oct / 6,
            *freq,
            sample_rate_hz,
        )),
        ProcessorSpec::Eq {
            bands,
            part: StereoPart::Stereo,
        } => Some(
            bands
                .iter()
                .map(|b| eq_band_coefficients(b, sample_rate_hz))
                .collect(),
        ),
        _ => None,
    }
}

/// A compressor for a broadband compressor stage (its sidechain key, if any, is the
/// caller's to feed through [`Compressor::process_with_key`]).
pub fn compressor_for(spec: &CompressorSpec) -> Compressor {
    Compressor::new(CompressorSettings {
        detector: match spec.detector {
            DetectorKind::Peak => Detector::Peak,
            DetectorKind::Rms => Detector::Rms,
        },
        ..compressor_settings(&spec.band())
    })
}

/// A processor for `spec` at `sample_rate_hz` (not yet prepared). `tempo_bpm` is the
/// session tempo for note-valued delays. `spec` must be valid
/// ([`mixdown_session::validate`]): the DSP constructors assert their ranges.
pub fn build_processor(
    spec: &ProcessorSpec,
    sample_rate_hz: u32,
    tempo_bpm: Option<f64>,
) -> Box<dyn Processor> {
    let rate = f64::from(sample_rate_hz);
    match spec {
        ProcessorSpec::Highpass { .. }
        | ProcessorSpec::Lowpass { .. }
        | ProcessorSpec::Eq {
            part: StereoPart::Stereo,
            ..
        } => Box::new(FilterChain::new(
            filter_sections(spec, rate).unwrap_or_default(),
            FilterTarget::AllChannels,
        )),
        ProcessorSpec::Eq { bands, part } => Box::new(FilterChain::new(
            bands
                .iter()
                .map(|b| eq_band_coefficients(b, rate))
                .collect(),
            match part {
                StereoPart::Mid => FilterTarget::Mid,
                _ => FilterTarget::Side,
            },
        )),
        ProcessorSpec::Compressor(compressor) => Box::new(compressor_for(compressor)),
        ProcessorSpec::MultibandCompressor {
            crossovers_hz,
            bands,
        } => Box::new(MultibandCompressor::new(
            crossovers_hz.clone(),
            bands.iter().map(compressor_settings).collect(),
        )),
        ProcessorSpec::StereoWidth {
            width,
            mono_below_hz,
        } => Box::new(StereoWidth::new(*width, *mono_below_hz)),
        ProcessorSpec::Saturation { drive_db, mix } => Box::new(Saturator::new(*drive_db, *mix)),
        ProcessorSpec::Gain { gain_db } => Box::new(Gain::new(*gain_db)),
        ProcessorSpec::Limiter {
            ceiling_dbtp,
            lookahead_ms,
            release_ms,
        } => Box::new(TruePeakLimiter::new(LimiterSettings {
            ceiling_dbtp: *ceiling_dbtp,
            lookahead_ms: *lookahead_ms,
            release_ms: *release_ms,
        })),
        ProcessorSpec::Gate(gate) => Box::new(Gate::new(GateSettings {
            threshold_db: gate.threshold_db,
            ratio: gate.ratio.unwrap_or(f64::INFINITY),
            range_db: gate.range_db,
            attack_ms: gate.attack_ms,
            hold_ms: gate.hold_ms,
            release_ms: gate.release_ms,
        })),
        ProcessorSpec::DeEsser(de_esser) => Box::new(DeEsser::new(DeEsserSettings {
            freq_hz: de_esser.freq,
            threshold_db: de_esser.threshold_db,
            ratio: de_esser.ratio,
            max_reduction_db: de_esser.max_reduction_db,
            attack_ms: de_esser.attack_ms,
            release_ms: de_esser.release_ms,
        })),
        ProcessorSpec::Reverb(reverb) => Box::new(Reverb::new(ReverbSettings {
            decay_s: reverb.decay_s,
            predelay_ms: reverb.predelay_ms,
            damping_hz: reverb.damping_hz,
            mix: reverb.mix,
        })),
        ProcessorSpec::Delay(delay) => Box::new(FeedbackDelay::new(DelaySettings {
            time_ms: delay_time_ms(delay, tempo_bpm),
            feedback: delay.feedback,
            mix: delay.mix,
            ping_pong: delay.ping_pong,
            highcut_hz: delay.highcut_hz,
        })),
    }
}

/// Processors run in series over planar blocks.
pub struct Chain {
    processors: Vec<Box<dyn Processor>>,
}

impl Chain {
    /// Builds and prepares the processors of `specs`.
    pub fn new(
        specs: &[ProcessorSpec],
        sample_rate_hz: u32,
        max_block_frames: usize,
        channel_count: usize,
    ) -> Self {
        let processors = specs
            .iter()
            .map(|spec| {
                let mut p = build_processor(spec, sample_rate_hz, None);
                p.prepare(sample_rate_hz, max_block_frames, channel_count);
                p
            })
            .collect();
        Self { processors }
    }

    /// Total latency, frames.
    pub fn latency_frames(&self) -> usize {
        self.processors.iter().map(|p| p.latency_frames()).sum()
    }

    /// Runs an owned planar block through every processor in place.
    pub fn process_owned(&mut self, block: &mut [Vec<f32>]) {
        if self.processors.is_empty() {
            return;
        }
        let mut slices: Vec<&mut [f32]> = block.iter_mut().map(Vec::as_mut_slice).collect();
        self.process(&mut slices);
    }

    /// Runs one block through every processor in place.
    pub fn process(&mut self, block: &mut [&mut [f32]]) {
        for p in &mut self.processors {
            p.process(block);
        }
    }
}
