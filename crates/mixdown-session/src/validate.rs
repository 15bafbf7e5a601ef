//! Semantic checks of a session: ranges, frequencies against Nyquist, names, routing
//! and sidechain cycles. Every problem is collected, none stops the others.

use crate::problem::Problem;
use crate::processor::{CompressorBand, ProcessorSpec};
use crate::routing::{bus_render_order, track_waves};
use crate::session::{Send, Session, MASTER, SESSION_VERSION};
use mixdown_dsp::{note_duration_ms, PanLaw};
use std::collections::HashSet;

/// Lowest and highest render rates accepted, Hz.
pub const SAMPLE_RATE_RANGE_HZ: (u32, u32) = (8_000, 768_000);

/// Filter slopes a high- or low-pass can have, dB per octave.
pub const SLOPES_DB_PER_OCT: [u32; 6] = [6, 12, 18, 24, 36, 48];

/// Checks `session`. `sample_rate_hz` is the render rate when known (the session's own
/// `sample_rate`, or the highest stem rate once the stems are probed): frequencies are
/// checked against its Nyquist frequency only then.
pub fn validate(session: &Session, sample_rate_hz: Option<u32>) -> Vec<Problem> {
    let mut check = Checker {
        problems: Vec::new(),
        nyquist_hz: sample_rate_hz
            .or(session.sample_rate)
            .map(|r| f64::from(r) / 2.0),
        tempo_bpm: session.mix.tempo_bpm,
    };
    if session.version != SESSION_VERSION {
        check.problem(
            "version",
            format!(
                "version {} is not supported (this mixdown reads version {SESSION_VERSION})",
                session.version
            ),
        );
    }
    if let Some(rate) = session.sample_rate {
        let (lo, hi) = SAMPLE_RATE_RANGE_HZ;
        if !(lo..=hi).contains(&rate) {
            check.problem("sample_rate", format!("{rate} Hz is outside {lo}–{hi} Hz"));
        }
    }
    if PanLaw::from_db(session.mix.pan_law_db).is_none() {
        check.problem(
            "mix.pan_law_db",
            format!(
                "{} dB is not a pan law (use 0, -3, -4.5 or -6)",
                session.mix.pan_law_db
            ),
        );
    }
    if let Some(tempo) = session.mix.tempo_bpm {
        check.range("mix.tempo_bpm", tempo, 20.0, 999.0, "BPM");
    }

    let bus_names: HashSet<&str> = session.buses.iter().map(|b| b.name.as_str()).collect();
    let track_names: HashSet<&str> = session.tracks.iter().map(|t| t.name.as_str()).collect();
    let destination_exists = |name: &str| name == MASTER || bus_names.contains(name);

    let mut seen = HashSet::new();
    for (i, track) in session.tracks.iter().enumerate() {
        let at = format!("track[{i}]");
        check.name(&at, &track.name, &mut seen, "track");
        if track.file.as_os_str().is_empty() {
            check.problem(format!("{at}.file"), "is empty");
        }
        check.range(&format!("{at}.gain_db"), track.gain_db, -120.0, 48.0, "dB");
        check.range(&format!("{at}.pan"), track.pan, -1.0, 1.0, "");
        check.range(&format!("{at}.width"), track.width, 0.0, 4.0, "");
        check.range(
            &format!("{at}.delay_ms"),
            track.delay_ms,
            0.0,
            10_000.0,
            "ms",
        );
        if track.delay_samples.is_some() && track.delay_ms != 0.0 {
            check.problem(
                format!("{at}.delay_samples"),
                "set delay_ms or delay_samples, not both",
            );
        }
        check.range(&format!("{at}.start_s"), track.start_s, 0.0, 86_400.0, "s");
        check.range(
            &format!("{at}.fade_in_ms"),
            track.fade_in_ms,
            0.0,
            3.6e6,
            "ms",
        );
        check.range(
            &format!("{at}.fade_out_ms"),
            track.fade_out_ms,
            0.0,
            3.6e6,
            "ms",
        );
        let mut previous_s = f64::NEG_INFINITY;
        for (p, point) in track.automation.iter().enumerate() {
            let point_at = format!("{at}.automation[{p}]");
            check.range(
                &format!("{point_at}.time_s"),
                point.time_s,
                0.0,
                86_400.0,
                "s",
            );
            check.range(
                &format!("{point_at}.gain_db"),
                point.gain_db,
                -120.0,
                48.0,
                "dB",
            );
            if point.time_s <= previous_s {
                check.problem(
                    format!("{point_at}.time_s"),
                    format!(
                        "{} s is not after the previous point ({previous_s} s)",
                        point.time_s
                    ),
                );
            }
            previous_s = point.time_s;
        }
        if !destination_exists(&track.output) {
            check.problem(
                format!("{at}.output"),
                format!("no bus named {:?}", track.output),
            );
        }
        check.sends(&at, &track.sends, None, &bus_names);
        check.chain(
            &format!("{at}.chain"),
            &track.chain,
            Some(&track.name),
            &track_names,
        );
    }

    let mut seen = HashSet::new();
    for (i, bus) in session.buses.iter().enumerate() {
        let at = format!("bus[{i}]");
        check.name(&at, &bus.name, &mut seen, "bus");
        if bus.name == MASTER {
            check.problem(
                format!("{at}.name"),
                "\"master\" is the master bus; use [master]",
            );
        }
        check.range(&format!("{at}.gain_db"), bus.gain_db, -120.0, 48.0, "dB");
        if bus.output == bus.name {
            check.problem(format!("{at}.output"), "a bus cannot feed itself");
        } else if !destination_exists(&bus.output) {
            check.problem(
                format!("{at}.output"),
                format!("no bus named {:?}", bus.output),
            );
        }
        check.sends(&at, &bus.sends, Some(&bus.name), &bus_names);
        check.chain(&format!("{at}.chain"), &bus.chain, None, &track_names);
    }

    check.range("master.gain_db", session.master.gain_db, -120.0, 48.0, "dB");
    check.chain("master.chain", &session.master.chain, None, &track_names);

    // Cycles only make sense once every name resolves (and a self-loop is reported
    // above already).
    if check.problems.is_empty() {
        if let Err(cycle) = bus_render_order(session) {
            let first = session.buses.iter().position(|b| b.name == cycle.0[0]);
            check.problem(
                first.map_or("bus".into(), |i| format!("bus[{i}]")),
                format!("routing cycle: {cycle}"),
            );
        }
        if let Err(cycle) = track_waves(session) {
            let first = session.track_index(&cycle.0[0]);
            check.problem(
                first.map_or("track".into(), |i| format!("track[{i}].chain")),
                format!("sidechain cycle: {cycle}"),
            );
        }
    }
    check.problems
}

