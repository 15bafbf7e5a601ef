//! # mixdown-engine
//!
//! Where decisions and signal flow meet: processing chains built from the session
//! vocabulary, the mastering profile → planner → renderer → report, the demo song
//! synthesiser, and (as they land) the mix render graph and the automix planner. It
//! composes `mixdown-dsp` processors, decides from `mixdown-analysis` figures and
//! streams files through `mixdown-io` (it never touches bytes itself). It must not
//! parse command lines or print: progress and results go back to the caller.

pub mod automix;
pub mod chain;
pub mod demo;
pub mod mastering;
pub mod mix;
pub mod pipeline;
pub mod report;
