//! Three-valued (Kleene) truth for evaluating against incomplete evidence.
//!
//! A request context built from `CloudTrail` cannot know every key (a
//! principal's tags, its organization), so every match in the evaluator is
//! `True`, `False` or `Unknown`, and `Unknown` propagates with Kleene logic:
//! `False AND Unknown = False`, `True OR Unknown = True`. Nothing here knows
//! about policies.

use serde::Serialize;

/// A truth value that may be unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    /// Kleene conjunction.
    #[must_use]
    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }

    /// Kleene disjunction.
    #[must_use]
    pub fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }

    /// Conjunction of all items; `True` when there are none.
    pub fn all(items: impl IntoIterator<Item = Tri>) -> Tri {
        items.into_iter().fold(Tri::True, Tri::and)
    }

    /// Disjunction of all items; `False` when there are none.
    pub fn any(items: impl IntoIterator<Item = Tri>) -> Tri {
        items.into_iter().fold(Tri::False, Tri::or)
    }
}

/// Kleene negation: unknown stays unknown.
impl std::ops::Not for Tri {
    type Output = Tri;

    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

impl From<bool> for Tri {
    fn from(value: bool) -> Self {
        if value { Tri::True } else { Tri::False }
    }
}

#[cfg(test)]
mod tests {
    use super::Tri::{False, True, Unknown};
    use super::*;

    #[test]
    fn kleene_tables() {
        assert_eq!(False.and(Unknown), False);
        assert_eq!(True.and(Unknown), Unknown);
        assert_eq!(True.or(Unknown), True);
        assert_eq!(False.or(Unknown), Unknown);
        assert_eq!(!Unknown, Unknown);
        assert_eq!(!True, False);
        assert_eq!(Tri::all([]), True);
        assert_eq!(Tri::any([]), False);
        assert_eq!(Tri::any([False, Unknown]), Unknown);
        assert_eq!(Tri::all([True, Unknown, False]), False);
    }
}
