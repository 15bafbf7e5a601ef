//! Encoding planar `f32` to WAV or FLAC, with TPDF dither and atomic replacement.

use crate::atomic::{check_destination, write_atomically};
use crate::IoError;
use mixdown_dsp::dither::Quantizer;
use mixdown_dsp::AudioBuffer;
use std::io::{BufWriter, Write};
use std::path::Path;

/// File container, chosen from the output's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// RIFF WAVE.
    Wav,
    /// FLAC (lossless, integer samples only).
    Flac,
}

impl Container {
    /// The container for `path`'s extension (`.wav`, `.wave`, `.flac`).
    pub fn from_path(path: &Path) -> Result<Self, IoError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("wav" | "wave") => Ok(Self::Wav),
            Some("flac") => Ok(Self::Flac),
            _ => Err(IoError::InvalidRequest(format!(
                "{}: unsupported output extension (use .wav or .flac)",
                path.display()
            ))),
        }
    }
}

/// Sample format written to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// 16-bit signed integer.
    Int16,
    /// 24-bit signed integer.
    Int24,
    /// 32-bit IEEE float (WAV only).
    Float32,
}

impl OutputFormat {
    /// Integer bit depth, `None` for float.
    pub fn integer_bits(self) -> Option<u32> {
        match self {
            Self::Int16 => Some(16),
            Self::Int24 => Some(24),
            Self::Float32 => None,
        }
    }
}

/// What to do when the destination already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Fail with [`IoError::OutputExists`].
    Refuse,
    /// Replace it atomically.
    Replace,
}

/// How to write a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Sample format.
    pub format: OutputFormat,
    /// TPDF dither on integer formats (the word length always shrinks from `f32`).
    /// Only tests and bit-exact round trips turn it off.
    pub dither: bool,
    /// Seed of the dither noise: the same seed gives the same bytes.
    pub dither_seed: u64,
    /// Policy for an existing destination.
    pub overwrite: Overwrite,
}

impl EncodeOptions {
    /// Dithered output of `format`, refusing to replace existing files.
    pub fn new(format: OutputFormat) -> Self {
        Self {
            format,
            dither: true,
            dither_seed: 0x6D69_7864_6F77_6E21,
            overwrite: Overwrite::Refuse,
        }
    }
}

/// Writes `audio` to `path` (container from the extension) atomically (see
/// [`write_atomically`]): a failure never leaves a partial file behind.
pub fn encode_file(
    path: &Path,
    audio: &AudioBuffer,
    options: &EncodeOptions,
) -> Result<(), IoError> {
    let container = Container::from_path(path)?;
    check_destination(path, options.overwrite)?;
    if container == Container::Flac && options.format == OutputFormat::Float32 {
        return Err(IoError::InvalidRequest(format!(
            "{}: FLAC stores integers only (use 16 or 24 bits, or a .wav output for 32-bit float)",
            path.display()
        )));
    }
    if container == Container::Flac && audio.channel_count() > 8 {
        return Err(IoError::InvalidRequest(format!(
            "{}: FLAC holds at most 8 channels, this audio has {}",
            path.display(),
            audio.channel_count()
        )));
    }
    write_atomically(path, options.overwrite, |file| match container {
        Container::Wav => write_wav(file, audio, options),
        Container::Flac => write_flac(file, audio, options),
    })
}

fn quantizer_for(bits: u32, options: &EncodeOptions) -> Quantizer {
    if options.dither {
        Quantizer::with_tpdf_dither(bits, options.dither_seed)
    } else {
        Quantizer::without_dither(bits)
    }
}

/// Interleaved integer codes, dithered per `options` (one noise stream across
/// channels, so the result does not depend on how callers cut the signal).
fn interleaved_codes(audio: &AudioBuffer, bits: u32, options: &EncodeOptions) -> Vec<i32> {
    let mut quantizer = quantizer_for(bits, options);
    let channels = audio.channel_count();
    let mut codes = Vec::with_capacity(audio.frame_count() * channels);
    for frame in 0..audio.frame_count() {
        for channel in &audio.channels {
            codes.push(quantizer.quantize(channel[frame]));
        }
    }
    codes
}

fn write_wav(
    file: &mut std::fs::File,
    audio: &AudioBuffer,
    options: &EncodeOptions,
) -> Result<(), String> {
    let channels = u16::try_from(audio.channel_count())
        .map_err(|_| "too many channels for WAV".to_string())?;
    let (bits_per_sample, sample_format) = match options.format {
        OutputFormat::Int16 => (16, hound::SampleFormat::Int),
        OutputFormat::Int24 => (24, hound::SampleFormat::Int),
        OutputFormat::Float32 => (32, hound::SampleFormat::Float),
    };
    let spec = hound::WavSpec {
        channels,
        sample_rate: audio.sample_rate_hz,
        bits_per_sample,
        sample_format,
    };
    let mut writer =
        hound::WavWriter::new(BufWriter::new(file), spec).map_err(|e| e.to_string())?;
    match options.format.integer_bits() {
        Some(bits) => {
            for code in interleaved_codes(audio, bits, options) {
                writer.write_sample(code).map_err(|e| e.to_string())?;
            }
        }
        None => {
            for frame in 0..audio.frame_count() {
                for channel in &audio.channels {
                    writer
                        .write_sample(channel[frame])
                        .map_err(|e| e.to_string())?;
                }
            }
        }
    }
    writer.finalize().map_err(|e| e.to_string())
}

fn write_flac(
    file: &mut std::fs::File,
    audio: &AudioBuffer,
    options: &EncodeOptions,
) -> Result<(), String> {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;

    let bits = options
        .format
        .integer_bits()
        .ok_or_else(|| "FLAC needs an integer format".to_string())?;
    let codes = interleaved_codes(audio, bits, options);
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|(_, e)| format!("FLAC encoder configuration: {e:?}"))?;
    let source = flacenc::source::MemSource::from_samples(
        &codes,
        audio.channel_count(),
        bits as usize,
        audio.sample_rate_hz as usize,
    );
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| format!("FLAC encoding failed: {e:?}"))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|e| format!("FLAC encoding failed: {e:?}"))?;
    let mut bytes = sink.as_slice().to_vec();
    fix_streaminfo_min_block_size(&mut bytes);
    let mut writer = BufWriter::new(file);
    writer.write_all(&bytes).map_err(|e| e.to_string())?;
    writer.flush().map_err(|e| e.to_string())
}

/// The FLAC format defines STREAMINFO's minimum block size as the smallest block
/// *excluding the last one*; flacenc 0.5 counts the short last block, and
/// symphonia then refuses the stream as inconsistent. With fixed-size blocking every
/// other block has the maximum size, so the spec-correct minimum equals it.
fn fix_streaminfo_min_block_size(flac: &mut [u8]) {
    // "fLaC", a 4-byte metadata block header, then STREAMINFO: min (u16 BE), max (u16 BE).
    if flac.len() >= 12 && &flac[..4] == b"fLaC" && flac[4] & 0x7F == 0 {
        let (min, max) = (&flac[8..10], &flac[10..12]);
        if min < max {
            let max = [flac[10], flac[11]];
            flac[8..10].copy_from_slice(&max);
        }
    }
}
