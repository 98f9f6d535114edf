//! The app spec status lifecycle: draft → validated → generated → published, with edits sending a
//! spec back to draft, regeneration staying in place and unpublishing going back to generated.
//! Every writer of a status goes through these rules: the service and the pipeline ask them
//! before writing, and the storage adapters refuse a write they do not allow (a guarded
//! `UPDATE … WHERE status = ANY(…)` in PostgreSQL).

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

    /// Whether new content (a new version) may be written with status `with` over a spec at
    /// `self`. New content is an edit, so it starts over at `draft` from any status; it may enter
    /// as `validated` when it has just passed the rule pass and the quality gate (a generated
    /// version: the edit and the validation in one step). Never as `generated` or `published`:
    /// those need code built from, or a project published for, that very content.
    pub fn can_write_version(self, with: SpecStatus) -> bool {
        // an edit (→ draft), then at most the validation step (draft → validated)
        self.can_transition(SpecStatus::Draft)
            && (with == SpecStatus::Draft
                || (with == SpecStatus::Validated && SpecStatus::Draft.can_transition(with)))
    }

    /// `with` if new content may be written with it over a spec at `self`.
    pub fn write_version(self, with: SpecStatus) -> Result<SpecStatus, LifecycleError> {
        if self.can_write_version(with) {
            Ok(with)
        } else {
            Err(LifecycleError {
                from: self.as_str(),
                to: with.as_str(),
            })
        }
    }

    /// Whether a new spec (version 1) may start at `self`: as a draft, or validated when it has
    /// passed the rule pass and the quality gate (a generation).
    pub fn can_start(self) -> bool {
        SpecStatus::Draft.can_write_version(self)
    }

    /// The statuses from which a spec may move to `to` (for guarded updates).
    pub fn sources_of(to: SpecStatus) -> Vec<SpecStatus> {
        SpecStatus::ALL
            .into_iter()
            .filter(|s| s.can_transition(to))
            .collect()
    }

    /// The statuses over which new content may be written with status `with`.
    pub fn version_sources_of(with: SpecStatus) -> Vec<SpecStatus> {
        SpecStatus::ALL
            .into_iter()
            .filter(|s| s.can_write_version(with))
            .collect()
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
    fn new_content_enters_as_draft_or_validated_from_any_status() {
        for from in SpecStatus::ALL {
            assert!(from.can_write_version(Draft), "{from}");
            assert!(from.can_write_version(Validated), "{from}");
            assert!(!from.can_write_version(Generated), "{from}");
            assert!(!from.can_write_version(Published), "{from}");
        }
        assert_eq!(
            Published.write_version(Generated).unwrap_err().to_string(),
            "cannot move a spec from published to generated"
        );
        assert!(Draft.can_start() && Validated.can_start());
        assert!(!Generated.can_start() && !Published.can_start());
        assert_eq!(
            SpecStatus::version_sources_of(Draft),
            SpecStatus::ALL.to_vec()
        );
        assert!(SpecStatus::version_sources_of(Published).is_empty());
        assert_eq!(SpecStatus::sources_of(Published), vec![Generated]);
        assert_eq!(SpecStatus::sources_of(Validated), vec![Draft, Validated]);
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
