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
    /// Noise-shape the dither (at 44.1 and 48 kHz; plain TPDF elsewhere).
    pub noise_shaping: bool,
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
            noise_shaping: false,
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
/// Both containers are streamed to disk as they come: WAV sample by sample, FLAC
/// frame by frame (4096 frames per FLAC frame), its STREAMINFO header (length, MD5)
/// written last into the space kept for it at the start. Memory stays bounded by one
/// FLAC frame whatever the length.
pub struct AudioWriter {
    file: AtomicFile,
    sink: Sink,
    quantizer: Option<Quantizer>,
    channel_count: usize,
    written: Vec<Vec<f32>>,
}

enum Sink {
    Wav(WavSink),
    Flac(Box<FlacSink>),
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
                Sink::Wav(WavSink::new(handle, spec).map_err(|e| write_error(path, &e))?)
            }
            Container::Flac => {
                let handle = file
                    .file_mut()
                    .try_clone()
                    .map_err(|e| write_error(path, &e))?;
                let bits = options.format.integer_bits().unwrap_or(24);
                Sink::Flac(Box::new(
                    FlacSink::new(handle, channel_count, bits, sample_rate_hz)
                        .map_err(|reason| write_error(path, &reason))?,
                ))
            }
        };
        let quantizer = options.format.integer_bits().map(|bits| {
            match (options.dither, options.noise_shaping) {
                (true, true) => Quantizer::with_shaped_dither(
                    bits,
                    options.dither_seed,
                    channel_count,
                    sample_rate_hz,
                ),
                (true, false) => Quantizer::with_tpdf_dither(bits, options.dither_seed),
                (false, _) => Quantizer::without_dither(bits),
            }
        });
        Ok(Self {
            file,
            sink,
            quantizer,
            channel_count,
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
            quantizer.quantize_in_place(&mut self.written, frames);
        }
        // The stored values are exact codes / LSB, so converting back recovers the code.
        let scale = self.quantizer.as_ref().map_or(1.0, |q| 1.0 / q.lsb());
        match &mut self.sink {
            Sink::Wav(wav) => {
                wav.write(
                    &self.written,
                    frames,
                    self.quantizer.is_some().then_some(scale),
                )
                .map_err(|e| write_error(&path, &e))?;
            }
            Sink::Flac(flac) => {
                for frame in 0..frames {
                    for channel in &self.written {
                        flac.pending.push(to_code(channel[frame], scale));
                    }
                }
                flac.encode_full_frames()
                    .map_err(|reason| write_error(&path, &reason))?;
            }
        }
        Ok(())
    }

    /// Completes the file and moves it into place.
    pub fn finish(self) -> Result<(), IoError> {
        let path = self.file.path().to_path_buf();
        match self.sink {
            Sink::Wav(wav) => wav.finish().map_err(|e| write_error(&path, &e))?,
            Sink::Flac(flac) => flac
                .finish()
                .map_err(|reason| write_error(&path, &reason))?,
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

/// The integer code of a stored (quantised) sample: stored values are exact codes
/// times the LSB, so scaling back and rounding recovers the code.
#[inline]
fn to_code(stored: f32, scale: f64) -> i32 {
    mixdown_dsp::dither::round_half_away(f64::from(stored) * scale) as i32
}

/// A WAV file written as `hound` writes it (its header, byte for byte) but with the
/// samples packed a block at a time rather than one `write` call each, which cost
/// about a tenth of a mastering run.
struct WavSink {
    out: BufWriter<File>,
    spec: hound::WavSpec,
    /// Where the data chunk's length sits (the header's last four bytes).
    data_len_offset: u64,
    data_bytes: u64,
    bytes: Vec<u8>,
}

impl WavSink {
    fn new(file: File, spec: hound::WavSpec) -> Result<Self, String> {
        // hound's header for an empty file; the two lengths are filled in at the end.
        let mut header = std::io::Cursor::new(Vec::new());
        hound::WavWriter::new(&mut header, spec)
            .and_then(hound::WavWriter::finalize)
            .map_err(|e| e.to_string())?;
        let header = header.into_inner();
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&header).map_err(|e| e.to_string())?;
        Ok(Self {
            out,
            spec,
            data_len_offset: header.len() as u64 - 4,
            data_bytes: 0,
            bytes: Vec::new(),
        })
    }

    /// Appends `frames` frames of `channels`, interleaved: integer codes when
    /// `scale` (1 / LSB) is given, else 32-bit floats.
    fn write(
        &mut self,
        channels: &[Vec<f32>],
        frames: usize,
        scale: Option<f64>,
    ) -> Result<(), String> {
        let bytes_per_sample = usize::from(self.spec.bits_per_sample / 8);
        self.bytes.clear();
        self.bytes
            .reserve(frames * channels.len() * bytes_per_sample);
        for frame in 0..frames {
            for channel in channels {
                let value = channel[frame];
                match scale {
                    Some(scale) => {
                        let code = to_code(value, scale).to_le_bytes();
                        self.bytes.extend_from_slice(&code[..bytes_per_sample]);
                    }
                    None => self.bytes.extend_from_slice(&value.to_le_bytes()),
                }
            }
        }
        self.data_bytes += self.bytes.len() as u64;
        // RIFF lengths are 32-bit.
        if self.data_bytes + self.data_len_offset > u64::from(u32::MAX) {
            return Err("the WAV file would exceed 4 GiB".into());
        }
        self.out.write_all(&self.bytes).map_err(|e| e.to_string())
    }

    /// Fills in the RIFF and data lengths (as hound does: no pad byte) and flushes.
    fn finish(mut self) -> Result<(), String> {
        use std::io::{Seek, SeekFrom};
        let data_bytes = self.data_bytes as u32;
        let riff_bytes = data_bytes + self.data_len_offset as u32 + 4 - 8;
        let mut patch = |offset: u64, value: u32| -> std::io::Result<()> {
            self.out.seek(SeekFrom::Start(offset))?;
            self.out.write_all(&value.to_le_bytes())
        };
        patch(4, riff_bytes)
            .and_then(|()| patch(self.data_len_offset, data_bytes))
            .and_then(|()| self.out.flush())
            .map_err(|e| e.to_string())
    }
}

/// Frames per FLAC frame (flacenc's default, as the reference encoder's).
const FLAC_BLOCK_FRAMES: usize = 4_096;

/// Bytes of "fLaC" and the STREAMINFO block (4-byte header + 34 bytes).
const FLAC_HEADER_BYTES: usize = 42;

/// A FLAC stream encoded frame by frame as samples arrive.
struct FlacSink {
    config: flacenc::error::Verified<flacenc::config::Encoder>,
    info: flacenc::component::StreamInfo,
    /// The frame being filled, and the running MD5 and sample count.
    fill: (flacenc::source::FrameBuf, flacenc::source::Context),
    channel_count: usize,
    /// Interleaved codes not yet encoded (less than one frame after each write).
    pending: Vec<i32>,
    bytes: flacenc::bitsink::ByteSink,
    out: BufWriter<File>,
}

impl FlacSink {
    fn new(
        file: File,
        channel_count: usize,
        bits: u32,
        sample_rate_hz: u32,
    ) -> Result<Self, String> {
        use flacenc::error::Verify;
        let config = flacenc::config::Encoder::default()
            .into_verified()
            .map_err(|(_, e)| format!("FLAC encoder configuration: {e:?}"))?;
        let info = flacenc::component::StreamInfo::new(
            sample_rate_hz as usize,
            channel_count,
            bits as usize,
        )
        .map_err(|e| format!("FLAC stream: {e:?}"))?;
        let frame = flacenc::source::FrameBuf::with_size(channel_count, FLAC_BLOCK_FRAMES)
            .map_err(|e| format!("FLAC stream: {e:?}"))?;
        let mut out = BufWriter::new(file);
        // The header goes here at the end, once length and MD5 are known.
        out.write_all(&[0; FLAC_HEADER_BYTES])
            .map_err(|e| e.to_string())?;
        Ok(Self {
            config,
            info,
            fill: (
                frame,
                flacenc::source::Context::new(bits as usize, channel_count),
            ),
            channel_count,
            pending: Vec::with_capacity(2 * FLAC_BLOCK_FRAMES * channel_count),
            bytes: flacenc::bitsink::ByteSink::new(),
            out,
        })
    }

    /// Encodes and writes every complete frame of `pending`.
    fn encode_full_frames(&mut self) -> Result<(), String> {
        let frame_len = FLAC_BLOCK_FRAMES * self.channel_count;
        let full = self.pending.len() / frame_len * frame_len;
        if full == 0 {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        for frame in pending[..full].chunks_exact(frame_len) {
            self.encode_frame(frame)?;
        }
        self.pending = pending;
        self.pending.drain(..full);
        Ok(())
    }

    fn encode_frame(&mut self, interleaved: &[i32]) -> Result<(), String> {
        use flacenc::component::BitRepr;
        use flacenc::source::Fill;
        self.fill
            .fill_interleaved(interleaved)
            .map_err(|e| format!("FLAC encoding failed: {e:?}"))?;
        let number = self.fill.1.current_frame_number().unwrap_or(0);
        let frame =
            flacenc::encode_fixed_size_frame(&self.config, &self.fill.0, number, &self.info)
                .map_err(|e| format!("FLAC encoding failed: {e:?}"))?;
        self.info.update_frame_info(&frame);
        self.bytes.clear();
        frame
            .write(&mut self.bytes)
            .map_err(|e| format!("FLAC encoding failed: {e:?}"))?;
        self.out
            .write_all(self.bytes.as_slice())
            .map_err(|e| e.to_string())
    }

    /// Encodes the last (short) frame and writes the header into its place.
    fn finish(mut self) -> Result<(), String> {
        use flacenc::component::BitRepr;
        use std::io::{Seek, SeekFrom};
        self.encode_full_frames()?;
        if !self.pending.is_empty() {
            let last = std::mem::take(&mut self.pending);
            self.encode_frame(&last)?;
        }
        let context = &self.fill.1;
        let mut info = self.info.clone();
        info.set_md5_digest(&context.md5_digest());
        info.set_total_samples(context.total_samples());
        // STREAMINFO's minimum block size excludes the last block: with fixed-size
        // blocking it equals the maximum (symphonia refuses anything else).
        info.set_block_sizes(FLAC_BLOCK_FRAMES, FLAC_BLOCK_FRAMES)
            .map_err(|e| format!("FLAC stream: {e:?}"))?;
        if context.total_samples() == 0 {
            info.set_frame_sizes(0, 0)
                .map_err(|e| format!("FLAC stream: {e:?}"))?;
        }
        let mut header = flacenc::bitsink::ByteSink::new();
        flacenc::component::Stream::with_stream_info(info)
            .write(&mut header)
            .map_err(|e| format!("FLAC encoding failed: {e:?}"))?;
        if header.as_slice().len() != FLAC_HEADER_BYTES {
            return Err(format!(
                "FLAC header of {} bytes, {FLAC_HEADER_BYTES} expected",
                header.as_slice().len()
            ));
        }
        self.out.flush().map_err(|e| e.to_string())?;
        let file = self.out.get_mut();
        file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
        file.write_all(header.as_slice())
            .map_err(|e| e.to_string())?;
        file.flush().map_err(|e| e.to_string())
    }
}
