//! The list of validation problems a participant sees when a submission is rejected.

use std::fmt;

/// Every problem found in a submission, in the order found, capped at [`Problems::MAX`].
///
/// Messages name the file, the line or entry and what was expected. They are built only
/// from the submission itself and the public test-set description (study ids and image
/// geometry), never from the hidden annotations, so no label can leak through them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems {
    messages: Vec<String>,
    omitted: usize,
}

impl Problems {
    /// At most this many messages are kept; the rest are only counted.
    pub const MAX: usize = 50;

    /// Records one problem.
    pub fn push(&mut self, message: impl Into<String>) {
        if self.messages.len() < Self::MAX {
            self.messages.push(message.into());
        } else {
            self.omitted += 1;
        }
    }

    /// Appends every problem of `other`.
    pub fn extend(&mut self, other: Problems) {
        self.omitted += other.omitted;
        for message in other.messages {
            self.push(message);
        }
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The kept messages.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    /// How many problems were found beyond the kept ones.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// The messages as owned lines, with a last line counting the omitted ones if any.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.messages.clone();
        if self.omitted > 0 {
            lines.push(format!("... and {} more problems", self.omitted));
        }
        lines
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

/// Joins at most `limit` names into `a, b, c` and says how many more there are.
pub(crate) fn list_some<'a>(names: impl ExactSizeIterator<Item = &'a str>, limit: usize) -> String {
    let total = names.len();
    let shown: Vec<&str> = names.take(limit).collect();
    let mut text = shown.join(", ");
    if total > limit {
        text.push_str(&format!(" and {} more", total - limit));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{Problems, list_some};

    #[test]
    fn problems_beyond_fifty_are_counted_not_kept() {
        let mut problems = Problems::default();
        for i in 0..73 {
            problems.push(format!("problem {i}"));
        }
        assert_eq!(problems.messages().len(), 50);
        assert_eq!(problems.omitted(), 23);
        assert_eq!(
            problems.lines().last().map(String::as_str),
            Some("... and 23 more problems")
        );
    }

    #[test]
    fn long_lists_of_names_are_shortened() {
        let names = ["a", "b", "c", "d"];
        assert_eq!(list_some(names.iter().copied(), 2), "a, b and 2 more");
        assert_eq!(list_some(names.iter().copied(), 4), "a, b, c, d");
    }
}
