//! Decoding any supported file into planar `f32` through symphonia (plain PCM WAV
//! through a faster path of its own, [`crate::pcm_wav`]), either whole
//! ([`decode_file`]) or block by block ([`AudioReader`]) for long files.

use crate::pcm_wav::PcmWavStream;
use crate::IoError;
use mixdown_dsp::AudioBuffer;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use symphonia::core::audio::{AudioBuffer as SymphoniaBuffer, AudioBufferRef, Signal};
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::conv::IntoSample;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use symphonia::core::sample::Sample;

/// Copies every plane of `buffer` into `block` as `f32`.
fn copy_planes<S: Sample + IntoSample<f32>>(buffer: &SymphoniaBuffer<S>, block: &mut [Vec<f32>]) {
    for (ch, out) in block.iter_mut().enumerate() {
        out.clear();
        out.extend(buffer.chan(ch).iter().map(|&x| x.into_sample()));
    }
}

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

/// Decodes a whole file into memory.
///
/// Fails, naming the file, when it is missing, empty, not audio, damaged, holds
/// fewer frames than its header declares (lossless formats), or contains NaN/Inf.
pub fn decode_file(path: &Path) -> Result<DecodedFile, IoError> {
    let mut reader = AudioReader::open(path)?;
    let reserve = reader
        .declared_frames()
        .map_or(0, |frames| usize::try_from(frames).unwrap_or(0))
        // Never trust a header for more than ten minutes up front: a lying header
        // must not exhaust memory before the data proves it.
        .min(48_000 * 600);
    let mut channels: Vec<Vec<f32>> = vec![Vec::with_capacity(reserve); reader.channel_count()];
    while let Some(block) = reader.next_block()? {
        for (out, samples) in channels.iter_mut().zip(block) {
            out.extend_from_slice(samples);
        }
    }
    Ok(DecodedFile {
        audio: AudioBuffer::from_channels(reader.sample_rate_hz(), channels),
        codec: reader.codec().to_string(),
        bits_per_sample: reader.bits_per_sample(),
    })
}

/// Where the samples come from.
enum Backend {
    /// Any format symphonia reads, packet by packet.
    Symphonia {
        format: Box<dyn FormatReader>,
        decoder: Box<dyn Decoder>,
        track_id: u32,
    },
    /// Plain PCM WAV, block by block.
    PcmWav(Box<PcmWavStream>),
}

/// A file opened for streaming decode: [`next_block`](Self::next_block) yields one
/// decoded packet (or block) at a time as planar `f32`, so memory stays bounded
/// whatever the file's length. The same checks as [`decode_file`] apply; the
/// truncation check fires when the stream ends.
pub struct AudioReader {
    path: PathBuf,
    backend: Backend,
    codec: String,
    sample_rate_hz: u32,
    channel_count: usize,
    bits_per_sample: Option<u32>,
    declared_frames: Option<u64>,
    frames_read: u64,
    block: Vec<Vec<f32>>,
    /// A packet decoded while opening (to learn the layout), handed out first.
    pending_first_block: bool,
    finished: bool,
}

