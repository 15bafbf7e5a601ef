//! Encoding planar `f32` to WAV or FLAC, with TPDF dither and atomic replacement.

use crate::atomic::AtomicFile;
use crate::IoError;
use mixdown_dsp::dither::Quantizer;
use mixdown_dsp::AudioBuffer;
use std::fs::File;
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

/// Writes `audio` to `path` (container from the extension) atomically: a failure
/// never leaves a partial file behind.
pub fn encode_file(
    path: &Path,
    audio: &AudioBuffer,
    options: &EncodeOptions,
) -> Result<(), IoError> {
    let mut writer =
        AudioWriter::create(path, audio.sample_rate_hz, audio.channel_count(), options)?;
    writer.write(&audio.channel_slices())?;
    writer.finish()
}

/// A file being encoded block by block. Nothing appears at the destination until
/// [`finish`](Self::finish) succeeds; dropping the writer abandons the file.
///
/// WAV is streamed to disk as it comes. FLAC is encoded at `finish` from the
/// quantised samples held in memory (4 bytes per sample; flacenc 0.5 encodes a
/// whole stream at once).
pub struct AudioWriter {
    file: AtomicFile,
    sink: Sink,
    quantizer: Option<Quantizer>,
    sample_rate_hz: u32,
    channel_count: usize,
    format: OutputFormat,
    written: Vec<Vec<f32>>,
}

enum Sink {
    Wav(hound::WavWriter<BufWriter<File>>),
    Flac(Vec<i32>),
}

impl AudioWriter {
    /// Starts writing `path` (container from the extension). Fails at once if the
    /// destination exists and may not be replaced, or the format cannot be stored.
    pub fn create(
        path: &Path,
        sample_rate_hz: u32,
        channel_count: usize,
        options: &EncodeOptions,
    ) -> Result<Self, IoError> {
        let container = Container::from_path(path)?;
        let invalid = |reason: String| {
            Err(IoError::InvalidRequest(format!(
                "{}: {reason}",
                path.display()
            )))
        };
        if container == Container::Flac && options.format == OutputFormat::Float32 {
            return invalid(
                "FLAC stores integers only (use 16 or 24 bits, or a .wav output for 32-bit float)"
                    .into(),
            );
        }
        if container == Container::Flac && !(1..=8).contains(&channel_count) {
            return invalid(format!(
                "FLAC holds 1 to 8 channels, this audio has {channel_count}"
            ));
        }
        let Ok(wav_channels) = u16::try_from(channel_count) else {
            return invalid(format!("{channel_count} channels cannot be stored"));
        };
        let mut file = AtomicFile::create(path, options.overwrite)?;
        let sink = match container {
            Container::Wav => {
                let (bits_per_sample, sample_format) = match options.format {
                    OutputFormat::Int16 => (16, hound::SampleFormat::Int),
                    OutputFormat::Int24 => (24, hound::SampleFormat::Int),
                    OutputFormat::Float32 => (32, hound::SampleFormat::Float),
                };
                let spec = hound::WavSpec {
                    channels: wav_channels,
                    sample_rate: sample_rate_hz,
                    bits_per_sample,
                    sample_format,
                };
                let handle = file
                    .file_mut()
                    .try_clone()
                    .map_err(|e| write_error(path, &e))?;
                Sink::Wav(
                    hound::WavWriter::new(BufWriter::new(handle), spec)
                        .map_err(|e| write_error(path, &e))?,
                )
            }
            Container::Flac => Sink::Flac(Vec::new()),
        };
        let quantizer = options.format.integer_bits().map(|bits| {
            if options.dither {
                Quantizer::with_tpdf_dither(bits, options.dither_seed)
            } else {
                Quantizer::without_dither(bits)
            }
        });
        Ok(Self {
            file,
            sink,
            quantizer,
            sample_rate_hz,
            channel_count,
            format: options.format,
            written: vec![Vec::new(); channel_count],
        })
    }

    /// The last block exactly as stored (after dither and quantisation), so callers
    /// can meter what the file holds without decoding it again.
    pub fn last_written(&self) -> &[Vec<f32>] {
        &self.written
    }

    /// Appends one planar block (`block[channel][frame]`). Dither runs frame by
    /// frame across channels, so the bytes do not depend on how blocks are cut.
    pub fn write(&mut self, block: &[&[f32]]) -> Result<(), IoError> {
        if block.len() != self.channel_count {
            return Err(IoError::InvalidRequest(format!(
                "{}: block has {} channels, file has {}",
                self.file.path().display(),
                block.len(),
                self.channel_count
            )));
        }
        let frames = block.first().map_or(0, |c| c.len());
        let path = self.file.path().to_path_buf();
        for (stored, channel) in self.written.iter_mut().zip(block) {
            stored.clear();
            stored.extend_from_slice(channel);
        }
        if let Some(quantizer) = self.quantizer.as_mut() {
            // Frame by frame across channels: one dither stream whose order does not
            // depend on where blocks are cut.
            for frame in 0..frames {
                for stored in &mut self.written {
                    let code = quantizer.quantize(stored[frame]);
                    stored[frame] = quantizer.code_to_sample(code);
                }
            }
        }
        // The stored values are exact codes / LSB, so converting back recovers the code.
        let scale = self.quantizer.as_ref().map_or(1.0, |q| 1.0 / q.lsb());
        match &mut self.sink {
            Sink::Wav(writer) => {
                for frame in 0..frames {
                    for channel in &self.written {
                        let value = channel[frame];
                        let result = if self.quantizer.is_some() {
                            writer.write_sample((f64::from(value) * scale).round() as i32)
                        } else {
                            writer.write_sample(value)
                        };
                        result.map_err(|e| write_error(&path, &e))?;
                    }
                }
            }
            Sink::Flac(codes) => {
                codes.reserve(frames * block.len());
                for frame in 0..frames {
                    for channel in &self.written {
                        codes.push((f64::from(channel[frame]) * scale).round() as i32);
                    }
                }
            }
        }
        Ok(())
    }

    /// Completes the file and moves it into place.
    pub fn finish(mut self) -> Result<(), IoError> {
        let path = self.file.path().to_path_buf();
        match self.sink {
            Sink::Wav(writer) => writer.finalize().map_err(|e| write_error(&path, &e))?,
            Sink::Flac(codes) => {
                let bits = self.format.integer_bits().unwrap_or(24);
                let bytes = encode_flac(&codes, self.channel_count, bits, self.sample_rate_hz)
                    .map_err(|reason| write_error(&path, &reason))?;
                let mut out = BufWriter::new(self.file.file_mut());
                out.write_all(&bytes).map_err(|e| write_error(&path, &e))?;
                out.flush().map_err(|e| write_error(&path, &e))?;
            }
        }
        self.file.commit()
    }
}

fn write_error(path: &Path, error: &dyn std::fmt::Display) -> IoError {
    IoError::Write {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

fn encode_flac(
    codes: &[i32],
    channel_count: usize,
    bits: u32,
    sample_rate_hz: u32,
) -> Result<Vec<u8>, String> {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;

    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|(_, e)| format!("FLAC encoder configuration: {e:?}"))?;
    let source = flacenc::source::MemSource::from_samples(
        codes,
        channel_count,
        bits as usize,
        sample_rate_hz as usize,
    );
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| format!("FLAC encoding failed: {e:?}"))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|e| format!("FLAC encoding failed: {e:?}"))?;
    let mut bytes = sink.as_slice().to_vec();
    fix_streaminfo_min_block_size(&mut bytes);
    Ok(bytes)
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
