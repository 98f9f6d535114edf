//! Moderation rules that need no storage: comment text (trimmed, not blank, bounded in
//! characters), the blocked-word check, report reasons and the hide threshold.
//!
//! Blocked words are matched on a folded copy of the text: NFKC (full-width letters and
//! compatibility forms become their plain forms), lower case, and with every character that is
//! not a letter or a digit removed. So `B A D`, `b.a.d`, `ＢＡＤ` and `b_a_d` all match the word
//! `bad`, and Chinese words match however they are spaced. The cost is that a word also matches
//! across word boundaries and inside longer words (`ass` in `class`): list words that are not
//! parts of common words. Only the verdict leaves this module, never the word that matched.

use crate::errors::SocialError;
use crate::models::MAX_REASON_CHARS;
use unicode_normalization::UnicodeNormalization;

/// Default longest comment, in characters.
pub const DEFAULT_COMMENT_MAX_CHARS: usize = 1000;
/// Default number of distinct reporters that hides an item.
pub const DEFAULT_REPORT_THRESHOLD: u32 = 3;

/// Folds text for matching: NFKC, lower case, letters and digits only.
pub fn fold(text: &str) -> String {
    text.nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// The configured blocked words, folded once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockedWords {
    folded: Vec<String>,
}

impl BlockedWords {
    /// Folds every word; words that fold to nothing (punctuation only) are dropped.
    pub fn new<I, S>(words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut folded: Vec<String> = words
            .into_iter()
            .map(|w| fold(w.as_ref()))
            .filter(|w| !w.is_empty())
            .collect();
        folded.sort();
        folded.dedup();
        Self { folded }
    }

    /// Words from a file's text: one per line, `#` starts a comment line, blank lines skipped.
    pub fn parse_lines(text: &str) -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.folded.len()
    }

    pub fn is_empty(&self) -> bool {
        self.folded.is_empty()
    }

    /// Whether `text` contains a blocked word (after folding both).
    pub fn blocks(&self, text: &str) -> bool {
        if self.folded.is_empty() {
            return false;
        }
        let t = fold(text);
        self.folded.iter().any(|w| t.contains(w.as_str()))
    }
}

/// A comment's text: trimmed, not blank, at most `max_chars` characters, no blocked word.
pub fn comment_text(
    raw: &str,
    max_chars: usize,
    blocked: &BlockedWords,
) -> Result<String, SocialError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(SocialError::invalid("content", "must not be blank"));
    }
    if t.chars().count() > max_chars {
        return Err(SocialError::invalid(
            "content",
            format!("must be at most {max_chars} characters"),
        ));
    }
    if blocked.blocks(t) {
        return Err(SocialError::BlockedContent);
    }
    Ok(t.to_owned())
}

/// A report reason or admin note: trimmed, 1–500 characters when `required`, else may be empty.
pub fn reason_text(
    field: &str,
    raw: Option<&str>,
    required: bool,
) -> Result<Option<String>, SocialError> {
    let t = raw.map(str::trim).unwrap_or_default();
    if t.is_empty() {
        return if required {
            Err(SocialError::invalid(field, "must not be blank"))
        } else {
            Ok(None)
        };
    }
    if t.chars().count() > MAX_REASON_CHARS {
        return Err(SocialError::invalid(
            field,
            format!("must be at most {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(Some(t.to_owned()))
}

/// Whether `distinct_reporters` open reports hide an item under `threshold` (0 is read as 1).
pub fn reaches_threshold(distinct_reporters: i64, threshold: u32) -> bool {
    distinct_reporters >= i64::from(threshold.max(1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn words() -> BlockedWords {
        BlockedWords::new(["Bad", "笨蛋", "  ", "!!!"])
    }

    #[test]
    fn folding_catches_case_width_and_separators() {
        let w = words();
        assert_eq!(w.len(), 2, "punctuation-only words are dropped");
        for text in [
            "this is bad",
            "B A D",
            "b.a.d!",
            "ＢＡＤ",
            "b_a-d",
            "你是笨 蛋",
            "笨。蛋",
        ] {
            assert!(w.blocks(text), "{text}");
        }
        for text in ["good job", "b a n d", "很棒"] {
            assert!(!w.blocks(text), "{text}");
        }
    }

    #[test]
    fn comments_are_trimmed_bounded_in_chars_and_checked() {
        let w = words();
        assert_eq!(comment_text("  好看！ ", 10, &w).unwrap(), "好看！");
        assert!(matches!(
            comment_text(" \n\t ", 10, &w),
            Err(SocialError::Invalid { .. })
        ));
        // ten Chinese characters are 30 bytes but 10 characters
        assert!(comment_text(&"好".repeat(10), 10, &w).is_ok());
        assert!(comment_text(&"好".repeat(11), 10, &w).is_err());
        let e = comment_text("so BAD", 10, &w).unwrap_err();
        assert!(matches!(e, SocialError::BlockedContent));
        assert!(!e.to_string().to_lowercase().contains("bad"), "{e}");
    }

    #[test]
    fn threshold() {
        assert!(!reaches_threshold(2, 3));
        assert!(reaches_threshold(3, 3));
        assert!(reaches_threshold(1, 0));
    }

    proptest! {
        /// Any Unicode comment either passes (trimmed, within the limit) or is refused; folding
        /// never panics, and a passing text never contains a blocked word.
        #[test]
        fn any_text_is_judged_without_panicking(text in "\\PC{0,60}", max in 1usize..40) {
            let w = words();
            match comment_text(&text, max, &w) {
                Ok(t) => {
                    prop_assert_eq!(t.as_str(), text.trim());
                    prop_assert!(t.chars().count() <= max);
                    prop_assert!(!w.blocks(&t));
                }
                Err(SocialError::Invalid { .. }) | Err(SocialError::BlockedContent) => {}
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }

        /// A blocked word survives any separators inserted between its characters.
        #[test]
        fn separators_do_not_hide_a_word(seps in proptest::collection::vec("[ .,_\\-！。·]{0,3}", 3)) {
            let text = format!("x{}b{}a{}d", seps[0], seps[1], seps[2]);
            prop_assert!(words().blocks(&text));
        }
    }
}
