//! # mixdown-io
//!
//! Getting audio in and out of files: decoding every common format through
//! `symphonia` (WAV, FLAC, AIFF, Ogg Vorbis, MP3; plain PCM WAV through a faster
//! bulk converter of its own with the same results) into planar `f32`, sample-rate
//! conversion through `rubato`'s band-limited sinc resampler, and encoding WAV
//! (16/24-bit integer, 32-bit float, via `hound`) and FLAC (16/24-bit, via
//! `flacenc`) with TPDF dither whenever the word length shrinks. Every write is
//! atomic: a temporary file in the destination folder, renamed into place only when
//! complete, and an existing file is replaced only when the caller says so. It owns
//! the boundary between bytes and samples; it must not hold signal processing
//! beyond format conversion and must never write to an input path.

mod atomic;
mod decode;
mod encode;
mod error;
mod pcm_wav;
mod resample;

pub use atomic::{check_destination, write_atomically, write_text_atomically, AtomicFile};
pub use decode::{decode_file, AudioReader, DecodedFile};
pub use encode::{encode_file, AudioWriter, Container, EncodeOptions, OutputFormat, Overwrite};
pub use error::IoError;
pub use resample::resample;
