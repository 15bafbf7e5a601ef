//! Criterion benchmarks of the compressors on three minutes of music-like stereo at
//! 44.1 kHz, in the mastering engine's configuration: four RMS-detected bands split
//! at 120 Hz, 1 kHz and 6 kHz, ratios 1.5–3, 6 dB knee, thresholds at each band's
//! median 10 ms level so that compression is active much of the time, 4 096-frame
//! blocks.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mixdown_dsp::crossover::BandSplitter;
use mixdown_dsp::dither::NoiseSource;
use mixdown_dsp::dynamics::{Compressor, CompressorSettings, Detector, MultibandCompressor};
use mixdown_dsp::processor::process_in_blocks;
use mixdown_dsp::units::power_to_db;
use mixdown_dsp::Processor;
use std::f64::consts::TAU;
use std::hint::black_box;

const FS: u32 = 44_100;
const BLOCK_FRAMES: usize = 4_096;
const CROSSOVERS_HZ: [f64; 3] = [120.0, 1_000.0, 6_000.0];

/// A deterministic stand-in for a mix: kick, bass, chords, snare, hi-hats and a noise
/// bed at 120 bpm, with quiet verses and loud choruses alternating every 16 s.
fn music(seconds: usize) -> Vec<Vec<f32>> {
    let fs = f64::from(FS);
    let frames = seconds * FS as usize;
    let beat = (fs / 2.0) as usize;
    let mut noise = NoiseSource::new(11);
    let bass_notes = [55.0, 55.0, 73.42, 65.41];
    let chords = [
        [220.0, 277.18, 329.63],
        [196.0, 246.94, 293.66],
        [174.61, 220.0, 261.63],
        [196.0, 246.94, 329.63],
    ];
    let mut bed = [0.0f64; 2];
    let mut previous_hat = [0.0f64; 2];
    let mut kick_phase = 0.0;
    let mut channels = [Vec::with_capacity(frames), Vec::with_capacity(frames)];
    for n in 0..frames {
        let t = n as f64 / fs;
        let beat_index = n / beat;
        let in_beat = (n % beat) as f64 / fs;
        let section = if (t / 16.0) as usize % 2 == 0 {
            0.45
        } else {
            1.0
        };
        kick_phase += TAU * (50.0 + 60.0 * (-in_beat / 0.04).exp()) / fs;
        let kick = 0.5 * (-in_beat / 0.12).exp() * kick_phase.sin();
        let bass_hz = bass_notes[beat_index % 4];
        let bass: f64 = (1..=4)
            .map(|h| (TAU * bass_hz * f64::from(h) * t).sin() / f64::from(h))
            .sum::<f64>()
            * 0.15
            * (0.6 + 0.4 * (-in_beat / 0.3).exp());
        let chord = chords[(t / 2.0) as usize % 4];
        let tremolo = 1.0 + 0.3 * (TAU * 0.5 * t).sin();
        let snare_env = if beat_index % 2 == 1 {
            (-in_beat / 0.08).exp()
        } else {
            0.0
        };
        let hat_env = (-((n % (beat / 2)) as f64 / fs) / 0.03).exp();
        for (channel, samples) in channels.iter_mut().enumerate() {
            let pan = if channel == 0 { 0.8 } else { 1.2 };
            let chords: f64 = chord
                .iter()
                .enumerate()
                .map(|(i, f)| (TAU * f * (1.0 + 0.001 * i as f64 * pan) * t).sin())
                .sum::<f64>()
                * 0.06
                * tremolo
                * pan;
            let white = noise.next_uniform();
            let hat = 0.12 * hat_env * (white - previous_hat[channel]) * (2.0 - pan);
            previous_hat[channel] = white;
            let snare = snare_env * (0.25 * noise.next_uniform() + 0.1 * (TAU * 190.0 * t).sin());
            bed[channel] = 0.99 * bed[channel] + 0.01 * noise.next_uniform();
            let x = section * (kick + bass + chords + hat + snare + 0.5 * bed[channel]);
            samples.push((0.9 * x) as f32);
        }
    }
    channels.into()
}

