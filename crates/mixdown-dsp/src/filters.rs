//! Filter processors built from biquad cascades: Butterworth high-/low-pass of any
//! order and parametric EQ, on all channels or on the mid or side signal.

use crate::biquad::{Biquad, BiquadCoefficients, BiquadKind, StereoBiquad};
use crate::processor::Processor;
use std::f64::consts::PI;

/// Pass direction of a Butterworth filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassKind {
    /// Passes below the corner.
    LowPass,
    /// Passes above the corner.
    HighPass,
}

/// Second-order sections of an `order`-th order Butterworth filter (−3 dB at
/// `freq_hz`, slope 6·order dB/octave), designed by the bilinear transform with
/// prewarping. Pole pairs k = 0..n/2 have Q = 1 / (2·sin((2k+1)·π / (2n)))
/// (Butterworth 1930; e.g. Zölzer, *Digital Audio Signal Processing*, §5.1); an
/// odd order adds one first-order section.
pub fn butterworth_sections(
    kind: PassKind,
    order: u32,
    freq_hz: f64,
    sample_rate_hz: f64,
) -> Vec<BiquadCoefficients> {
    let order = order.max(1);
    let mut sections = Vec::new();
    for k in 0..order / 2 {
        let q = 1.0 / (2.0 * ((2 * k + 1) as f64 * PI / (2 * order) as f64).sin());
        let shape = match kind {
            PassKind::LowPass => BiquadKind::LowPass,
            PassKind::HighPass => BiquadKind::HighPass,
        };
        sections.push(BiquadCoefficients::design(
            shape,
            freq_hz,
            q,
            sample_rate_hz,
        ));
    }
    if order % 2 == 1 {
        // First-order section: H(s) = 1/(1+s) or s/(1+s), bilinear with K = tan(πf/fs).
        let k = (PI * freq_hz / sample_rate_hz).tan();
        let a1 = (k - 1.0) / (k + 1.0);
        let (b0, b1) = match kind {
            PassKind::LowPass => (k / (k + 1.0), k / (k + 1.0)),
            PassKind::HighPass => (1.0 / (k + 1.0), -1.0 / (k + 1.0)),
        };
        sections.push(BiquadCoefficients {
            b0,
            b1,
            b2: 0.0,
            a1,
            a2: 0.0,
        });
    }
    sections
}

/// Which signal a [`FilterChain`] filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterTarget {
    /// Every channel alike.
    AllChannels,
    /// The mid signal (L+R)/2 of a stereo pair; other layouts pass unchanged.
    Mid,
    /// The side signal (L−R)/2 of a stereo pair; other layouts pass unchanged.
    Side,
}

/// A cascade of biquads run on every channel, or on the mid or side signal.
pub struct FilterChain {
    sections: Vec<BiquadCoefficients>,
    target: FilterTarget,
    /// One cascade per channel (per filtered signal for mid/side).
    state: Vec<Vec<Biquad>>,
    /// The cascade of a stereo stream filtered on both channels (empty otherwise).
    stereo_state: Vec<StereoBiquad>,
}

impl FilterChain {
    /// A chain of `sections` applied to `target`.
    pub fn new(sections: Vec<BiquadCoefficients>, target: FilterTarget) -> Self {
        Self {
            sections,
            target,
            state: Vec::new(),
            stereo_state: Vec::new(),
        }
    }

    /// Magnitude of the whole cascade at `freq_hz`.
    pub fn magnitude_at(&self, freq_hz: f64, sample_rate_hz: f64) -> f64 {
        self.sections
            .iter()
            .map(|s| s.magnitude_at(freq_hz, sample_rate_hz))
            .product()
    }
}

fn run_cascade(cascade: &mut [Biquad], x: f64) -> f64 {
    cascade.iter_mut().fold(x, |acc, section| section.tick(acc))
}

fn flush_denormals(cascade: &mut [Biquad]) {
    cascade.iter_mut().for_each(Biquad::flush_denormals);
}

/// Both channels of a stereo pair in one pass, two lanes at a time.
fn run_stereo_cascade(cascade: &mut [StereoBiquad], left: &mut [f32], right: &mut [f32]) {
    // Cascades of a known length are copied into a fixed-size local array: the compiler
    // then keeps the filter states in registers for the whole block instead of storing
    // and reloading them every sample.
    match cascade.len() {
        1 => run_stereo_fixed::<1>(cascade, left, right),
        2 => run_stereo_fixed::<2>(cascade, left, right),
        3 => run_stereo_fixed::<3>(cascade, left, right),
        4 => run_stereo_fixed::<4>(cascade, left, right),
        5 => run_stereo_fixed::<5>(cascade, left, right),
        6 => run_stereo_fixed::<6>(cascade, left, right),
        _ => {
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                let y = cascade
                    .iter_mut()
                    .fold([f64::from(*l), f64::from(*r)], |x, section| section.tick(x));
                *l = y[0] as f32;
                *r = y[1] as f32;
            }
        }
    }
    cascade.iter_mut().for_each(StereoBiquad::flush_denormals);
}

fn run_stereo_fixed<const N: usize>(
    cascade: &mut [StereoBiquad],
    left: &mut [f32],
    right: &mut [f32],
) {
    let Ok(sections) = <&mut [StereoBiquad; N]>::try_from(cascade) else {
        return;
    };
    let mut local = *sections;
    for (l, r) in left.iter_mut().zip(right.iter_mut()) {
        let mut y = [f64::from(*l), f64::from(*r)];
        for section in &mut local {
            y = section.tick(y);
        }
        *l = y[0] as f32;
        *r = y[1] as f32;
    }
    *sections = local;
}

