//! # mixdown-session
//!
//! The session: what a mix is, as data. It owns the model of a session file
//! (tracks, buses, sends, the master bus and the processor vocabulary their chains
//! are written in), reading it from TOML so that every problem is reported with its
//! line and path (`track[2].chain[1].freq: 30000 Hz is above Nyquist (24000 Hz)`),
//! validation (ranges, names, routing and sidechain cycles) and the render order
//! that routing implies. The same processor vocabulary is used by the mastering
//! report, so any automatic decision can be copied into a session and edited. It
//! must not decode files or render audio: the engine turns a valid session into
//! processors and signal flow. Its only use of `mixdown-dsp` is to accept exactly
//! the pan laws and note values the DSP understands.

pub mod parse;
pub mod problem;
pub mod processor;
pub mod routing;
pub mod session;
pub mod validate;

pub use parse::SessionSource;
pub use problem::{Problem, Problems};
pub use processor::{
    CompressorBand, CompressorSpec, DeEsserSpec, DelaySpec, DetectorKind, EqBand, EqBandKind,
    GateSpec, ProcessorSpec, ReverbSpec, StereoPart,
};
pub use routing::{bus_render_order, sidechain_sources, track_waves, Cycle};
pub use session::{
    Bus, GainPoint, InstrumentClass, Master, MixSettings, Send, Session, Track, MASTER,
    SESSION_VERSION,
};
pub use validate::{delay_time_ms, validate};