struct Checker {
    problems: Vec<Problem>,
    nyquist_hz: Option<f64>,
    tempo_bpm: Option<f64>,
}

impl Checker {
    fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    /// `value` must be finite and within `[lo, hi]`.
    fn range(&mut self, path: &str, value: f64, lo: f64, hi: f64, unit: &str) {
        if !(value.is_finite() && (lo..=hi).contains(&value)) {
            let unit = if unit.is_empty() {
                String::new()
            } else {
                format!(" {unit}")
            };
            self.problem(path, format!("{value}{unit} is outside {lo}…{hi}{unit}"));
        }
    }

    /// A frequency: positive and below Nyquist when the rate is known.
    fn freq(&mut self, path: &str, freq_hz: f64) {
        if !(freq_hz.is_finite() && freq_hz > 0.0) {
            self.problem(path, format!("{freq_hz} Hz must be a positive frequency"));
        } else if let Some(nyquist_hz) = self.nyquist_hz.filter(|&n| freq_hz >= n) {
            self.problem(
                path,
                format!("{freq_hz} Hz is above Nyquist ({nyquist_hz} Hz)"),
            );
        }
    }

    fn ratio(&mut self, path: &str, ratio: f64) {
        // ∞ is allowed (TOML `inf`): a limiter-like hard ceiling.
        if ratio.is_nan() || ratio < 1.0 {
            self.problem(path, format!("{ratio} must be at least 1 (1 = no change)"));
        }
    }

