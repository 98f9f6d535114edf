//! Escapers, one per output context. Templates never interpolate spec text raw: each `{{ … }}`
//! goes through the filter of its context (registered in `render::engine`), so text cannot turn
//! into markup, script, a URL scheme or a CSS declaration.

/// Text between tags: `& < > " '` become entities.
pub fn html_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A double-quoted attribute value (templates always quote attributes with `"`). The same
/// entities as [`html_text`], so a value can never end its attribute or open a tag.
pub fn html_attr(s: &str) -> String {
    html_text(s)
}

/// An in-app link. Only fragment URLs `#` and `#/…` are emitted (hash routing); anything else,
/// including every scheme such as `javascript:` or `https:`, becomes `#`. Characters outside a
/// small safe set are percent-encoded (UTF-8), so the result is safe in any attribute and
/// `decodeURIComponent(url(s)) == s` for every accepted `s`.
pub fn url(s: &str) -> String {
    if s == "#" || !s.starts_with("#/") {
        return "#".to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    out.push('#');
    for b in s[1..].bytes() {
        let safe = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'/' | b'-'
                    | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'*'
                    | b'('
                    | b')'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'+'
                    | b'$'
            );
        if safe {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// JSON text (as produced by `serde_json`) made safe inside `<script type="application/json">`:
/// `<`, `>`, `&`, U+2028 and U+2029 become `\uXXXX` escapes. In valid JSON these characters only
/// occur inside strings, where the escapes mean the same thing, so the text still parses to the
/// same value, and `</script>` (or `<!--`) can never appear.
pub fn js_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

/// A value serialised to JSON and escaped with [`js_json`].
pub fn js_json_value(value: &serde_json::Value) -> String {
    js_json(&value.to_string())
}

/// A CSS value from a spec, kept only when it is on a small whitelist: `#rgb`, `#rrggbb`, a
/// named colour (`[a-z]{1,30}`) or a plain length (`12`, `1.5rem`, `50%`, …). Anything else is
/// dropped (`None`).
pub fn css_value(s: &str) -> Option<String> {
    let s = s.trim();
    let hex_colour = s.len() == 4 || s.len() == 7;
    if hex_colour && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(s.to_ascii_lowercase());
    }
    if !s.is_empty() && s.len() <= 30 && s.bytes().all(|b| b.is_ascii_lowercase()) {
        return Some(s.to_owned());
    }
    is_length(s).then(|| s.to_owned())
}

fn is_length(s: &str) -> bool {
    let unit_start = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(unit_start);
    let mut parts = number.split('.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    let number_ok = (1..=4).contains(&whole.len())
        && parts.next().is_none()
        && fraction.is_none_or(|f| (1..=3).contains(&f.len()));
    number_ok && matches!(unit, "" | "px" | "rem" | "em" | "%" | "vh" | "vw")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    /// The inverse of [`html_text`] for the five entities it writes.
    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    #[test]
    fn html_text_escapes_the_five_characters() {
        assert_eq!(
            html_text(r#"<img src=x onerror="alert('1')">&"#),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
        assert_eq!(html_text("词语 ✓"), "词语 ✓");
        assert_eq!(html_attr("\"><script>"), "&quot;&gt;&lt;script&gt;");
    }

    #[test]
    fn urls_other_than_in_app_fragments_become_hash() {
        for bad in [
            "javascript:alert(1)",
            "https://example.com/",
            "//evil.example",
            "/quiz",
            "#javascript:alert(1)",
            "",
            " #/x",
            "data:text/html,<script>",
        ] {
            assert_eq!(url(bad), "#", "{bad:?}");
        }
        assert_eq!(url("#/quiz"), "#/quiz");
        assert_eq!(url("#/a b\"<>'&"), "#/a%20b%22%3C%3E%27%26");
        assert_eq!(url("#/首页"), "#/%E9%A6%96%E9%A1%B5");
    }

    #[test]
    fn js_json_cannot_close_the_script_block() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"t": "</script><script>alert(1)</script>\u2028&<!--"}"#)
                .unwrap();
        assert_eq!(v["t"].as_str().map(|t| t.contains('\u{2028}')), Some(true));
        let out = js_json_value(&v);
        assert!(!out.contains('<') && !out.contains('>') && !out.contains('&'));
        assert!(!out.contains('\u{2028}'));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap(), v);
    }

    #[test]
    fn css_values_outside_the_whitelist_are_dropped() {
        for good in [
            "#fff",
            "#1D4ED8",
            "red",
            "rebeccapurple",
            "12px",
            "1.5rem",
            "50%",
            "0",
        ] {
            assert!(css_value(good).is_some(), "{good:?}");
        }
        for bad in [
            "red; background: url(x)",
            "expression(alert(1))",
            "url(javascript:alert(1))",
            "#ggg",
            "#12345",
            "1e3px",
            "12 px",
            "Red",
            "",
            "}body{display:none",
            "12.px",
            "99999px",
            "var(--x)",
        ] {
            assert_eq!(css_value(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn html_text_round_trips_and_has_no_markup(s in any::<String>()) {
            let e = html_text(&s);
            prop_assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
            prop_assert_eq!(unescape(&e), s.clone());
            prop_assert_eq!(html_attr(&s), e);
        }

        #[test]
        fn js_json_never_contains_a_closing_tag(s in any::<String>()) {
            let json = serde_json::to_string(&s).unwrap();
            let e = js_json(&json);
            prop_assert!(!e.contains("</"));
            let bad = ['<', '\u{2028}', '\u{2029}'];
            prop_assert!(!e.contains(bad));
            prop_assert_eq!(serde_json::from_str::<String>(&e).unwrap(), s);
        }

        #[test]
        fn urls_are_fragments_of_safe_characters(s in any::<String>()) {
            for input in [s.clone(), format!("#/{s}")] {
                let u = url(&input);
                prop_assert!(u.starts_with('#'));
                prop_assert!(u.chars().all(|c| c.is_ascii_graphic()
                    && !matches!(c, '"' | '\'' | '<' | '>' | '&' | '\\' | '`')));
                prop_assert!(u == "#" || u.starts_with("#/"));
            }
        }

        #[test]
        fn css_values_are_inert(s in any::<String>()) {
            if let Some(v) = css_value(&s) {
                prop_assert!(v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '#' | '.' | '%')));
            }
        }
    }
}
