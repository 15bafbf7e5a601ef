//! The order in which a session's parts can be rendered: buses after everything that
//! feeds them, keyed tracks after their sidechain sources. Cycles make an order
//! impossible and are reported with the names along the loop.

use crate::processor::ProcessorSpec;
use crate::session::{Session, MASTER};

/// The tracks whose signals key compressors in `chain`.
pub fn sidechain_sources(chain: &[ProcessorSpec]) -> impl Iterator<Item = &str> {
    chain.iter().filter_map(|spec| match spec {
        ProcessorSpec::Compressor(c) => c.sidechain.as_deref(),
        _ => None,
    })
}

/// A loop in the routing, as the names along it (`a → b → a`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<String>);

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" → "))
    }
}

/// Bus indices in an order where every bus comes after the buses routed or sent to
/// it, or the first routing cycle found.
pub fn bus_render_order(session: &Session) -> Result<Vec<usize>, Cycle> {
    let bus_index = |name: &str| session.buses.iter().position(|b| b.name == name);
    // feeds[a] lists the buses that a feeds.
    let feeds: Vec<Vec<usize>> = session
        .buses
        .iter()
        .map(|bus| {
            std::iter::once(bus.output.as_str())
                .chain(bus.sends.iter().map(|s| s.bus.as_str()))
                .filter(|&name| name != MASTER)
                .filter_map(bus_index)
                .collect()
        })
        .collect();
    topological_order(&feeds).map_err(|cycle| {
        Cycle(
            cycle
                .into_iter()
                .map(|i| session.buses[i].name.clone())
                .collect(),
        )
    })
}

/// Tracks grouped in "waves": a track's sidechain sources are all in earlier waves, so
/// the tracks of one wave can render in parallel. Fails on a sidechain cycle.
pub fn track_waves(session: &Session) -> Result<Vec<Vec<usize>>, Cycle> {
    // keys[k] lists the tracks that track k keys.
    let mut keys: Vec<Vec<usize>> = vec![Vec::new(); session.tracks.len()];
    for (t, track) in session.tracks.iter().enumerate() {
        for source in sidechain_sources(&track.chain) {
            if let Some(k) = session.track_index(source) {
                keys[k].push(t);
            }
        }
    }
    let order = topological_order(&keys).map_err(|cycle| {
        Cycle(
            cycle
                .into_iter()
                .map(|i| session.tracks[i].name.clone())
                .collect(),
        )
    })?;
    let mut wave = vec![0usize; session.tracks.len()];
    for &k in &order {
        for &t in &keys[k] {
            wave[t] = wave[t].max(wave[k] + 1);
        }
    }
    let wave_count = wave.iter().max().map_or(0, |w| w + 1);
    let mut waves = vec![Vec::new(); wave_count];
    for (t, &w) in wave.iter().enumerate() {
        waves[w].push(t);
    }
    Ok(waves)
}

/// Depth-first topological sort of nodes `0..edges.len()` (edge `a → b`
/// means a before b). On a cycle, returns its nodes with the first repeated at the end.
fn topological_order(edges: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: usize,
        edges: &[Vec<usize>],
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        post_order: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match marks[node] {
            Mark::Done => return Ok(()),
            Mark::Open => {
                let start = stack.iter().position(|&n| n == node).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(node);
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[node] = Mark::Open;
        stack.push(node);
        for &next in &edges[node] {
            visit(next, edges, marks, stack, post_order)?;
        }
        stack.pop();
        marks[node] = Mark::Done;
        post_order.push(node);
        Ok(())
    }
    let mut marks = vec![Mark::New; edges.len()];
    let mut post_order = Vec::with_capacity(edges.len());
    let mut stack = Vec::new();
    for node in 0..edges.len() {
        visit(node, edges, &mut marks, &mut stack, &mut post_order)?;
    }
    post_order.reverse();
    Ok(post_order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_respects_edges_and_cycles_are_named_in_order() {
        let order = topological_order(&[vec![2], vec![0], vec![]]).unwrap();
        let pos = |n| order.iter().position(|&x| x == n).unwrap();
        assert!(pos(1) < pos(0) && pos(0) < pos(2), "{order:?}");
        assert_eq!(
            topological_order(&[vec![1], vec![2], vec![0]]),
            Err(vec![0, 1, 2, 0])
        );
        assert_eq!(topological_order(&[vec![0]]), Err(vec![0, 0]));
    }
}