impl Processor for FilterChain {
    fn prepare(&mut self, _sample_rate_hz: u32, _max_block_frames: usize, channel_count: usize) {
        let cascade: Vec<Biquad> = self.sections.iter().map(|&c| Biquad::new(c)).collect();
        self.state = vec![cascade; channel_count.max(1)];
        self.stereo_state = if channel_count == 2 && self.target == FilterTarget::AllChannels {
            self.sections
                .iter()
                .map(|&c| StereoBiquad::new(c))
                .collect()
        } else {
            Vec::new()
        };
    }

    fn reset(&mut self) {
        self.state.iter_mut().flatten().for_each(Biquad::reset);
        self.stereo_state.iter_mut().for_each(StereoBiquad::reset);
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        match (self.target, block) {
            (FilterTarget::AllChannels, [left, right]) if !self.stereo_state.is_empty() => {
                run_stereo_cascade(&mut self.stereo_state, left, right);
            }
            (FilterTarget::AllChannels, block) => {
                for (channel, cascade) in block.iter_mut().zip(&mut self.state) {
                    for sample in channel.iter_mut() {
                        *sample = run_cascade(cascade, f64::from(*sample)) as f32;
                    }
                }
            }
            (target, [left, right]) => {
                let cascade = &mut self.state[0];
                for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                    let mid = 0.5 * (f64::from(*l) + f64::from(*r));
                    let side = 0.5 * (f64::from(*l) - f64::from(*r));
                    let (mid, side) = match target {
                        FilterTarget::Mid => (run_cascade(cascade, mid), side),
                        _ => (mid, run_cascade(cascade, side)),
                    };
                    *l = (mid + side) as f32;
                    *r = (mid - side) as f32;
                }
            }
            // Mid/side filtering is defined for stereo only.
            _ => {}
        }
        // Once per block: a block is far too short for a decaying state to cross
        // from 1e-30 into the subnormal range.
        self.state
            .iter_mut()
            .for_each(|cascade| flush_denormals(cascade));
    }
}

/// A constant gain.
pub struct Gain {
    gain: f32,
}

impl Gain {
    /// A gain of `gain_db`.
    pub fn new(gain_db: f64) -> Self {
        Self {
            gain: crate::units::db_to_gain(gain_db) as f32,
        }
    }
}

impl Processor for Gain {
    fn prepare(&mut self, _: u32, _: usize, _: usize) {}

    fn reset(&mut self) {}

    fn process(&mut self, block: &mut [&mut [f32]]) {
        if self.gain != 1.0 {
            block
                .iter_mut()
                .flat_map(|c| c.iter_mut())
                .for_each(|s| *s *= self.gain);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::process_in_blocks;
    use crate::units::gain_to_db;

    const FS: f64 = 48_000.0;

    #[test]
    fn butterworth_of_every_order_matches_the_analytic_magnitude() {
        // |H|² = 1 / (1 + (tan(πf/fs) / tan(πfc/fs))^(2n)) for the low-pass, the
        // reciprocal ratio for the high-pass (prewarped bilinear Butterworth).
        for order in 1..=8 {
            for kind in [PassKind::LowPass, PassKind::HighPass] {
                let fc = 250.0;
                let chain = FilterChain::new(
                    butterworth_sections(kind, order, fc, FS),
                    FilterTarget::AllChannels,
                );
                for f in [20.0, 100.0, 250.0, 1_000.0, 10_000.0] {
                    let mut ratio = (PI * f / FS).tan() / (PI * fc / FS).tan();
                    if kind == PassKind::HighPass {
                        ratio = 1.0 / ratio;
                    }
                    let analytic_db = -10.0 * (1.0 + ratio.powi(2 * order as i32)).log10();
                    let computed_db = gain_to_db(chain.magnitude_at(f, FS));
                    assert!(
                        (computed_db - analytic_db).abs() < 1e-6,
                        "order {order} {kind:?} at {f} Hz: {computed_db} vs {analytic_db}"
                    );
                }
            }
        }
    }

    #[test]
    fn mid_filtering_leaves_the_side_untouched_and_vice_versa() {
        let n = 4_800;
        let left: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.05).sin() * 0.5).collect();
        let right: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.013).cos() * 0.3).collect();
        let side_before: Vec<f32> = left
            .iter()
            .zip(&right)
            .map(|(l, r)| 0.5 * (l - r))
            .collect();
        let mut chain = FilterChain::new(
            butterworth_sections(PassKind::HighPass, 2, 1_000.0, FS),
            FilterTarget::Mid,
        );
        chain.prepare(48_000, 512, 2);
        let mut channels = vec![left, right];
        process_in_blocks(&mut chain, &mut channels, 512);
        let side_after: Vec<f32> = channels[0]
            .iter()
            .zip(&channels[1])
            .map(|(l, r)| 0.5 * (l - r))
            .collect();
        for (a, b) in side_before.iter().zip(&side_after) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn unity_gain_is_an_exact_bypass() {
        let mut gain = Gain::new(0.0);
        let mut data = vec![0.123f32, -0.5, 1.5];
        gain.process(&mut [&mut data]);
        assert_eq!(data, vec![0.123, -0.5, 1.5]);
        let mut half = Gain::new(-6.020_599_913_279_624);
        half.process(&mut [&mut data]);
        assert!((data[1] + 0.25).abs() < 1e-7);
    }
}
