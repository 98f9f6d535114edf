//! A small `.env` parser: `KEY=VALUE` lines, optional `export ` prefix, `#` comments, single quotes
//! (literal) and double quotes (with `\n`, `\t`, `\"`, `\\` escapes). No variable expansion.

/// Parses the text of a `.env` file into `(key, value)` pairs in file order.
/// On error returns the 1-based line number and what is wrong with it.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .or_else(|| line.strip_prefix("export\t"))
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((key, rest)) = line.split_once('=') else {
            return Err((line_no, "expected KEY=VALUE".to_owned()));
        };
        let key = key.trim();
        if !valid_key(key) {
            return Err((line_no, format!("invalid variable name {key:?}")));
        }
        let value = parse_value(rest.trim_start()).map_err(|m| (line_no, m))?;
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn parse_value(rest: &str) -> Result<String, String> {
    if let Some(body) = rest.strip_prefix('\'') {
        let Some(end) = body.find('\'') else {
            return Err("unterminated single quote".to_owned());
        };
        check_trailing(&body[end + 1..])?;
        return Ok(body[..end].to_owned());
    }
    if let Some(body) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    check_trailing(&body[i + 1..])?;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 'r')) => value.push('\r'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '$')) => value.push('$'),
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => value.push('\\'),
                },
                other => value.push(other),
            }
        }
        return Err("unterminated double quote".to_owned());
    }
    // Unquoted: an inline comment starts at a `#` preceded by whitespace.
    let mut end = rest.len();
    let bytes = rest.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            end = i;
            break;
        }
    }
    Ok(rest[..end].trim().to_owned())
}

fn check_trailing(tail: &str) -> Result<(), String> {
    let tail = tail.trim();
    if tail.is_empty() || tail.starts_with('#') {
        Ok(())
    } else {
        Err(format!("unexpected text after the closing quote: {tail:?}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_quotes_comments_and_export() {
        let text = r#"
# a comment
DB_HOST=localhost
export DB_PORT=5433
DB_PASSWORD="p#ss \"word\"\n" # trailing comment
JWT_SECRET='literal $x \n'
EMPTY=
SPACED =  value with spaces   # comment
HASH=abc#def
"#;
        let pairs = parse(text).unwrap();
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("DB_HOST"), Some("localhost"));
        assert_eq!(get("DB_PORT"), Some("5433"));
        assert_eq!(get("DB_PASSWORD"), Some("p#ss \"word\"\n"));
        assert_eq!(get("JWT_SECRET"), Some("literal $x \\n"));
        assert_eq!(get("EMPTY"), Some(""));
        assert_eq!(get("SPACED"), Some("value with spaces"));
        assert_eq!(get("HASH"), Some("abc#def"));
        assert_eq!(pairs.len(), 7);
    }

    #[test]
    fn reports_the_bad_line() {
        assert_eq!(parse("A=1\nnot a pair\n").unwrap_err().0, 2);
        assert_eq!(parse("A=\"open\n").unwrap_err().0, 1);
        assert_eq!(parse("1A=x").unwrap_err().0, 1);
        assert_eq!(parse("A='x' junk").unwrap_err().0, 1);
    }
}
