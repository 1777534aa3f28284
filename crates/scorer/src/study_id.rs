//! Study identifiers as EVALUATION.md section 1 defines them.

use std::collections::HashMap;
use std::fmt;

/// A study identifier: `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`.
///
/// Parsing is the only way to get one, so every id that reaches a file path has been
/// checked: no `/`, no `..` prefix, no empty name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StudyId(String);

impl StudyId {
    /// Parses an id, or returns why it is not one.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let mut chars = raw.chars();
        match chars.next() {
            None => return Err("a study id cannot be empty"),
            Some(first) if !first.is_ascii_alphanumeric() => {
                return Err("a study id must start with a letter or a digit");
            }
            Some(_) => {}
        }
        if raw.len() > 64 {
            return Err("a study id has at most 64 characters");
        }
        if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return Err("a study id may only contain letters, digits, '_', '.' and '-'");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StudyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The test set's study ids in a fixed order (sorted), with a lookup from id to position.
///
/// Positions index every per-study vector of the scorer.
#[derive(Clone, Debug, Default)]
pub struct StudyIndex {
    ids: Vec<StudyId>,
    positions: HashMap<StudyId, usize>,
}

impl StudyIndex {
    /// Builds the index; the ids are sorted and must be distinct.
    pub fn new(mut ids: Vec<StudyId>) -> Self {
        ids.sort();
        ids.dedup();
        let positions = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        Self { ids, positions }
    }

    /// The position of a study, if it is in the test set.
    pub fn position(&self, id: &str) -> Option<usize> {
        // Parsing first keeps the map's key type simple; ids that do not parse are not in it.
        StudyId::parse(id)
            .ok()
            .and_then(|id| self.positions.get(&id).copied())
    }

    /// All ids, sorted.
    pub fn ids(&self) -> &[StudyId] {
        &self.ids
    }

    /// Number of studies.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the test set has no study.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::{StudyId, StudyIndex};

    #[test]
    fn the_index_sorts_ids_and_finds_them() {
        let index = StudyIndex::new(vec![
            StudyId::parse("b").unwrap(),
            StudyId::parse("a").unwrap(),
        ]);
        assert_eq!(index.position("a"), Some(0));
        assert_eq!(index.position("b"), Some(1));
        assert_eq!(index.position("c"), None);
        assert_eq!(index.position("../a"), None);
    }

    #[test]
    fn ordinary_ids_parse() {
        for id in ["study_0001", "ct-17.a", "A", "9x"] {
            assert_eq!(StudyId::parse(id).map(|s| s.to_string()), Ok(id.to_owned()));
        }
    }

    #[test]
    fn ids_that_could_escape_a_folder_are_rejected() {
        for id in ["", "..", ".hidden", "_x", "a/b", "a\\b", "a b", "é"] {
            assert!(StudyId::parse(id).is_err(), "{id:?} was accepted");
        }
    }

    #[test]
    fn the_length_limit_is_64() {
        assert!(StudyId::parse(&"a".repeat(64)).is_ok());
        assert!(StudyId::parse(&"a".repeat(65)).is_err());
    }
}
