//! # mixdown-engine
//!
//! Where decisions and signal flow meet: the demo song synthesiser today, and the
//! render graph (tracks → buses → master), the mastering planner and chain, and the
//! automix planner as they land. It composes `mixdown-dsp` processors and reads
//! `mixdown-analysis` figures; it must not parse command lines or print, and it
//! leaves files to `mixdown-io` — callers hand it buffers and get buffers back.

pub mod chain;
pub mod demo;
pub mod mastering;
pub mod pipeline;
pub mod report;