/// Each band's median 10 ms mean-square level (loudest channel), dBFS.
fn median_band_levels_db(input: &[Vec<f32>]) -> Vec<f64> {
    let bands = CROSSOVERS_HZ.len() + 1;
    let coeff = (-1_000.0 / (10.0 * f64::from(FS))).exp();
    let mut splitters: Vec<_> = input
        .iter()
        .map(|_| BandSplitter::new(&CROSSOVERS_HZ, f64::from(FS)))
        .collect();
    let mut mean_squares = vec![vec![0.0; bands]; input.len()];
    let mut levels = vec![Vec::new(); bands];
    let mut split = vec![0.0; bands];
    for n in 0..input[0].len() {
        for ((splitter, samples), mean_squares) in
            splitters.iter_mut().zip(input).zip(&mut mean_squares)
        {
            splitter.split_sample(f64::from(samples[n]), &mut split);
            for (ms, x) in mean_squares.iter_mut().zip(&split) {
                *ms = coeff * *ms + (1.0 - coeff) * x * x;
            }
        }
        if n % 441 == 0 {
            for (band, level) in levels.iter_mut().enumerate() {
                let loudest = mean_squares.iter().map(|m| m[band]).fold(0.0, f64::max);
                level.push(power_to_db(loudest));
            }
        }
    }
    levels
        .into_iter()
        .map(|mut level| {
            level.sort_by(f64::total_cmp);
            level[level.len() / 2]
        })
        .collect()
}

fn multiband(thresholds_db: &[f64]) -> MultibandCompressor {
    let timings = [(30.0, 250.0), (15.0, 150.0), (8.0, 100.0), (4.0, 80.0)];
    let ratios = [1.5, 2.0, 2.5, 3.0];
    let bands = thresholds_db
        .iter()
        .zip(timings.iter().zip(ratios))
        .map(
            |(&threshold_db, (&(attack_ms, release_ms), ratio))| CompressorSettings {
                threshold_db: (threshold_db * 10.0).round() / 10.0,
                ratio,
                knee_db: 6.0,
                attack_ms,
                release_ms,
                makeup_db: 0.0,
                detector: Detector::Rms,
            },
        )
        .collect();
    let mut compressor = MultibandCompressor::new(CROSSOVERS_HZ.to_vec(), bands);
    compressor.prepare(FS, BLOCK_FRAMES, 2);
    compressor
}

fn compressor(detector: Detector) -> Compressor {
    let mut compressor = Compressor::new(CompressorSettings {
        threshold_db: -24.0,
        ratio: 2.0,
        knee_db: 6.0,
        attack_ms: 10.0,
        release_ms: 150.0,
        makeup_db: 1.0,
        detector,
    });
    compressor.prepare(FS, BLOCK_FRAMES, 2);
    compressor
}

fn dynamics(c: &mut Criterion) {
    let input = music(180);
    let thresholds_db = median_band_levels_db(&input);
    {
        // How hard the benchmark works the gain computers (printed once).
        let mut output = input.clone();
        let mut compressor = multiband(&thresholds_db);
        process_in_blocks(&mut compressor, &mut output, BLOCK_FRAMES);
        for (band, threshold_db) in thresholds_db.iter().enumerate() {
            let stats = compressor.band_gain_reduction_stats(band);
            eprintln!(
                "band {band}: threshold {threshold_db:.1} dBFS, mean reduction {:.2} dB, max {:.2} dB",
                stats.mean_db, stats.max_db
            );
        }
    }

    let mut group = c.benchmark_group("dynamics_3min_stereo_44k1");
    group.sample_size(10);
    group.throughput(Throughput::Elements(input[0].len() as u64));
    group.bench_function("multiband_4_bands_rms", |b| {
        b.iter_batched_ref(
            || (multiband(&thresholds_db), input.clone()),
            |(compressor, output)| process_in_blocks(compressor, black_box(output), BLOCK_FRAMES),
            BatchSize::LargeInput,
        )
    });
    for detector in [Detector::Rms, Detector::Peak] {
        group.bench_function(format!("compressor_{detector:?}").to_lowercase(), |b| {
            b.iter_batched_ref(
                || (compressor(detector), input.clone()),
                |(compressor, output)| {
                    process_in_blocks(compressor, black_box(output), BLOCK_FRAMES)
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, dynamics);
criterion_main!(benches);
