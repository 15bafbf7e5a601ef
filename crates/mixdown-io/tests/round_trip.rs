//! Encoding and decoding through real files: every WAV/FLAC sample format, dither
//! behaviour at the bit level, atomic and no-clobber writes.

use mixdown_dsp::units::gain_to_db;
use mixdown_dsp::AudioBuffer;
use mixdown_io::{decode_file, encode_file, EncodeOptions, IoError, OutputFormat, Overwrite};
use std::f64::consts::TAU;
use std::path::Path;

fn sine(amplitude: f64, freq_hz: f64, rate: u32, seconds: f64, channels: usize) -> AudioBuffer {
    let n = (f64::from(rate) * seconds) as usize;
    let samples: Vec<f32> = (0..n)
        .map(|i| (amplitude * (TAU * freq_hz * i as f64 / f64::from(rate)).sin()) as f32)
        .collect();
    AudioBuffer::from_channels(rate, vec![samples; channels])
}

fn undithered(format: OutputFormat) -> EncodeOptions {
    EncodeOptions {
        dither: false,
        ..EncodeOptions::new(format)
    }
}

/// Amplitude of the `freq_hz` component, by correlation with a sine and a cosine.
fn tone_amplitude(samples: &[f32], freq_hz: f64, rate: u32) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for (n, &x) in samples.iter().enumerate() {
        let (sn, cs) = (TAU * freq_hz * n as f64 / f64::from(rate)).sin_cos();
        s += f64::from(x) * sn;
        c += f64::from(x) * cs;
    }
    2.0 * s.hypot(c) / samples.len() as f64
}

#[test]
fn every_output_format_round_trips_within_its_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let original = sine(0.7, 1_000.0, 44_100, 0.5, 2);
    let cases = [
        ("a.wav", OutputFormat::Int16, 16, 1.0 / 32_768.0),
        ("b.wav", OutputFormat::Int24, 24, 1.0 / 8_388_608.0),
        ("c.wav", OutputFormat::Float32, 32, 0.0),
        ("d.flac", OutputFormat::Int16, 16, 1.0 / 32_768.0),
        ("e.flac", OutputFormat::Int24, 24, 1.0 / 8_388_608.0),
    ];
    for (name, format, bits, half_lsb_twice) in cases {
        let path = dir.path().join(name);
        encode_file(&path, &original, &undithered(format)).unwrap();
        let decoded = decode_file(&path).unwrap();
        assert_eq!(decoded.audio.sample_rate_hz, 44_100, "{name}");
        assert_eq!(decoded.audio.channel_count(), 2, "{name}");
        assert_eq!(
            decoded.audio.frame_count(),
            original.frame_count(),
            "{name}"
        );
        assert_eq!(decoded.bits_per_sample, Some(bits), "{name}");
        let worst = original.channels[0]
            .iter()
            .zip(&decoded.audio.channels[0])
            .map(|(a, b)| f64::from((a - b).abs()))
            .fold(0.0, f64::max);
        // Rounding error is at most half an LSB (plus float representation slack).
        assert!(
            worst <= half_lsb_twice / 2.0 + 1e-7,
            "{name}: error {worst}"
        );
    }
}

#[test]
fn a_minus_100_dbfs_tone_survives_16_bit_only_with_dither() {
    // 16-bit LSB is −90.3 dBFS: a −100 dBFS sine (0.33 LSB) rounds to silence
    // without dither; TPDF dither keeps it, buried in noise but measurable.
    let dir = tempfile::tempdir().unwrap();
    let amplitude = 1e-5;
    let quiet = sine(amplitude, 1_000.0, 48_000, 4.0, 1);

    let plain = dir.path().join("plain.wav");
    encode_file(&plain, &quiet, &undithered(OutputFormat::Int16)).unwrap();
    let plain = decode_file(&plain).unwrap().audio;
    assert!(
        plain.channels[0].iter().all(|&x| x == 0.0),
        "undithered output should be silence"
    );

    let dithered = dir.path().join("dithered.wav");
    encode_file(&dithered, &quiet, &EncodeOptions::new(OutputFormat::Int16)).unwrap();
    let dithered = decode_file(&dithered).unwrap().audio;
    let recovered = tone_amplitude(&dithered.channels[0], 1_000.0, 48_000);
    let error_db = gain_to_db(recovered / amplitude);
    // Noise in the correlation: σ ≈ LSB·0.5·sqrt(2/N) ≈ 2.6e-8, i.e. ±0.03 dB here.
    assert!(error_db.abs() < 0.5, "tone came back at {error_db:+.2} dB");
}

#[test]
fn dithered_encoding_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let audio = sine(0.25, 440.0, 44_100, 0.3, 2);
    let a = dir.path().join("a.flac");
    let b = dir.path().join("b.flac");
    encode_file(&a, &audio, &EncodeOptions::new(OutputFormat::Int16)).unwrap();
    encode_file(&b, &audio, &EncodeOptions::new(OutputFormat::Int16)).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

