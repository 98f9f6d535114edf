//! `cargo xtask openapi [--check]`: regenerates docs/openapi.json from `ingenio-server openapi`, or
//! fails when the committed file differs from what the server describes.

use crate::env::Env;
use crate::server::server_command;
use crate::util;
use anyhow::{bail, Context, Result};
use std::process::{ExitCode, Stdio};

const PATH: &str = "docs/openapi.json";

pub fn run(profile_flag: Option<&str>, check: bool) -> Result<ExitCode> {
    let env = Env::load()?;
    let profile = env.profile(profile_flag);
    let mut cmd = server_command(&env, &profile, &["openapi"]);
    let output = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .context("failed to run ingenio-server openapi")?;
    if !output.status.success() {
        bail!("ingenio-server openapi failed ({})", output.status);
    }
    let fresh = normalize(&output.stdout).context("ingenio-server openapi printed invalid JSON")?;
    let path = util::root().join(PATH);

    if check {
        let committed = std::fs::read(&path).with_context(|| format!("failed to read {PATH}"))?;
        let committed =
            normalize(&committed).with_context(|| format!("{PATH} is not valid JSON"))?;
        if committed == fresh {
            println!("xtask: {PATH} is up to date");
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("xtask: {PATH} is stale; regenerate it with `cargo xtask openapi` and commit it");
        return Ok(ExitCode::FAILURE);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).context("failed to create docs")?;
    }
    std::fs::write(&path, &fresh).with_context(|| format!("failed to write {PATH}"))?;
    let paths = serde_json::from_str::<serde_json::Value>(&fresh)
        .ok()
        .and_then(|v| v.get("paths").and_then(|p| p.as_object()).map(|p| p.len()))
        .unwrap_or(0);
    println!("xtask: wrote {PATH} ({paths} paths)");
    Ok(ExitCode::SUCCESS)
}

/// Canonical text of a JSON document: pretty-printed, keys sorted, one trailing newline.
fn normalize(bytes: &[u8]) -> Result<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).context("failed to parse JSON")?;
    let mut text = serde_json::to_string_pretty(&value).context("failed to format JSON")?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn normalization_ignores_formatting_and_key_order_but_not_content() {
        let a = normalize(br#"{"b":1,"a":{"y":2,"x":[1,2]}}"#).unwrap();
        let b = normalize(b"{\n  \"a\": {\"x\": [1, 2], \"y\": 2},\n  \"b\": 1\n}").unwrap();
        assert_eq!(a, b);
        assert!(a.ends_with("}\n"));
        let c = normalize(br#"{"b":1,"a":{"y":2,"x":[2,1]}}"#).unwrap();
        assert_ne!(a, c);
        assert!(normalize(b"not json").is_err());
    }
}
