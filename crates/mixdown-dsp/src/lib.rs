//! # mixdown-dsp
//!
//! The signal-processing layer of mixdown: planar audio buffers, decibel/linear
//! conversions, biquad filters (RBJ cookbook), TPDF dither and the [`Processor`]
//! contract every real-time stage follows. It owns the arithmetic that touches
//! samples and nothing else: it must not do I/O, must not depend on serde or any
//! file format, and a processor's `process()` must never allocate, block or fail —
//! only `prepare()` may allocate. Meters live in `mixdown-analysis`, files in
//! `mixdown-io`.

pub mod biquad;
pub mod buffer;
pub mod crossover;
pub mod dither;
pub mod dynamics;
pub mod filters;
pub mod limiter;
pub mod oversampling;
pub mod processor;
pub mod saturation;
pub mod stereo;
pub mod units;

pub use buffer::AudioBuffer;
pub use processor::Processor;