fn temp_files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn existing_outputs_are_kept_unless_replacement_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.wav");
    std::fs::write(&path, b"precious").unwrap();
    let audio = sine(0.5, 100.0, 8_000, 0.1, 1);
    let refused = encode_file(&path, &audio, &EncodeOptions::new(OutputFormat::Int16));
    assert!(matches!(refused, Err(IoError::OutputExists { .. })));
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");

    let replace = EncodeOptions {
        overwrite: Overwrite::Replace,
        ..EncodeOptions::new(OutputFormat::Int16)
    };
    encode_file(&path, &audio, &replace).unwrap();
    assert_eq!(decode_file(&path).unwrap().audio.frame_count(), 800);
    assert!(temp_files_in(dir.path()).is_empty());
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("float.flac");
    let audio = sine(0.5, 100.0, 8_000, 0.1, 1);
    assert!(encode_file(&path, &audio, &EncodeOptions::new(OutputFormat::Float32)).is_err());
    assert!(!path.exists());
    let missing_folder = dir.path().join("no/such/folder/out.wav");
    assert!(matches!(
        encode_file(
            &missing_folder,
            &audio,
            &EncodeOptions::new(OutputFormat::Int16)
        ),
        Err(IoError::Write { .. })
    ));
    assert!(temp_files_in(dir.path()).is_empty());
    assert!(encode_file(
        &dir.path().join("x.mp3"),
        &audio,
        &EncodeOptions::new(OutputFormat::Int16)
    )
    .is_err());
}

#[cfg(unix)]
#[test]
fn outputs_get_ordinary_permissions_not_the_temp_files_private_ones() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.wav");
    encode_file(
        &path,
        &sine(0.5, 100.0, 8_000, 0.1, 1),
        &EncodeOptions::new(OutputFormat::Int16),
    )
    .unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

#[test]
fn dithered_bytes_do_not_depend_on_block_size() {
    let dir = tempfile::tempdir().unwrap();
    let audio = sine(0.25, 440.0, 44_100, 0.3, 2);
    for noise_shaping in [false, true] {
        let mut files = Vec::new();
        for block in [13_230, 1_000, 1] {
            let path = dir.path().join(format!("b{block}-{noise_shaping}.wav"));
            let options = EncodeOptions {
                noise_shaping,
                ..EncodeOptions::new(OutputFormat::Int16)
            };
            let mut writer = mixdown_io::AudioWriter::create(&path, 44_100, 2, &options).unwrap();
            for start in (0..audio.frame_count()).step_by(block) {
                let end = (start + block).min(audio.frame_count());
                writer
                    .write(&[
                        &audio.channels[0][start..end],
                        &audio.channels[1][start..end],
                    ])
                    .unwrap();
            }
            writer.finish().unwrap();
            files.push(std::fs::read(&path).unwrap());
        }
        assert!(
            files.windows(2).all(|w| w[0] == w[1]),
            "noise shaping {noise_shaping}"
        );
    }
}

/// FLAC is encoded frame by frame as blocks arrive: the file must be byte for byte
/// what flacenc's whole-stream encoder makes of the same samples (with STREAMINFO's
/// minimum block size excluding the short last block, as the format defines it).
#[test]
fn streamed_flac_equals_the_whole_stream_encoding() {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;
    use mixdown_io::AudioWriter;

    let dir = tempfile::tempdir().unwrap();
    let rate = 44_100;
    let frames = 100_003;
    let channels: Vec<Vec<i32>> = (0..2)
        .map(|c| {
            (0..frames)
                .map(|i| {
                    let t = i as f64 / f64::from(rate);
                    let x = 0.6 * (TAU * (220.0 + 110.0 * c as f64) * t).sin();
                    (x * 8_388_607.0).round() as i32
                })
                .collect()
        })
        .collect();
    let path = dir.path().join("streamed.flac");
    let mut writer = AudioWriter::create(&path, rate, 2, &undithered(OutputFormat::Int24)).unwrap();
    let planar: Vec<Vec<f32>> = channels
        .iter()
        .map(|c| {
            c.iter()
                .map(|&v| (f64::from(v) / 8_388_608.0) as f32)
                .collect()
        })
        .collect();
    for start in (0..frames).step_by(1_000) {
        let end = (start + 1_000).min(frames);
        let block: Vec<&[f32]> = planar.iter().map(|c| &c[start..end]).collect();
        writer.write(&block).unwrap();
    }
    writer.finish().unwrap();

    let interleaved: Vec<i32> = (0..frames)
        .flat_map(|i| [channels[0][i], channels[1][i]])
        .collect();
    let config = flacenc::config::Encoder::default().into_verified().unwrap();
    let source = flacenc::source::MemSource::from_samples(&interleaved, 2, 24, rate as usize);
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size).unwrap();
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).unwrap();
    let mut expected = sink.as_slice().to_vec();
    // Minimum block size (bytes 8..10) = maximum (bytes 10..12).
    let max = [expected[10], expected[11]];
    expected[8..10].copy_from_slice(&max);
    let streamed = std::fs::read(&path).unwrap();
    assert_eq!(streamed.len(), expected.len());
    assert!(
        streamed == expected,
        "streamed FLAC differs from the whole-stream encoding"
    );

    let decoded = decode_file(&path).unwrap().audio;
    assert_eq!(decoded.frame_count(), frames);
    assert_eq!(decoded.channels, planar);
}
