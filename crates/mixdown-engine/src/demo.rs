//! The embedded demo song (placeholder until the synthesiser lands).
