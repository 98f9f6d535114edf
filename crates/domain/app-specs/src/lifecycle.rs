//! The app spec status lifecycle: draft → validated → generated → published, with edits sending a
//! spec back to draft, regeneration staying in place and unpublishing going back to generated.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecStatus {
    Draft,
    Validated,
    Generated,
    Published,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot move a spec from {from} to {to}")]
pub struct LifecycleError {
    pub from: &'static str,
    pub to: &'static str,
}

impl SpecStatus {
    pub const ALL: [SpecStatus; 4] = [
        SpecStatus::Draft,
        SpecStatus::Validated,
        SpecStatus::Generated,
        SpecStatus::Published,
    ];

    /// The stored / wire form (`draft`, `validated`, `generated`, `published`).
    pub fn as_str(&self) -> &'static str {
        match self {
            SpecStatus::Draft => "draft",
            SpecStatus::Validated => "validated",
            SpecStatus::Generated => "generated",
            SpecStatus::Published => "published",
        }
    }

    /// Parses the stored form (exact, lowercase).
    pub fn parse(s: &str) -> Option<Self> {
        SpecStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Allowed moves: `draft→validated`, `validated→generated`, `generated→published`; any status
    /// `→draft` (an edit); `validated→validated` and `generated→generated` (regeneration);
    /// `published→generated` (unpublish). Everything else is refused.
    pub fn can_transition(self, to: SpecStatus) -> bool {
        use SpecStatus::*;
        matches!(
            (self, to),
            (_, Draft)
                | (Draft, Validated)
                | (Validated, Generated)
                | (Generated, Published)
                | (Validated, Validated)
                | (Generated, Generated)
                | (Published, Generated)
        )
    }

    /// `to` if the move is allowed, else a [`LifecycleError`].
    pub fn transition(self, to: SpecStatus) -> Result<SpecStatus, LifecycleError> {
        if self.can_transition(to) {
            Ok(to)
        } else {
            Err(LifecycleError {
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }
}

impl fmt::Display for SpecStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::SpecStatus::{self, *};

    #[test]
    fn string_forms_round_trip() {
        for s in SpecStatus::ALL {
            assert_eq!(SpecStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.as_str().into())
            );
            assert_eq!(
                serde_json::from_str::<SpecStatus>(&format!("\"{s}\"")).unwrap(),
                s
            );
        }
        assert_eq!(SpecStatus::parse("Draft"), None);
        assert_eq!(SpecStatus::parse("archived"), None);
        assert_eq!(Published.to_string(), "published");
    }

    #[test]
    fn allowed_transitions() {
        let allowed = [
            (Draft, Validated),
            (Validated, Generated),
            (Generated, Published),
            (Draft, Draft),
            (Validated, Draft),
            (Generated, Draft),
            (Published, Draft),
            (Validated, Validated),
            (Generated, Generated),
            (Published, Generated),
        ];
        for from in SpecStatus::ALL {
            for to in SpecStatus::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(from.can_transition(to), expected, "{from} → {to}");
                assert_eq!(from.transition(to).is_ok(), expected, "{from} → {to}");
            }
        }
    }

    #[test]
    fn refused_transition_names_both_states() {
        let err = Draft.transition(Published).unwrap_err();
        assert_eq!((err.from, err.to), ("draft", "published"));
        assert_eq!(
            err.to_string(),
            "cannot move a spec from draft to published"
        );
        assert_eq!(
            Validated.transition(Published).unwrap_err().to_string(),
            "cannot move a spec from validated to published"
        );
        assert_eq!(Draft.transition(Validated).unwrap(), Validated);
    }
}
