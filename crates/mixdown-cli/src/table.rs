//! Human-readable tables for the terminal.

use mixdown_analysis::Metrics;
use std::fmt::Write;

/// A value with one decimal, right-aligned, and its unit; `–` when undefined.
pub fn value(v: Option<f64>, unit: &str) -> String {
    match v {
        Some(v) => format!("{v:>7.1} {unit}"),
        None => format!("{:>7} {unit}", "–"),
    }
}

/// A frequency label: `31.5`, `125`, `1k`, `12.5k`.
fn frequency_label(hz: f64) -> String {
    if hz >= 1000.0 {
        format!("{}k", hz / 1000.0)
    } else {
        format!("{hz}")
    }
}

/// The analysis of one programme as an aligned two-column table.
pub fn metrics_table(name: &str, m: &Metrics) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{name}  ({} Hz, {} ch, {:.2} s)",
        m.sample_rate_hz, m.channels, m.duration_s
    );
    let rows = [
        ("Integrated loudness", value(m.integrated_lufs, "LUFS")),
        ("Loudness range", value(m.loudness_range_lu, "LU")),
        ("True peak", value(m.true_peak_dbtp, "dBTP")),
        ("Sample peak", value(m.sample_peak_dbfs, "dBFS")),
        ("Max momentary", value(m.max_momentary_lufs, "LUFS")),
        ("Max short-term", value(m.max_short_term_lufs, "LUFS")),
        ("PLR", value(m.plr_db, "dB")),
        ("Crest factor", value(m.crest_db, "dB")),
        (
            "Stereo correlation",
            m.stereo_correlation
                .map_or_else(|| format!("{:>7}", "–"), |c| format!("{c:>+7.2}")),
        ),
        ("DC offset", value(m.dc_offset_dbfs, "dBFS")),
        ("Clipped samples", format!("{:>7}", m.clipped_samples)),
    ];
    for (label, v) in rows {
        let _ = writeln!(text, "  {label:<22}{v}");
    }
    // Octave-spaced bands of the 1/3-octave spectrum give the tonal shape at a glance.
    let octaves: Vec<String> = m
        .spectrum
        .bands
        .iter()
        .skip(2)
        .step_by(3)
        .filter_map(|b| {
            b.level_db
                .map(|l| format!("{}:{l:.0}", frequency_label(b.nominal_hz)))
        })
        .collect();
    let spectrum = if octaves.is_empty() {
        "      –".to_string()
    } else {
        octaves.join(" ")
    };
    let _ = writeln!(text, "  {:<22}{spectrum}", "Spectrum (Hz:dB)");
    text
}
