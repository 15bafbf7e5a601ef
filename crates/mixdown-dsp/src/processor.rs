//! The contract every real-time stage of mixdown follows (in the spirit of
//! camilladsp's `Filter` and nih-plug's `Plugin`).

/// A real-time audio processor working in place on planar `f32` blocks.
///
/// * [`prepare`](Processor::prepare) is the only method that may allocate; it is
///   called before the first block and whenever rate, block size or channel count
///   change.
/// * [`process`](Processor::process) never allocates, never blocks and never fails;
///   any block length up to the prepared maximum is valid, and the output must not
///   depend on how the signal was cut into blocks.
/// * [`latency_frames`](Processor::latency_frames) reports the delay the processor
///   adds (lookahead, linear phase, oversampling) so the caller can compensate.
/// * [`tail_frames`](Processor::tail_frames) reports how long the output may go on
///   after the input ends (reverb and delay tails), so an offline render knows how
///   long to keep feeding silence.
pub trait Processor: Send {
    /// Sizes internal state for a stream; may allocate.
    fn prepare(&mut self, sample_rate_hz: u32, max_block_frames: usize, channel_count: usize);

    /// Clears internal state (filter memories, envelopes) without reallocating.
    fn reset(&mut self);

    /// Processes one block in place: `block[channel][frame]`.
    fn process(&mut self, block: &mut [&mut [f32]]);

    /// Delay added by the processor, in frames.
    fn latency_frames(&self) -> usize {
        0
    }

    /// How many frames of output may follow the end of the input (reverb and delay
    /// tails): after that many frames of silent input the output is silent, or at least
    /// decayed to inaudibility (about −60 dB). Valid after
    /// [`prepare`](Processor::prepare); 0 for processors without memory beyond their
    /// latency.
    fn tail_frames(&self) -> usize {
        0
    }
}

/// Runs a processor over a whole planar signal in blocks of `block_frames`,
/// the way a host would. Used by offline renders and by block-size invariance tests.
pub fn process_in_blocks(
    processor: &mut dyn Processor,
    channels: &mut [Vec<f32>],
    block_frames: usize,
) {
    let frames = channels.first().map_or(0, Vec::len);
    let block_frames = block_frames.max(1);
    let mut start = 0;
    while start < frames {
        let end = (start + block_frames).min(frames);
        let mut block: Vec<&mut [f32]> = channels.iter_mut().map(|c| &mut c[start..end]).collect();
        processor.process(&mut block);
        start = end;
    }
}
