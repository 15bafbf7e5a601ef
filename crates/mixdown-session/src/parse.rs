//! Reading a session file so that every problem carries its line and path.
//!
//! The text is parsed once by `toml_edit`, which keeps the byte span of every key and
//! value. Each `[[track]]`, `[[bus]]` and top-level key is then deserialized on its
//! own, so one bad track does not hide the problems of the next, and
//! `serde_path_to_error` names the field inside it. Problems found later (by
//! validation, or by the engine when it opens stems) are located through the same
//! spans with [`SessionSource::locate`].

use crate::problem::Problem;
use crate::session::{Bus, Master, MixSettings, Session, Track};
use serde::de::{DeserializeOwned, IntoDeserializer};
use std::ops::Range;
use toml_edit::{Document, Item, Value};

/// Top-level keys of a session file.
const ROOT_KEYS: [&str; 6] = ["version", "sample_rate", "mix", "track", "bus", "master"];

/// A parsed session together with the text it came from, to give problems lines.
#[derive(Debug)]
pub struct SessionSource {
    /// The session as read (not yet validated).
    pub session: Session,
    document: Document<String>,
}

/// One step of a problem path: a key or an array index.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

impl SessionSource {
    /// Reads `text`. Fails with every structural problem found (bad TOML, unknown
    /// keys, wrong types, missing fields), each with its line.
    pub fn parse(text: &str) -> Result<Self, Vec<Problem>> {
        let document = Document::parse(text.to_string()).map_err(|error| {
            let line = error.span().map(|span| line_at(text, span.start));
            let message = error.message().trim().replace('\n', " ");
            vec![Problem {
                line,
                ..Problem::new("", format!("not valid TOML: {message}"))
            }]
        })?;
        let mut reader = Reader {
            text,
            problems: Vec::new(),
        };
        let root = document.as_table();
        for (key, item) in root.iter() {
            if !ROOT_KEYS.contains(&key) {
                reader.problem(
                    item.span(),
                    key,
                    format!("unknown key (expected one of: {})", ROOT_KEYS.join(", ")),
                );
            }
        }
        let version = match root.get("version") {
            Some(item) => reader.read::<u32>(item, "version"),
            None => {
                reader.problems.push(Problem {
                    line: Some(1),
                    ..Problem::new("version", "missing (write `version = 1` at the top)")
                });
                None
            }
        };
        let sample_rate = root
            .get("sample_rate")
            .and_then(|item| reader.read::<u32>(item, "sample_rate"));
        let mix = root
            .get("mix")
            .map_or(Some(MixSettings::default()), |item| {
                reader.read(item, "mix")
            });
        let master = root
            .get("master")
            .map_or(Some(Master::default()), |item| reader.read(item, "master"));
        let tracks: Vec<Option<Track>> = reader.read_list(root.get("track"), "track");
        let buses: Vec<Option<Bus>> = reader.read_list(root.get("bus"), "bus");

        let session = match (version, mix, master) {
            (Some(version), Some(mix), Some(master)) if reader.problems.is_empty() => Session {
                version,
                sample_rate,
                mix,
                tracks: tracks.into_iter().flatten().collect(),
                buses: buses.into_iter().flatten().collect(),
                master,
            },
            _ => return Err(reader.problems),
        };
        Ok(Self { session, document })
    }

    /// Fills in the line of each problem from its path: the line of the deepest part of
    /// the path the file spells out (a defaulted field points at its table).
    /// The problems come back in file order.
    pub fn locate(&self, problems: Vec<Problem>) -> Vec<Problem> {
        let mut located: Vec<Problem> = problems
            .into_iter()
            .map(|problem| Problem {
                line: problem.line.or_else(|| self.line_of(&problem.path)),
                ..problem
            })
            .collect();
        located.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        located
    }

    /// The 1-based line where `path` (`track[2].chain[1].freq`) is written, or of its
    /// nearest written ancestor.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let text = self.document.raw();
        span_of(self.document.as_item(), &steps(path)).map(|span| line_at(text, span.start))
    }
}

/// Splits `track[2].chain[1].freq` into keys and indices.
fn steps(path: &str) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let key_end = part.find('[').unwrap_or(part.len());
        if key_end > 0 {
            steps.push(Step::Key(&part[..key_end]));
        }
        for index in part[key_end..].split(['[', ']']).filter(|i| !i.is_empty()) {
            if let Ok(index) = index.parse() {
                steps.push(Step::Index(index));
            }
        }
    }
    steps
}

