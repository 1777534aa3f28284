//! The small vocabularies of the phantom: study categories, size profiles and splits,
//! each spelled as the lowercase word that command lines and `labels.csv` use.

use std::fmt;
use std::str::FromStr;

/// A word that names none of a vocabulary's values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {got:?}: expected one of {expected}")]
pub struct ParseError {
    what: &'static str,
    got: String,
    expected: &'static str,
}

/// Implements `as_str`, `Display` and `FromStr` for a fieldless enum from one word table.
macro_rules! words {
    ($ty:ident, $what:literal, $expected:literal, { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            /// The lowercase word for this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word),+
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = ParseError;

            fn from_str(s: &str) -> Result<Self, ParseError> {
                match s {
                    $($word => Ok(Self::$variant),)+
                    _ => Err(ParseError { what: $what, got: s.to_owned(), expected: $expected }),
                }
            }
        }
    };
}

/// What a study shows: the positive class `covid` or one of the negative subgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// COVID-19 pneumonia: bilateral peripheral ground glass; the only category with lesion masks.
    Covid,
    /// No pathology in the lungs.
    Normal,
    /// Lobar or segmental bacterial pneumonia with consolidation and atelectasis.
    Pneumonia,
    /// Solid lung nodules and masses.
    Nodules,
}

words!(Category, "category", "covid, normal, pneumonia, nodules", {
    Covid => "covid",
    Normal => "normal",
    Pneumonia => "pneumonia",
    Nodules => "nodules",
});

impl Category {
    /// Every category, positive class first.
    pub const ALL: [Category; 4] = [Self::Covid, Self::Normal, Self::Pneumonia, Self::Nodules];
}

/// How large the generated volumes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Small volumes (128x128 in-plane, at most 64 slices) for demos, CI and CPU training.
    Demo,
    /// Clinical geometry: 512x512 in-plane at 0.6-0.9 mm, slice spacing 1-8 mm.
    Realistic,
}

words!(Profile, "profile", "demo, realistic", {
    Demo => "demo",
    Realistic => "realistic",
});

/// Which collection a study belongs to. Each split draws from its own seed space, so no
/// training or validation study can ever reproduce a test study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The hidden test set (reference composition of the paper).
    Test,
    /// Studies for training models.
    Train,
    /// Studies for model selection.
    Val,
}

words!(Split, "split", "test, train, val", {
    Test => "test",
    Train => "train",
    Val => "val",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_through_display_and_from_str() {
        for c in Category::ALL {
            assert_eq!(c.to_string().parse::<Category>(), Ok(c));
        }
        for p in [Profile::Demo, Profile::Realistic] {
            assert_eq!(p.to_string().parse::<Profile>(), Ok(p));
        }
        for s in [Split::Test, Split::Train, Split::Val] {
            assert_eq!(s.as_str().parse::<Split>(), Ok(s));
        }
    }

    #[test]
    fn an_unknown_word_names_the_choices() {
        let err = "Covid".parse::<Category>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown category \"Covid\": expected one of covid, normal, pneumonia, nodules"
        );
    }
}
