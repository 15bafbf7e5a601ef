//! Criterion benchmarks of the meters on three minutes of stereo noise at 44.1 kHz.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mixdown_analysis::levels::LevelStats;
use mixdown_analysis::{analyze, third_octave_spectrum, LoudnessMeter, PitchTracker, StemAnalyzer};
use mixdown_dsp::dither::NoiseSource;
use mixdown_dsp::AudioBuffer;
use std::hint::black_box;

fn three_minutes_of_noise() -> AudioBuffer {
    let frames = 44_100 * 180;
    let mut noise = NoiseSource::new(1);
    let channels = (0..2)
        .map(|_| {
            (0..frames)
                .map(|_| (noise.next_uniform() * 0.5) as f32)
                .collect()
        })
        .collect();
    AudioBuffer::from_channels(44_100, channels)
}

fn meters(c: &mut Criterion) {
    let audio = three_minutes_of_noise();
    let slices = audio.channel_slices();
    let mut group = c.benchmark_group("meters_3min_stereo_44k1");
    group.sample_size(10);
    group.throughput(Throughput::Elements(audio.frame_count() as u64));
    group.bench_function("loudness_and_true_peak", |b| {
        b.iter(|| {
            let mut meter = LoudnessMeter::new(2, 44_100).expect("stereo is supported");
            meter.add(black_box(&slices)).expect("two channels");
            meter.finish()
        })
    });
    group.bench_function("level_stats", |b| {
        b.iter(|| {
            let mut stats = LevelStats::new(2);
            stats.add(black_box(&slices));
            stats.crest_db()
        })
    });
    group.bench_function("third_octave_spectrum", |b| {
        b.iter(|| third_octave_spectrum(black_box(slices[0]), 44_100))
    });
    group.bench_function("analyze_all", |b| b.iter(|| analyze(black_box(&audio))));
    // What automix measures per stem, fed in blocks of 4096 frames as the decoder does.
    group.bench_function("stem_analyzer", |b| {
        b.iter(|| {
            let mut analyzer = StemAnalyzer::new(2, 44_100).expect("stereo is supported");
            for start in (0..audio.frame_count()).step_by(4096) {
                let end = (start + 4096).min(audio.frame_count());
                let block: Vec<&[f32]> = slices.iter().map(|c| &c[start..end]).collect();
                analyzer.add(black_box(&block)).expect("two channels");
            }
            analyzer.finish()
        })
    });
    // Its voicing and pitch part alone (noise: every frame passes the level gate).
    group.bench_function("pitch_tracker", |b| {
        b.iter(|| {
            let mut tracker = PitchTracker::new(44_100);
            for block in slices[0].chunks(4096) {
                tracker.push(black_box(block));
            }
            tracker.finish()
        })
    });
    group.finish();
}

criterion_group!(benches, meters);
criterion_main!(benches);
