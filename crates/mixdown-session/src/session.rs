//! The session model: what a session file says, as plain data. Reading (with line
//! numbers) is in [`crate::parse`], checking in [`crate::validate`].

use crate::processor::ProcessorSpec;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The only session format version so far.
pub const SESSION_VERSION: u32 = 1;

/// The name of the bus every output ends in.
pub const MASTER: &str = "master";

/// A whole mix: stems, their processing and routing, and the master bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// Format version, [`SESSION_VERSION`].
    pub version: u32,
    /// Render rate, Hz; the highest stem rate when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// Session-wide settings.
    #[serde(default)]
    pub mix: MixSettings,
    /// The stems, `[[track]]` tables.
    #[serde(default, rename = "track", skip_serializing_if = "Vec::is_empty")]
    pub tracks: Vec<Track>,
    /// Group, effect and sub-mix buses, `[[bus]]` tables.
    #[serde(default, rename = "bus", skip_serializing_if = "Vec::is_empty")]
    pub buses: Vec<Bus>,
    /// The master bus.
    #[serde(default)]
    pub master: Master,
}

/// `[mix]`: settings that apply to every track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixSettings {
    /// Level of a centred mono source on each side, dB: 0, −3, −4.5 or −6.
    #[serde(default = "default_pan_law_db")]
    pub pan_law_db: f64,
    /// Tempo for note-valued delays, beats per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tempo_bpm: Option<f64>,
}

fn default_pan_law_db() -> f64 {
    -3.0
}

impl Default for MixSettings {
    fn default() -> Self {
        Self {
            pan_law_db: default_pan_law_db(),
            tempo_bpm: None,
        }
    }
}

/// What a stem is; automix's classes, a hint for people and tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)] // The names say it.
pub enum InstrumentClass {
    Kick,
    Snare,
    Hats,
    Cymbals,
    Toms,
    Percussion,
    Drums,
    Bass,
    LeadVocal,
    BackingVocal,
    Guitar,
    Keys,
    Piano,
    Pads,
    Strings,
    Brass,
    LeadSynth,
    Fx,
    Other,
}

impl InstrumentClass {
    /// The class as written in a session file (`lead-vocal`).
    pub fn name(self) -> &'static str {
        use InstrumentClass::*;
        match self {
            Kick => "kick",
            Snare => "snare",
            Hats => "hats",
            Cymbals => "cymbals",
            Toms => "toms",
            Percussion => "percussion",
            Drums => "drums",
            Bass => "bass",
            LeadVocal => "lead-vocal",
            BackingVocal => "backing-vocal",
            Guitar => "guitar",
            Keys => "keys",
            Piano => "piano",
            Pads => "pads",
            Strings => "strings",
            Brass => "brass",
            LeadSynth => "lead-synth",
            Fx => "fx",
            Other => "other",
        }
    }
}

/// One stem and everything done to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    /// Unique name (sidechains refer to it).
    pub name: String,
    /// Audio file, relative to the session file.
    pub file: PathBuf,
    /// What the stem is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<InstrumentClass>,
    /// Fader, dB.
    #[serde(default)]
    pub gain_db: f64,
    /// −1 (left) … 1 (right): the pan of a mono stem, the balance of a stereo one.
    #[serde(default)]
    pub pan: f64,
    /// Stereo stems: side gain, 0 (mono) … 1 (as recorded) … 2 (twice as wide).
    #[serde(default = "unity", skip_serializing_if = "is_unity")]
    pub width: f64,
    /// Silences the track (and its sends).
    #[serde(default, skip_serializing_if = "is_false")]
    pub mute: bool,
    /// When any track is soloed, only soloed tracks are heard (buses stay audible).
    #[serde(default, skip_serializing_if = "is_false")]
    pub solo: bool,
    /// Flips the polarity.
    #[serde(default, skip_serializing_if = "is_false")]
    pub invert_polarity: bool,
    /// Moves the stem later, ms.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay_ms: f64,
    /// Moves the stem later, frames at the session rate (instead of `delay_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_samples: Option<u64>,
    /// Where the stem starts in the mix, s.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_s: f64,
    /// Fade-in from the stem's first frame, ms (raised-cosine).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fade_in_ms: f64,
    /// Fade-out to the stem's last frame, ms (raised-cosine).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fade_out_ms: f64,
    /// Fader automation: gain offsets in time order, interpolated linearly in dB.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub automation: Vec<GainPoint>,
    /// Destination: `"master"` or a bus name.
    #[serde(default = "master_name")]
    pub output: String,
    /// Insert processing, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<ProcessorSpec>,
    /// Sends to buses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sends: Vec<Send>,
}

/// One automation point: from `time_s` on, the fader is offset by `gain_db`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GainPoint {
    /// Time in the mix, s.
    pub time_s: f64,
    /// Offset added to the fader, dB.
    pub gain_db: f64,
}

/// A copy of a track's or bus's signal to a bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Send {
    /// Destination bus.
    pub bus: String,
    /// Send level, dB.
    #[serde(default)]
    pub level_db: f64,
    /// Taken before the fader (and automation), so the fader does not change it.
    #[serde(default)]
    pub pre_fader: bool,
}

