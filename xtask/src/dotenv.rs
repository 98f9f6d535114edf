//! A small `.env` parser (same rules as the server's): `KEY=VALUE` lines, optional `export `, `#`
//! comments, single quotes (literal) and double quotes (`\n`, `\t`, `\"`, `\\` escapes), no expansion.

/// Parses `.env` text into `(key, value)` pairs in file order; an error names the 1-based line.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
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
            return Err(format!("line {line_no}: expected KEY=VALUE"));
        };
        let key = key.trim();
        if !valid_key(key) {
            return Err(format!("line {line_no}: invalid variable name {key:?}"));
        }
        let value = parse_value(rest.trim_start()).map_err(|m| format!("line {line_no}: {m}"))?;
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
        let end = body.find('\'').ok_or("unterminated single quote")?;
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
    let bytes = rest.as_bytes();
    let end = (1..bytes.len())
        .find(|&i| bytes[i] == b'#' && bytes[i - 1].is_ascii_whitespace())
        .unwrap_or(rest.len());
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
    fn parses_the_guide_style_file() {
        let text = r#"
# comment
DB_HOST=localhost
export DB_PORT=5433
DB_PASSWORD="p#ss \"word\"\n" # trailing comment
JWT_SECRET='lit$eral\n'
EMPTY=
URL=http://x/#frag # note
"#;
        let vars = parse(text).unwrap();
        let get = |k: &str| {
            vars.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("DB_HOST"), Some("localhost"));
        assert_eq!(get("DB_PORT"), Some("5433"));
        assert_eq!(get("DB_PASSWORD"), Some("p#ss \"word\"\n"));
        assert_eq!(get("JWT_SECRET"), Some("lit$eral\\n"));
        assert_eq!(get("EMPTY"), Some(""));
        assert_eq!(get("URL"), Some("http://x/#frag"));
        assert_eq!(vars.len(), 6);
    }

    #[test]
    fn rejects_broken_lines_with_their_number() {
        assert!(parse("A=1\nnot a pair\n")
            .unwrap_err()
            .starts_with("line 2"));
        assert!(parse("A=\"open\n").unwrap_err().contains("unterminated"));
        assert!(parse("1A=x").unwrap_err().contains("invalid variable name"));
        assert!(parse("A='x' y")
            .unwrap_err()
            .contains("after the closing quote"));
    }
}