impl AudioReader {
    /// Opens and probes `path`.
    pub fn open(path: &Path) -> Result<Self, IoError> {
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
        let fast_path_file = file.try_clone().map_err(open_error)?;
        if let Some(stream) = PcmWavStream::open(fast_path_file) {
            return Ok(Self {
                path: path.to_path_buf(),
                codec: stream.encoding.codec_name().to_string(),
                sample_rate_hz: stream.sample_rate_hz,
                channel_count: stream.channel_count,
                bits_per_sample: Some(stream.encoding.bits()),
                declared_frames: Some(stream.declared_frames),
                backend: Backend::PcmWav(Box::new(stream)),
                frames_read: 0,
                block: Vec::new(),
                pending_first_block: false,
                finished: false,
            });
        }
        // The clone shares the file position: back to the start for symphonia.
        let mut file = file;
        file.seek(SeekFrom::Start(0)).map_err(open_error)?;
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
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| unsupported("no audio track".into()))?;
        let params = track.codec_params.clone();
        let codecs = symphonia::default::get_codecs();
        let codec = codecs
            .get_codec(params.codec)
            .map_or_else(|| "unknown".to_string(), |d| d.short_name.to_string());
        let decoder = codecs
            .make(&params, &DecoderOptions::default())
            .map_err(|e| unsupported(describe(&e)))?;
        let track_id = track.id;
        let mut reader = Self {
            path: path.to_path_buf(),
            backend: Backend::Symphonia {
                format,
                decoder,
                track_id,
            },
            codec,
            sample_rate_hz: params.sample_rate.unwrap_or(0),
            channel_count: params.channels.map_or(0, |c| c.count()),
            bits_per_sample: params.bits_per_sample,
            declared_frames: params.n_frames,
            frames_read: 0,
            block: Vec::new(),
            pending_first_block: false,
            finished: false,
        };
        // Some containers only reveal rate and layout in the first packet.
        if reader.sample_rate_hz == 0 || reader.channel_count == 0 {
            reader.sample_rate_hz = 0;
            reader.channel_count = 0;
            if !reader.decode_next_packet()? {
                return Err(reader.corrupt("contains no audio frames".into()));
            }
            reader.pending_first_block = true;
        }
        Ok(reader)
    }

    /// Sample rate, Hz.
    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    /// Channel count.
    pub fn channel_count(&self) -> usize {
        self.channel_count
    }

    /// Codec short name (`flac`, `pcm_s16le`, `mp3`...).
    pub fn codec(&self) -> &str {
        &self.codec
    }

    /// Bits per stored sample, when the format has such a thing.
    pub fn bits_per_sample(&self) -> Option<u32> {
        self.bits_per_sample
    }

    /// Frame count the header declares, if any (not trusted until the end).
    pub fn declared_frames(&self) -> Option<u64> {
        self.declared_frames
    }

    /// Frames handed out so far.
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// The next block of planar samples, `None` at the end of the stream.
    pub fn next_block(&mut self) -> Result<Option<&[Vec<f32>]>, IoError> {
        if self.pending_first_block {
            self.pending_first_block = false;
        } else if self.finished || !self.decode_next_packet()? {
            self.finish()?;
            return Ok(None);
        }
        self.frames_read += self.block.first().map_or(0, |c| c.len() as u64);
        Ok(Some(&self.block))
    }

    fn corrupt(&self, reason: String) -> IoError {
        corrupt(&self.path, reason)
    }

    /// Decodes packets until one yields frames; `false` at the end of the stream.
    fn decode_next_packet(&mut self) -> Result<bool, IoError> {
        let (format, decoder, track_id) = match &mut self.backend {
            Backend::Symphonia {
                format,
                decoder,
                track_id,
            } => (format, decoder, *track_id),
            Backend::PcmWav(stream) => {
                let frames = stream
                    .read_block(&mut self.block)
                    .map_err(|e| corrupt(&self.path, e.to_string()))?;
                if frames == 0 {
                    return Ok(false);
                }
                if stream.encoding.may_be_non_finite() {
                    self.check_finite()?;
                }
                return Ok(true);
            }
        };
        loop {
            let packet = match format.next_packet() {
                Ok(packet) => packet,
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(false)
                }
                Err(e) => return Err(corrupt(&self.path, describe(&e))),
            };
            if packet.track_id() != track_id {
                continue;
            }
            let decoded = match decoder.decode(&packet) {
                Ok(decoded) => decoded,
                Err(e) => return Err(corrupt(&self.path, describe(&e))),
            };
            let spec = *decoded.spec();
            if self.channel_count == 0 {
                self.channel_count = spec.channels.count();
                self.sample_rate_hz = spec.rate;
            }
            if spec.channels.count() != self.channel_count || spec.rate != self.sample_rate_hz {
                return Err(self.corrupt("channel count or sample rate changes mid-stream".into()));
            }
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            self.block.resize_with(self.channel_count, Vec::new);
            // Converted straight into the planar block (one pass; the same sample
            // conversions as symphonia's `AudioBufferRef::convert`).
            // Integer samples are finite by construction; only floats need the scan.
            let float = matches!(decoded, AudioBufferRef::F32(_) | AudioBufferRef::F64(_));
            match decoded {
                AudioBufferRef::U8(b) => copy_planes(&b, &mut self.block),
                AudioBufferRef::U16(b) => copy_planes(&b, &mut self.block),
                AudioBufferRef::U24(b) => copy_planes(&b, &mut self.block),
                AudioBufferRef::U32(b) => copy_planes(&b, &mut self.block),
                AudioBufferRef::S8(b) => copy_planes(&b, &mut self.block),
                AudioBufferRef::S16(b) => copy_planes(&b, &mut self.block),
                AudioBufferRef::S24(b) => copy_planes(&b, &mut self.block),
                AudioBufferRef::S32(b) => copy_planes(&b, &mut self.block),
                AudioBufferRef::F32(b) => copy_planes(&b, &mut self.block),
                AudioBufferRef::F64(b) => copy_planes(&b, &mut self.block),
            }
            if float {
                self.check_finite()?;
            }
            return Ok(true);
        }
    }

    /// Rejects NaN and infinite samples: no meter or processor can give a meaningful
    /// answer on them, and passing them on would poison every later stage.
    fn check_finite(&self) -> Result<(), IoError> {
        // Fast path: a plain scan the compiler vectorises; only a bad file pays for counting.
        if self.block.iter().flatten().all(|x| x.is_finite()) {
            return Ok(());
        }
        let first_frame = self
            .block
            .iter()
            .filter_map(|c| c.iter().position(|x| !x.is_finite()))
            .min()
            .unwrap_or(0);
        Err(IoError::NonFinite {
            path: self.path.clone(),
            first_s: (self.frames_read + first_frame as u64) as f64
                / f64::from(self.sample_rate_hz),
        })
    }

    /// End-of-stream checks: some audio, and as many frames as a lossless header declares.
    fn finish(&mut self) -> Result<(), IoError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if self.frames_read == 0 {
            return Err(self.corrupt("contains no audio frames".into()));
        }
        let lossless = self.codec == "flac" || self.codec.starts_with("pcm");
        if let Some(expected) = self.declared_frames.filter(|_| lossless) {
            // symphonia 0.5 counts the 8-byte offset/blockSize header of an AIFF SSND
            // chunk as audio, over-declaring by up to 8 bytes' worth of frames.
            let header_slack = if self.codec.ends_with("be") {
                let bytes_per_frame = u64::from(self.bits_per_sample.unwrap_or(8).div_ceil(8))
                    * self.channel_count as u64;
                8u64.div_ceil(bytes_per_frame.max(1))
            } else {
                0
            };
            if self.frames_read + header_slack < expected {
                let rate = f64::from(self.sample_rate_hz);
                return Err(IoError::Truncated {
                    path: self.path.clone(),
                    expected_frames: expected,
                    actual_frames: self.frames_read,
                    expected_s: expected as f64 / rate,
                    actual_s: self.frames_read as f64 / rate,
                });
            }
        }
        Ok(())
    }
}

fn corrupt(path: &Path, reason: String) -> IoError {
    IoError::Corrupt {
        path: path.to_path_buf(),
        reason,
    }
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
