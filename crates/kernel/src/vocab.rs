//! Enumerations stored as lower-case strings (a `CHECK` constraint in the schema, the same text on
//! the wire), and the one such value every domain shares: the audience an app is written for.

/// Declares an enumeration whose stored and wire form is a fixed string per variant: serde,
/// `ALL`, `as_str`, an exact `parse`, `choices` for error messages, and `Display`. The calling
/// crate must depend on `serde` (the derives name it).
#[macro_export]
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $s)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored / wire form.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $s),+
                }
            }
            /// Parses the stored / wire form (exact).
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some($name::$variant),)+
                    _ => None,
                }
            }
            /// The accepted values, for error messages ("a, b or c").
            pub fn choices() -> String {
                let all: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                match all.split_last() {
                    Some((last, rest)) if !rest.is_empty() => {
                        format!("{} or {last}", rest.join(", "))
                    }
                    _ => all.join(""),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// The audience an app is written for: the generate request's `ageGroup`, a project's and a
    /// magic prompt's. Prompts and the offline generator adapt to it.
    AgeGroup {
        Elementary => "elementary",
        MiddleSchool => "middle_school",
        HighSchool => "high_school",
        University => "university",
    }
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_value_round_trips_through_text_and_json() {
        for a in AgeGroup::ALL {
            assert_eq!(AgeGroup::parse(a.as_str()), Some(*a));
            assert_eq!(a.to_string(), a.as_str());
            let wire = serde_json::to_string(a).unwrap();
            assert_eq!(wire, format!("\"{}\"", a.as_str()));
            assert_eq!(serde_json::from_str::<AgeGroup>(&wire).unwrap(), *a);
        }
        assert_eq!(AgeGroup::parse("Elementary"), None);
        assert_eq!(
            AgeGroup::choices(),
            "elementary, middle_school, high_school or university"
        );
    }
}
