//! # mixdown-dsp
//!
//! The signal-processing layer of mixdown: planar audio buffers, decibel/linear
//! conversions, biquad filters (RBJ cookbook), TPDF dither, the dynamics, stereo,
//! delay and reverb processors of the mastering chain and the mixing session, and the
//! [`Processor`] contract every real-time stage follows. It owns the arithmetic that touches
//! samples and nothing else: it must not do I/O, must not depend on serde or any
//! file format, and a processor's `process()` must never allocate, block or fail —
//! only `prepare()` may allocate. Meters live in `mixdown-analysis`, files in
//! `mixdown-io`.

pub mod biquad;
pub mod buffer;
pub mod crossover;
/// Split-band de-esser: a compressor on the band above an LR4 crossover.
pub mod deesser;
/// Exact integer delays, feedback/ping-pong echoes and tempo-synced note durations.
pub mod delay;
pub mod dither;
pub mod dynamics;
pub mod filters;
/// Downward expander and noise gate with hold.
pub mod gate;
pub mod limiter;
pub mod oversampling;
pub mod processor;
/// Stereo algorithmic reverb: a feedback delay network with damping.
pub mod reverb;
pub mod saturation;
pub mod stereo;
#[cfg(test)]
mod test_signals;
pub mod units;

pub use buffer::AudioBuffer;
pub use deesser::{DeEsser, DeEsserSettings};
pub use delay::{note_duration_ms, DelaySettings, FeedbackDelay, FixedDelay};
pub use gate::{gate_static_gain_db, Gate, GateSettings};
pub use processor::Processor;
pub use reverb::{Reverb, ReverbSettings};
pub use stereo::{balance_gains, PanLaw};