    fn name<'a>(&mut self, at: &str, name: &'a str, seen: &mut HashSet<&'a str>, what: &str) {
        if name.trim().is_empty() {
            self.problem(format!("{at}.name"), "is empty");
        } else if !seen.insert(name) {
            self.problem(
                format!("{at}.name"),
                format!("another {what} is called {name:?}"),
            );
        }
    }

    fn sends(&mut self, at: &str, sends: &[Send], own_bus: Option<&str>, buses: &HashSet<&str>) {
        for (s, send) in sends.iter().enumerate() {
            let send_at = format!("{at}.sends[{s}]");
            if Some(send.bus.as_str()) == own_bus {
                self.problem(format!("{send_at}.bus"), "a bus cannot send to itself");
            } else if !buses.contains(send.bus.as_str()) {
                self.problem(
                    format!("{send_at}.bus"),
                    format!("no bus named {:?}", send.bus),
                );
            }
            self.range(
                &format!("{send_at}.level_db"),
                send.level_db,
                -120.0,
                24.0,
                "dB",
            );
        }
    }

    fn compressor_band(&mut self, at: &str, band: &CompressorBand) {
        self.range(
            &format!("{at}.threshold_db"),
            band.threshold_db,
            -100.0,
            24.0,
            "dB",
        );
        self.ratio(&format!("{at}.ratio"), band.ratio);
        self.range(&format!("{at}.knee_db"), band.knee_db, 0.0, 48.0, "dB");
        self.range(
            &format!("{at}.attack_ms"),
            band.attack_ms,
            0.0,
            1_000.0,
            "ms",
        );
        self.range(
            &format!("{at}.release_ms"),
            band.release_ms,
            0.0,
            10_000.0,
            "ms",
        );
        self.range(
            &format!("{at}.makeup_db"),
            band.makeup_db,
            -48.0,
            48.0,
            "dB",
        );
    }

    fn chain(
        &mut self,
        at: &str,
        chain: &[ProcessorSpec],
        own_track: Option<&str>,
        tracks: &HashSet<&str>,
    ) {
        for (index, spec) in chain.iter().enumerate() {
            let at = format!("{at}[{index}]");
            let p = |field: &str| format!("{at}.{field}");
            match spec {
                ProcessorSpec::Highpass {
                    freq,
                    slope_db_per_oct,
                }
                | ProcessorSpec::Lowpass {
                    freq,
                    slope_db_per_oct,
                } => {
                    self.freq(&p("freq"), *freq);
                    if !SLOPES_DB_PER_OCT.contains(slope_db_per_oct) {
                        self.problem(
                            p("slope_db_per_oct"),
                            format!(
                                "{slope_db_per_oct} dB/oct is not available (use 6, 12, 18, 24, 36 or 48)"
                            ),
                        );
                    }
                }
                ProcessorSpec::Eq { bands, .. } => {
                    for (b, band) in bands.iter().enumerate() {
                        let band_at = format!("{at}.bands[{b}]");
                        self.freq(&format!("{band_at}.freq"), band.freq);
                        self.range(
                            &format!("{band_at}.gain_db"),
                            band.gain_db,
                            -36.0,
                            36.0,
                            "dB",
                        );
                        if !(band.q.is_finite() && band.q > 0.0 && band.q <= 100.0) {
                            self.problem(
                                format!("{band_at}.q"),
                                format!("{} must be above 0 and at most 100", band.q),
                            );
                        }
                    }
                }
                ProcessorSpec::Compressor(compressor) => {
                    self.compressor_band(&at, &compressor.band());
                    if let Some(key) = &compressor.sidechain {
                        if Some(key.as_str()) == own_track {
                            self.problem(
                                p("sidechain"),
                                "a track's own signal already drives its compressor; name another track",
                            );
                        } else if !tracks.contains(key.as_str()) {
                            self.problem(p("sidechain"), format!("no track named {key:?}"));
                        }
                    }
                }
                ProcessorSpec::MultibandCompressor {
                    crossovers_hz,
                    bands,
                } => {
                    for (c, freq) in crossovers_hz.iter().enumerate() {
                        self.freq(&format!("{at}.crossovers_hz[{c}]"), *freq);
                    }
                    if crossovers_hz.windows(2).any(|w| w[0] >= w[1]) {
                        self.problem(p("crossovers_hz"), "must be in ascending order");
                    }
                    if bands.len() != crossovers_hz.len() + 1 {
                        self.problem(
                            p("bands"),
                            format!(
                                "{} crossovers need {} bands, found {}",
                                crossovers_hz.len(),
                                crossovers_hz.len() + 1,
                                bands.len()
                            ),
                        );
                    }
                    for (b, band) in bands.iter().enumerate() {
                        self.compressor_band(&format!("{at}.bands[{b}]"), band);
                    }
                }
                ProcessorSpec::StereoWidth {
                    width,
                    mono_below_hz,
                } => {
                    self.range(&p("width"), *width, 0.0, 4.0, "");
                    if let Some(freq) = mono_below_hz {
                        self.freq(&p("mono_below_hz"), *freq);
                    }
                }
                ProcessorSpec::Saturation { drive_db, mix } => {
                    self.range(&p("drive_db"), *drive_db, 0.0, 48.0, "dB");
                    self.range(&p("mix"), *mix, 0.0, 1.0, "");
                }
                ProcessorSpec::Gain { gain_db } => {
                    self.range(&p("gain_db"), *gain_db, -120.0, 48.0, "dB");
                }
                ProcessorSpec::Limiter {
                    ceiling_dbtp,
                    lookahead_ms,
                    release_ms,
                } => {
                    self.range(&p("ceiling_dbtp"), *ceiling_dbtp, -30.0, 0.0, "dBTP");
                    self.range(&p("lookahead_ms"), *lookahead_ms, 0.1, 50.0, "ms");
                    self.range(&p("release_ms"), *release_ms, 1.0, 5_000.0, "ms");
                }
                ProcessorSpec::Gate(gate) => {
                    self.range(&p("threshold_db"), gate.threshold_db, -120.0, 0.0, "dB");
                    if let Some(ratio) = gate.ratio {
                        self.ratio(&p("ratio"), ratio);
                    }
                    self.range(&p("range_db"), gate.range_db, 0.0, 120.0, "dB");
                    self.range(&p("attack_ms"), gate.attack_ms, 0.0, 1_000.0, "ms");
                    self.range(&p("hold_ms"), gate.hold_ms, 0.0, 5_000.0, "ms");
                    self.range(&p("release_ms"), gate.release_ms, 0.0, 10_000.0, "ms");
                }
                ProcessorSpec::DeEsser(de_esser) => {
                    self.freq(&p("freq"), de_esser.freq);
                    self.range(&p("threshold_db"), de_esser.threshold_db, -80.0, 0.0, "dB");
                    self.ratio(&p("ratio"), de_esser.ratio);
                    self.range(
                        &p("max_reduction_db"),
                        de_esser.max_reduction_db,
                        0.0,
                        48.0,
                        "dB",
                    );
                    self.range(&p("attack_ms"), de_esser.attack_ms, 0.0, 1_000.0, "ms");
                    self.range(&p("release_ms"), de_esser.release_ms, 0.0, 10_000.0, "ms");
                }
                ProcessorSpec::Reverb(reverb) => {
                    self.range(&p("decay_s"), reverb.decay_s, 0.05, 30.0, "s");
                    self.range(&p("predelay_ms"), reverb.predelay_ms, 0.0, 500.0, "ms");
                    // 0 or anything at or above Nyquist turns damping off.
                    self.range(&p("damping_hz"), reverb.damping_hz, 0.0, 1e6, "Hz");
                    self.range(&p("mix"), reverb.mix, 0.0, 1.0, "");
                }
                ProcessorSpec::Delay(delay) => {
                    match (&delay.time_ms, &delay.note) {
                        (Some(time_ms), None) => {
                            self.range(&p("time_ms"), *time_ms, 0.1, 10_000.0, "ms");
                        }
                        (None, Some(note)) => match delay.tempo_bpm.or(self.tempo_bpm) {
                            None => self.problem(
                                p("note"),
                                "a note value needs a tempo: set tempo_bpm here or in [mix]",
                            ),
                            Some(tempo) => {
                                if delay.tempo_bpm.is_some() {
                                    self.range(&p("tempo_bpm"), tempo, 20.0, 999.0, "BPM");
                                }
                                match note_duration_ms(note, tempo) {
                                        None => self.problem(
                                            p("note"),
                                            format!("{note:?} is not a note value (e.g. \"1/4\", \"1/8.\", \"1/8t\")"),
                                        ),
                                        Some(ms) if ms > 10_000.0 => self.problem(
                                            p("note"),
                                            format!("{note} at {tempo} BPM lasts {ms:.0} ms, more than 10 s"),
                                        ),
                                        Some(_) => {}
                                    }
                            }
                        },
                        (Some(_), Some(_)) => {
                            self.problem(at.clone(), "set time_ms or note, not both")
                        }
                        (None, None) => self.problem(at.clone(), "set time_ms or note"),
                    }
                    self.range(&p("feedback"), delay.feedback, 0.0, 0.99, "");
                    self.range(&p("mix"), delay.mix, 0.0, 1.0, "");
                    if let Some(freq) = delay.highcut_hz {
                        self.range(&p("highcut_hz"), freq, 1.0, 1e6, "Hz");
                    }
                }
            }
        }
    }
}

/// The delay time of `spec` in ms under the session tempo `tempo_bpm`, for a valid
/// session.
pub fn delay_time_ms(spec: &crate::processor::DelaySpec, tempo_bpm: Option<f64>) -> f64 {
    match (&spec.time_ms, &spec.note) {
        (Some(ms), _) => *ms,
        (None, Some(note)) => spec
            .tempo_bpm
            .or(tempo_bpm)
            .and_then(|tempo| note_duration_ms(note, tempo))
            .unwrap_or(0.0),
        (None, None) => 0.0,
    }
}
