//! Two-stage pipelines: one stage on a worker thread, the next on the caller's,
//! joined by a short queue of blocks. Offline renders use both cores this way while
//! every stage still sees the blocks in order (so results stay deterministic).

use std::sync::mpsc::sync_channel;

/// Blocks in flight between the stages: enough to absorb jitter, few enough to
/// keep memory bounded.
const QUEUE_BLOCKS: usize = 8;

/// The producer's side of a pipeline: hands one owned block to the consumer.
/// Fails only when the consumer has stopped (its own error is then reported).
pub type Send<'a, E> = dyn FnMut(Vec<Vec<f32>>) -> Result<(), E> + 'a;

/// Runs `produce` on a worker thread and `consume` on this one. `produce` gets a
/// function that passes blocks downstream. The first error wins: a consumer error
/// stops the producer at its next block.
pub fn pipelined<R, E>(
    produce: impl FnOnce(&mut Send<'_, E>) -> Result<R, E> + std::marker::Send,
    mut consume: impl FnMut(Vec<Vec<f32>>) -> Result<(), E>,
    stopped: impl Fn() -> E + Sync,
) -> Result<R, E>
where
    R: std::marker::Send,
    E: std::marker::Send,
{
    let (sender, receiver) = sync_channel::<Vec<Vec<f32>>>(QUEUE_BLOCKS);
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let mut send = |block: Vec<Vec<f32>>| sender.send(block).map_err(|_| stopped());
            let result = produce(&mut send);
            drop(sender);
            result
        });
        let mut consumed: Result<(), E> = Ok(());
        for block in receiver.iter() {
            consumed = consume(block);
            if consumed.is_err() {
                break;
            }
        }
        // Dropping the receiver makes a still-running producer's next send fail.
        drop(receiver);
        let produced = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        consumed?;
        produced
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_arrive_in_order_and_errors_stop_both_stages() {
        let mut seen = Vec::new();
        let total = pipelined(
            |send: &mut Send<'_, String>| {
                for i in 0..100 {
                    send(vec![vec![i as f32]])?;
                }
                Ok(100)
            },
            |block| {
                seen.push(block[0][0]);
                Ok(())
            },
            || "stopped".to_string(),
        );
        assert_eq!(total, Ok(100));
        assert_eq!(seen, (0..100).map(|i| i as f32).collect::<Vec<_>>());

        let failed: Result<(), String> = pipelined(
            |send: &mut Send<'_, String>| loop {
                send(vec![vec![0.0]])?;
            },
            |_| Err("consumer failed".to_string()),
            || "stopped".to_string(),
        );
        assert_eq!(failed, Err("consumer failed".to_string()));
    }
}