/// The span of the deepest item along `steps` that has one.
fn span_of(item: &Item, steps: &[Step<'_>]) -> Option<Range<usize>> {
    let Some((step, rest)) = steps.split_first() else {
        return item.span();
    };
    let child_span = match (step, item) {
        (Step::Key(key), Item::Table(table)) => table
            .get_key_value(key)
            .and_then(|(k, child)| span_of(child, rest).or_else(|| k.span())),
        (Step::Index(index), Item::ArrayOfTables(tables)) => tables
            .get(*index)
            .and_then(|table| span_of_table(table, rest)),
        (_, Item::Value(value)) => span_of_value(value, steps),
        _ => None,
    };
    child_span.or_else(|| item.span())
}

fn span_of_table(table: &toml_edit::Table, steps: &[Step<'_>]) -> Option<Range<usize>> {
    let Some((Step::Key(key), rest)) = steps.split_first() else {
        return table.span();
    };
    table
        .get_key_value(key)
        .and_then(|(k, child)| span_of(child, rest).or_else(|| k.span()))
        .or_else(|| table.span())
}

fn span_of_value(value: &Value, steps: &[Step<'_>]) -> Option<Range<usize>> {
    let Some((step, rest)) = steps.split_first() else {
        return value.span();
    };
    let child_span = match (step, value) {
        (Step::Key(key), Value::InlineTable(table)) => table
            .get_key_value(key)
            .and_then(|(k, child)| span_of(child, rest).or_else(|| k.span())),
        (Step::Index(index), Value::Array(array)) => {
            array.get(*index).and_then(|v| span_of_value(v, rest))
        }
        _ => None,
    };
    child_span.or_else(|| value.span())
}

/// 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Deserializes the parts of a document, collecting problems.
struct Reader<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn problem(&mut self, span: Option<Range<usize>>, path: &str, message: String) {
        self.problems.push(Problem {
            line: span.map(|s| line_at(self.text, s.start)),
            ..Problem::new(path, message)
        });
    }

    /// Deserializes one item; on failure records the problem at the innermost path.
    fn read<T: DeserializeOwned>(&mut self, item: &Item, path: &str) -> Option<T> {
        let value = match item.clone().into_value() {
            Ok(value) => value,
            Err(item) => {
                self.problem(item.span(), path, "expected a table or a value".into());
                return None;
            }
        };
        match serde_path_to_error::deserialize::<_, T>(value.clone().into_deserializer()) {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                let inner_path = join_path(path, &error.path().to_string());
                let message = error.inner().message().trim().replace('\n', " ");
                // An unknown field is best shown where it is written.
                let field_path = unknown_field(&message).map(|f| join_path(&inner_path, f));
                let span = field_path
                    .as_deref()
                    .and_then(|p| span_of_value(&value, &steps(p.strip_prefix(path).unwrap_or(p))))
                    .or_else(|| error.inner().span())
                    .or_else(|| {
                        span_of_value(&value, &steps(inner_path.strip_prefix(path).unwrap_or("")))
                    })
                    .or_else(|| item.span());
                self.problem(span, &inner_path, message);
                None
            }
        }
    }

    /// Deserializes every entry of a `[[name]]` list (or an inline array of tables).
    fn read_list<T: DeserializeOwned>(
        &mut self,
        item: Option<&Item>,
        name: &str,
    ) -> Vec<Option<T>> {
        let Some(item) = item else {
            return Vec::new();
        };
        let entries: Vec<Item> = match item {
            Item::ArrayOfTables(tables) => tables.iter().cloned().map(Item::Table).collect(),
            Item::Value(Value::Array(array)) => array.iter().cloned().map(Item::Value).collect(),
            _ => {
                self.problem(
                    item.span(),
                    name,
                    format!("expected a list of tables ([[{name}]])"),
                );
                return Vec::new();
            }
        };
        entries
            .iter()
            .enumerate()
            .map(|(i, entry)| self.read(entry, &format!("{name}[{i}]")))
            .collect()
    }
}

/// `track[0]` + `chain[1].freq` → `track[0].chain[1].freq`; serde_path_to_error
/// writes `.` for an empty path.
fn join_path(base: &str, inner: &str) -> String {
    let inner = inner.trim_start_matches('.');
    match (base.is_empty(), inner.is_empty()) {
        (_, true) => base.to_string(),
        (true, false) => inner.to_string(),
        (false, false) if inner.starts_with('[') => format!("{base}{inner}"),
        (false, false) => format!("{base}.{inner}"),
    }
}

/// The field named by serde's "unknown field `x`, expected …" message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_keys_and_indices() {
        let parsed = steps("track[2].chain[1].freq");
        assert_eq!(parsed.len(), 5);
        assert!(matches!(parsed[0], Step::Key("track")));
        assert!(matches!(parsed[1], Step::Index(2)));
        assert!(matches!(parsed[3], Step::Index(1)));
        assert!(matches!(parsed[4], Step::Key("freq")));
    }

    #[test]
    fn joined_paths_read_like_the_file() {
        assert_eq!(join_path("track[0]", "."), "track[0]");
        assert_eq!(
            join_path("track[0]", "chain[1].freq"),
            "track[0].chain[1].freq"
        );
        assert_eq!(join_path("track[0]", "[1]"), "track[0][1]");
        assert_eq!(join_path("", "version"), "version");
        assert_eq!(line_at("a\nb\nc", 2), 2);
        assert_eq!(
            unknown_field("unknown field `colour`, expected one of"),
            Some("colour")
        );
    }
}
