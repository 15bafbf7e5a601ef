//! Decoding any supported file into planar `f32` through symphonia.

use crate::IoError;
use mixdown_dsp::AudioBuffer;
use std::fs::File;
use std::path::Path;
use symphonia::core::audio::{AudioBuffer as SymphoniaBuffer, Signal};
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// A decoded file and what it was.
#[derive(Debug, Clone)]
pub struct DecodedFile {
    /// The audio, at the file's own rate and channel count.
    pub audio: AudioBuffer,
    /// Codec short name as symphonia reports it (`flac`, `pcm_s24le`, `mp3`...).
    pub codec: String,
    /// Bits per sample of the stored samples, when the format has such a thing.
    pub bits_per_sample: Option<u32>,
}

/// Decodes a whole file.
///
/// Fails, naming the file, when it is missing, empty, not audio, damaged, holds
/// fewer frames than its header declares (lossless formats), or contains NaN/Inf.
pub fn decode_file(path: &Path) -> Result<DecodedFile, IoError> {
    let open_error = |source| IoError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(open_error)?;
    let metadata = file.metadata().map_err(open_error)?;
    if metadata.is_dir() {
        return Err(IoError::Unsupported {
            path: path.to_path_buf(),
            reason: "is a directory".into(),
        });
    }
    if metadata.len() == 0 {
        return Err(IoError::Empty {
            path: path.to_path_buf(),
        });
    }
    let unsupported = |reason: String| IoError::Unsupported {
        path: path.to_path_buf(),
        reason,
    };
    let corrupt = |reason: String| IoError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };

    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(extension) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(extension);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| unsupported(describe(&e)))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| unsupported("no audio track".into()))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let codec = symphonia::default::get_codecs()
        .get_codec(params.codec)
        .map_or_else(|| "unknown".to_string(), |d| d.short_name.to_string());
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| unsupported(describe(&e)))?;

    let mut sample_rate_hz = params.sample_rate;
    let mut channels: Vec<Vec<f32>> = match (params.channels, params.n_frames) {
        (Some(layout), Some(frames)) => {
            // Reserve what the header declares, but never trust it for more than
            // ten minutes at once: a lying header must not exhaust memory.
            let reserve = usize::try_from(frames).unwrap_or(0).min(48_000 * 600);
            vec![Vec::with_capacity(reserve); layout.count()]
        }
        _ => Vec::new(),
    };
    let mut scratch: Option<SymphoniaBuffer<f32>> = None;

    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(e) => return Err(corrupt(describe(&e))),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = decoder.decode(&packet).map_err(|e| corrupt(describe(&e)))?;
        let spec = *decoded.spec();
        let channel_count = spec.channels.count();
        if channels.is_empty() {
            channels = vec![Vec::new(); channel_count];
        }
        if channel_count != channels.len() || sample_rate_hz.is_some_and(|r| r != spec.rate) {
            return Err(corrupt(
                "channel count or sample rate changes mid-stream".into(),
            ));
        }
        sample_rate_hz = Some(spec.rate);
        let frames = decoded.frames();
        let buffer = match scratch.as_mut() {
            Some(b) if b.capacity() >= frames && *b.spec() == spec => b,
            _ => scratch.insert(SymphoniaBuffer::new(decoded.capacity() as u64, spec)),
        };
        decoded.convert(buffer);
        for (ch, out) in channels.iter_mut().enumerate() {
            out.extend_from_slice(&buffer.chan(ch)[..frames]);
        }
    }

    let sample_rate_hz = sample_rate_hz.ok_or_else(|| unsupported("unknown sample rate".into()))?;
    let audio = AudioBuffer::from_channels(sample_rate_hz, channels);
    if audio.frame_count() == 0 {
        return Err(corrupt("contains no audio frames".into()));
    }
    let lossless = codec == "flac" || codec.starts_with("pcm");
    if let Some(expected) = params.n_frames.filter(|_| lossless) {
        // symphonia 0.5 counts the 8-byte offset/blockSize header of an AIFF SSND
        // chunk as audio, over-declaring by up to 8 bytes' worth of frames.
        let header_slack = if codec.ends_with("be") {
            let bytes_per_frame = u64::from(params.bits_per_sample.unwrap_or(8).div_ceil(8))
                * audio.channel_count() as u64;
            8u64.div_ceil(bytes_per_frame.max(1))
        } else {
            0
        };
        if (audio.frame_count() as u64) + header_slack < expected {
            return Err(IoError::Truncated {
                path: path.to_path_buf(),
                expected_frames: expected,
                actual_frames: audio.frame_count() as u64,
                expected_s: expected as f64 / f64::from(sample_rate_hz),
                actual_s: audio.duration_s(),
            });
        }
    }
    check_finite(path, &audio)?;
    Ok(DecodedFile {
        audio,
        codec,
        bits_per_sample: params.bits_per_sample,
    })
}

/// Rejects NaN and infinite samples: no meter or processor can give a meaningful
/// answer on them, and passing them on would poison every later stage.
fn check_finite(path: &Path, audio: &AudioBuffer) -> Result<(), IoError> {
    // Fast path: a plain scan the compiler vectorises; only a bad file pays for counting.
    if audio.channels.iter().flatten().all(|x| x.is_finite()) {
        return Ok(());
    }
    let count = audio
        .channels
        .iter()
        .flatten()
        .filter(|x| !x.is_finite())
        .count() as u64;
    let first_frame = audio
        .channels
        .iter()
        .filter_map(|c| c.iter().position(|x| !x.is_finite()))
        .min()
        .unwrap_or(0);
    Err(IoError::NonFinite {
        path: path.to_path_buf(),
        count,
        first_s: first_frame as f64 / f64::from(audio.sample_rate_hz),
    })
}

/// symphonia's errors, phrased for a one-line diagnosis.
fn describe(error: &SymphoniaError) -> String {
    match error {
        SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "stream ends unexpectedly".into()
        }
        SymphoniaError::IoError(e) => e.to_string(),
        SymphoniaError::DecodeError(reason) => (*reason).to_string(),
        SymphoniaError::SeekError(_) => "seek failed".into(),
        SymphoniaError::Unsupported(what) => format!("unsupported {what}"),
        SymphoniaError::LimitError(what) => format!("limit exceeded: {what}"),
        SymphoniaError::ResetRequired => "decoder reset required mid-stream".into(),
    }
}