/// A bus: sums what is routed or sent to it, processes it, passes it on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bus {
    /// Unique name, other than `"master"`.
    pub name: String,
    /// Fader, dB.
    #[serde(default)]
    pub gain_db: f64,
    /// Silences the bus.
    #[serde(default)]
    pub mute: bool,
    /// Destination: `"master"` or another bus.
    #[serde(default = "master_name")]
    pub output: String,
    /// Processing, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<ProcessorSpec>,
    /// Sends to other buses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sends: Vec<Send>,
}

/// `[master]`: the last bus.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Master {
    /// Fader, dB.
    #[serde(default)]
    pub gain_db: f64,
    /// Processing, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<ProcessorSpec>,
    /// A mastering preset applied to the rendered mix (after `chain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
}

fn unity() -> f64 {
    1.0
}

fn is_unity(value: &f64) -> bool {
    *value == 1.0
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn master_name() -> String {
    MASTER.to_string()
}

impl Track {
    /// A track playing `file` untouched: unity gain, centred, routed to the master.
    pub fn new(name: impl Into<String>, file: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            file: file.into(),
            class: None,
            gain_db: 0.0,
            pan: 0.0,
            width: 1.0,
            mute: false,
            solo: false,
            invert_polarity: false,
            delay_ms: 0.0,
            delay_samples: None,
            start_s: 0.0,
            fade_in_ms: 0.0,
            fade_out_ms: 0.0,
            automation: Vec::new(),
            output: master_name(),
            chain: Vec::new(),
            sends: Vec::new(),
        }
    }
}

impl Bus {
    /// An empty bus routed to the master.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            gain_db: 0.0,
            mute: false,
            output: master_name(),
            chain: Vec::new(),
            sends: Vec::new(),
        }
    }
}

impl Session {
    /// An empty version-1 session.
    pub fn new() -> Self {
        Self {
            version: SESSION_VERSION,
            sample_rate: None,
            mix: MixSettings::default(),
            tracks: Vec::new(),
            buses: Vec::new(),
            master: Master::default(),
        }
    }

    /// The bus called `name`.
    pub fn bus(&self, name: &str) -> Option<&Bus> {
        self.buses.iter().find(|b| b.name == name)
    }

    /// The index of the track called `name`.
    pub fn track_index(&self, name: &str) -> Option<usize> {
        self.tracks.iter().position(|t| t.name == name)
    }

    /// Whether a track is heard: not muted, and soloed when anything is.
    pub fn is_audible(&self, track: &Track) -> bool {
        let any_solo = self.tracks.iter().any(|t| t.solo);
        !track.mute && (!any_solo || track.solo)
    }

    /// The session as TOML text: `[[track]]` and `[[bus]]` tables, chains and sends as
    /// inline lists with one entry per line, defaults left out.
    pub fn to_toml(&self) -> String {
        self.to_toml_annotated(&[])
    }

    /// [`to_toml`](Self::to_toml) with comment lines above each track (`notes[i]` for
    /// track `i`): automix writes the reason for each decision there.
    pub fn to_toml_annotated(&self, notes: &[Vec<String>]) -> String {
        use toml_edit::{ArrayOfTables, Item, Value};
        let mut document = toml_edit::ser::to_document(self)
            .expect("a session always serializes: plain tables, numbers and strings");
        for key in ["mix", "master"] {
            if let Some(item) = document.get_mut(key) {
                if let Some(inline) = item.as_inline_table().cloned() {
                    let mut table = inline.into_table();
                    one_entry_per_line(&mut table);
                    *item = Item::Table(table);
                }
            }
        }
        for key in ["track", "bus"] {
            if let Some(item) = document.get_mut(key) {
                let Some(array) = item.as_array() else {
                    continue;
                };
                let mut tables = ArrayOfTables::new();
                for (i, value) in array.iter().enumerate() {
                    let Some(inline) = value.as_inline_table() else {
                        continue;
                    };
                    let mut table = inline.clone().into_table();
                    one_entry_per_line(&mut table);
                    let lines = if key == "track" { notes.get(i) } else { None };
                    let comment: String = lines
                        .into_iter()
                        .flatten()
                        .map(|line| format!("# {line}\n"))
                        .collect();
                    table.decor_mut().set_prefix(format!("\n{comment}"));
                    tables.push(table);
                }
                *item = Item::ArrayOfTables(tables);
            }
        }

        /// Lists of tables (chains, sends, automation, EQ bands) inline, one entry a line.
        fn one_entry_per_line(table: &mut toml_edit::Table) {
            for (_, item) in table.iter_mut() {
                if let Some(Value::Array(array)) = item.as_value_mut() {
                    if array.iter().any(Value::is_inline_table) {
                        for value in array.iter_mut() {
                            value.decor_mut().set_prefix("\n  ");
                        }
                        array.set_trailing_comma(true);
                        array.set_trailing("\n");
                    }
                }
            }
        }
        document.to_string()
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}
