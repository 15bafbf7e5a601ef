//! Decibel ↔ linear conversions. Amplitude decibels throughout (20·log10).

/// Converts an amplitude ratio in decibels to a linear gain factor.
#[inline]
pub fn db_to_gain(gain_db: f64) -> f64 {
    // exp is about twice as fast as powf, and dynamics call this once per frame.
    (gain_db * (std::f64::consts::LN_10 / 20.0)).exp()
}

/// Converts a linear amplitude ratio to decibels; `0` maps to `-inf`.
#[inline]
pub fn gain_to_db(gain: f64) -> f64 {
    20.0 * gain.abs().log10()
}

/// Converts a mean-square power ratio to decibels (10·log10); `0` maps to `-inf`.
#[inline]
pub fn power_to_db(power: f64) -> f64 {
    10.0 * power.log10()
}

/// `Some(value)` when it is finite, `None` for ±inf and NaN — the shape reports use
/// for quantities that are undefined on silence.
#[inline]
pub fn finite_or_none(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reference_points() {
        assert!((db_to_gain(-6.020_599_913_279_624) - 0.5).abs() < 1e-12);
        assert!((gain_to_db(0.1) + 20.0).abs() < 1e-12);
        assert!((power_to_db(0.5) + 3.010_299_956_639_812).abs() < 1e-12);
        for db in [-120.0, -3.0, 0.0, 12.5] {
            assert!((gain_to_db(db_to_gain(db)) - db).abs() < 1e-9);
        }
        assert_eq!(gain_to_db(0.0), f64::NEG_INFINITY);
        assert_eq!(finite_or_none(f64::NEG_INFINITY), None);
        assert_eq!(finite_or_none(-3.0), Some(-3.0));
    }
}
