//! Delivery targets: integrated loudness and true-peak ceiling per platform.

use serde::Serialize;

/// A delivery target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Preset {
    /// Name used on the command line.
    pub name: &'static str,
    /// Integrated loudness target, LUFS.
    pub target_lufs: f64,
    /// True-peak ceiling, dBTP.
    pub ceiling_dbtp: f64,
    /// Largest loudness range wanted, LU (background music keeps a narrow range).
    pub max_loudness_range_lu: Option<f64>,
    /// Where the numbers come from.
    pub source: &'static str,
}

/// Every preset; `spotify` is the default.
pub const PRESETS: [Preset; 12] = [
    preset(
        "spotify",
        -14.0,
        -1.0,
        "Spotify loudness normalisation reference level",
    ),
    preset("apple", -16.0, -1.0, "Apple Music / Sound Check"),
    preset("youtube", -14.0, -1.0, "YouTube playback normalisation"),
    preset("tidal", -14.0, -1.0, "Tidal normalisation"),
    preset("amazon", -14.0, -2.0, "Amazon Music"),
    preset("deezer", -15.0, -1.0, "Deezer"),
    preset("soundcloud", -14.0, -1.0, "SoundCloud"),
    preset("club", -9.0, -0.3, "loud club/DJ master"),
    preset("cd", -10.0, -0.3, "loud CD master"),
    preset("broadcast", -23.0, -1.0, "EBU R128 broadcast"),
    preset("aes", -16.0, -1.0, "AES TD1008 streaming recommendation"),
    Preset {
        name: "background",
        target_lufs: -18.0,
        ceiling_dbtp: -1.0,
        max_loudness_range_lu: Some(8.0),
        source: "in-store / background-music catalogues: gentle, even level",
    },
];

const fn preset(
    name: &'static str,
    target_lufs: f64,
    ceiling_dbtp: f64,
    source: &'static str,
) -> Preset {
    Preset {
        name,
        target_lufs,
        ceiling_dbtp,
        max_loudness_range_lu: None,
        source,
    }
}

/// The preset called `name` (case-insensitive).
pub fn find_preset(name: &str) -> Option<Preset> {
    PRESETS
        .iter()
        .copied()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The default delivery target.
pub fn default_preset() -> Preset {
    PRESETS[0]
}

/// The preset names, for messages.
pub fn preset_names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_the_design_table() {
        let expect = [
            ("spotify", -14.0, -1.0),
            ("apple", -16.0, -1.0),
            ("amazon", -14.0, -2.0),
            ("deezer", -15.0, -1.0),
            ("club", -9.0, -0.3),
            ("cd", -10.0, -0.3),
            ("broadcast", -23.0, -1.0),
            ("aes", -16.0, -1.0),
            ("background", -18.0, -1.0),
        ];
        for (name, lufs, ceiling) in expect {
            let p = find_preset(name).unwrap();
            assert_eq!((p.target_lufs, p.ceiling_dbtp), (lufs, ceiling), "{name}");
        }
        assert_eq!(find_preset("SPOTIFY").unwrap().name, "spotify");
        assert!(find_preset("nope").is_none());
        assert_eq!(default_preset().name, "spotify");
        assert_eq!(
            find_preset("background").unwrap().max_loudness_range_lu,
            Some(8.0)
        );
    }
}
