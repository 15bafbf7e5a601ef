//! # mixdown-session
//!
//! The session model: what a mix is made of (tracks, buses, sends, processor
//! chains, the master bus), read from and written to TOML, validated with errors
//! that name the line and the path of every offending value. It owns the
//! vocabulary that automix writes and users edit; it must not decode files or
//! render audio — the engine turns a validated session into sound.
//!
//! The session format lands with the mixing feature; this crate is its reserved
//! place in the layering and is empty until then.
