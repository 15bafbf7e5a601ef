//! Decoding every supported format, and how each kind of bad file is refused.

use mixdown_analysis::loudness::measure_loudness;
use mixdown_io::{decode_file, IoError};
use std::path::PathBuf;

fn fixture(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(relative)
}

#[test]
fn decodes_every_supported_format() {
    // (file, codec, rate, channels, approximate duration)
    let cases = [
        ("formats/excerpt.mp3", "mp3", 44_100, 2, 2.0),
        ("formats/excerpt.ogg", "vorbis", 44_100, 2, 2.0),
        ("formats/excerpt.aiff", "pcm_s16be", 44_100, 2, 1.0),
        ("formats/excerpt-22k-24bit.wav", "pcm_s24le", 22_050, 2, 1.0),
        ("broken/mono-8k.wav", "pcm_s16le", 8_000, 1, 4.0),
        ("broken/stereo-96k-24bit.wav", "pcm_s24le", 96_000, 2, 1.5),
    ];
    let mut loudness = Vec::new();
    for (file, codec, rate, channels, seconds) in cases {
        let decoded = decode_file(&fixture(file)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoded.codec, codec, "{file}");
        assert_eq!(decoded.audio.sample_rate_hz, rate, "{file}");
        assert_eq!(decoded.audio.channel_count(), channels, "{file}");
        // Lossy codecs add encoder delay/padding of a few milliseconds.
        assert!(
            (decoded.audio.duration_s() - seconds).abs() < 0.06,
            "{file}: {} s",
            decoded.audio.duration_s()
        );
        if file.starts_with("formats/excerpt.") {
            let report = measure_loudness(&decoded.audio.channel_slices(), rate).unwrap();
            loudness.push(report.integrated_lufs.unwrap());
        }
    }
    // The MP3, Vorbis and AIFF excerpts hold the same music from the same instant:
    // decoding must agree on its loudness (the first second of each is shared).
    let spread = loudness.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - loudness.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(spread < 1.0, "decoders disagree: {loudness:?}");
}

#[test]
fn decodes_every_wav_sample_format_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let codes: Vec<i32> = vec![0, 1, -1, 1000, -1000, 12_345, -32_768, 32_767];
    for bits in [16u16, 24, 32] {
        let path = dir.path().join(format!("int{bits}.wav"));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        let shift = bits - 16;
        for &c in &codes {
            writer.write_sample(c << shift).unwrap();
        }
        writer.finalize().unwrap();
        let decoded = decode_file(&path).unwrap().audio;
        for (&c, &x) in codes.iter().zip(&decoded.channels[0]) {
            assert_eq!(x, c as f32 / 32_768.0, "{bits}-bit code {c}");
        }
    }
    let path = dir.path().join("float.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    for x in [0.5f32, -0.25, 1.5, -2.0] {
        writer.write_sample(x).unwrap();
    }
    writer.finalize().unwrap();
    let decoded = decode_file(&path).unwrap().audio;
    // Float files may legitimately exceed full scale; nothing is clipped on the way in.
    assert_eq!(decoded.channels, vec![vec![0.5, 1.5], vec![-0.25, -2.0]]);
}

#[test]
fn bad_files_are_refused_with_a_reason_naming_the_file() {
    type IsExpected = fn(&IoError) -> bool;
    let cases: [(&str, IsExpected); 5] = [
        ("broken/empty.wav", |e| matches!(e, IoError::Empty { .. })),
        ("broken/not-audio.wav", |e| {
            matches!(e, IoError::Unsupported { .. })
        }),
        ("broken/truncated.flac", |e| {
            matches!(e, IoError::Truncated { .. } | IoError::Corrupt { .. })
        }),
        (
            "broken/header-overstates-length.wav",
            |e| matches!(e, IoError::Truncated { expected_s, actual_s, .. } if (*expected_s - 10.0).abs() < 0.01 && (*actual_s - 1.0).abs() < 0.01),
        ),
        ("broken/nan-inf-float32.wav", |e| {
            // The first NaN is at frame 1000 (of 44.1 kHz).
            matches!(e, IoError::NonFinite { first_s, .. } if (*first_s - 1000.0 / 44_100.0).abs() < 1e-6)
        }),
    ];
    for (file, expected) in cases {
        let error = decode_file(&fixture(file)).expect_err(file);
        assert!(expected(&error), "{file}: unexpected error {error:?}");
        let message = error.to_string();
        assert!(
            message.contains(file.trim_start_matches("broken/")),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
    }
    let missing = decode_file(&fixture("broken/does-not-exist.wav")).unwrap_err();
    assert!(matches!(missing, IoError::Open { .. }));
    let folder = decode_file(&fixture("broken")).unwrap_err();
    assert!(matches!(folder, IoError::Unsupported { .. }), "{folder:?}");
}

#[test]
fn unusual_but_valid_files_decode() {
    let silence = decode_file(&fixture("broken/silence-5s.wav"))
        .unwrap()
        .audio;
    assert_eq!(silence.frame_count(), 5 * 44_100);
    assert!(silence.channels.iter().flatten().all(|&x| x == 0.0));
    let clipped = decode_file(&fixture("broken/clipped.wav")).unwrap().audio;
    assert_eq!(clipped.channel_count(), 2);
}
