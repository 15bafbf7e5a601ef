//! Decoding every supported format, and how each kind of bad file is refused.

use mixdown_analysis::loudness::measure_loudness;
use mixdown_io::{decode_file, IoError};
use std::path::{Path, PathBuf};

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

/// A WAV file written byte by byte: `fmt ` chunk as given, an odd-sized `JUNK`
/// chunk before the data (padded, as RIFF requires), then the data.
fn wav_bytes(fmt: &[u8], data: &[u8]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    for (id, chunk) in [(b"fmt ", fmt), (b"JUNK", &b"abc"[..]), (b"data", data)] {
        body.extend_from_slice(id);
        body.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        body.extend_from_slice(chunk);
        if chunk.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend(body);
    file
}

/// A `fmt ` chunk: plain (`tag` 1 or 3) or WAVE_FORMAT_EXTENSIBLE around `tag`.
fn fmt_chunk(tag: u16, channels: u16, rate: u32, bits: u16, extensible: bool) -> Vec<u8> {
    let block_align = channels * bits / 8;
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&(if extensible { 0xFFFE } else { tag }).to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
    fmt.extend_from_slice(&block_align.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if extensible {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&0u32.to_le_bytes());
        // KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT: the tag, then a fixed GUID tail.
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71");
    }
    fmt
}

/// Every sample of `path` decoded by symphonia alone, interleaved, through its own
/// conversion to `f32`.
fn symphonia_samples(path: &Path) -> Vec<f32> {
    use symphonia::core::audio::SampleBuffer;
    use symphonia::core::codecs::DecoderOptions;
    use symphonia::core::io::MediaSourceStream;
    let file = std::fs::File::open(path).unwrap();
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut format = symphonia::default::get_probe()
        .format(
            &Default::default(),
            stream,
            &Default::default(),
            &Default::default(),
        )
        .unwrap()
        .format;
    let params = format.default_track().unwrap().codec_params.clone();
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .unwrap();
    let mut samples = Vec::new();
    while let Ok(packet) = format.next_packet() {
        let decoded = decoder.decode(&packet).unwrap();
        let mut buffer = SampleBuffer::<f32>::new(decoded.capacity() as u64, *decoded.spec());
        buffer.copy_interleaved_ref(decoded);
        samples.extend_from_slice(buffer.samples());
    }
    samples
}

#[test]
fn the_pcm_wav_fast_path_gives_symphonias_samples_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let mut noise = mixdown_dsp::dither::NoiseSource::new(7);
    let cases = [(1u16, 8u16), (1, 16), (1, 24), (1, 32), (3, 32)];
    for (tag, bits) in cases {
        for (channels, extensible) in [(1u16, false), (2, false), (3, true)] {
            let frames = 10_007;
            let mut data: Vec<u8> = (0..frames * usize::from(channels * bits / 8))
                .map(|_| (noise.next_u64() >> 56) as u8)
                .collect();
            if tag == 3 {
                // Finite floats only: the top byte of every sample in ±[2^-64, 2^64).
                for sample in data.chunks_exact_mut(4) {
                    sample[3] = 0x20 + sample[3] % 0x40;
                }
            }
            let fmt = fmt_chunk(tag, channels, 44_100, bits, extensible);
            let path = dir.path().join(format!("t{tag}-{bits}-{channels}.wav"));
            std::fs::write(&path, wav_bytes(&fmt, &data)).unwrap();
            let decoded = decode_file(&path).unwrap();
            assert_eq!(decoded.bits_per_sample, Some(u32::from(bits)));
            let interleaved: Vec<f32> = (0..decoded.audio.frame_count())
                .flat_map(|n| decoded.audio.channels.iter().map(move |c| c[n]))
                .collect();
            let reference = symphonia_samples(&path);
            assert_eq!(interleaved.len(), frames * usize::from(channels));
            assert!(
                interleaved
                    .iter()
                    .zip(&reference)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "tag {tag}, {bits} bits, {channels} channels ({})",
                decoded.codec
            );
            assert_eq!(interleaved.len(), reference.len());
        }
    }
}

#[test]
fn a_wav_shorter_than_its_data_chunk_is_truncated_on_the_fast_path_too() {
    let dir = tempfile::tempdir().unwrap();
    let fmt = fmt_chunk(1, 2, 48_000, 24, false);
    let mut file = wav_bytes(&fmt, &vec![0x11; 48_000 * 6]);
    // Cut mid-frame, a quarter of the way through.
    file.truncate(file.len() - 48_000 * 6 * 3 / 4 - 2);
    let path = dir.path().join("cut.wav");
    std::fs::write(&path, &file).unwrap();
    match decode_file(&path).unwrap_err() {
        IoError::Truncated {
            expected_frames,
            actual_frames,
            ..
        } => {
            assert_eq!(expected_frames, 48_000);
            assert_eq!(actual_frames, 12_000 - 1);
        }
        other => panic!("{other:?}"),
    }
}
