//! `cargo xtask ci`: what CI runs, in order: fmt check, check-arch, clippy with warnings denied, test.

use crate::{check_arch, test, util};
use anyhow::Result;
use std::process::ExitCode;
use std::time::Instant;

pub fn run() -> Result<ExitCode> {
    let start = Instant::now();
    println!("xtask: [1/4] cargo fmt --all -- --check");
    util::run_checked(util::cargo().args(["fmt", "--all", "--", "--check"]))?;

    println!("xtask: [2/4] check-arch");
    if !check_arch::run()? {
        return Ok(ExitCode::FAILURE);
    }

    println!("xtask: [3/4] cargo clippy --workspace --all-targets -- -D warnings");
    util::run_checked(util::cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;

    println!("xtask: [4/4] test");
    let code = test::run(&test::Options::new(
        Vec::new(),
        false,
        test::Skips::default(),
    ))?;
    if code == ExitCode::SUCCESS {
        println!(
            "xtask: ci passed in {}",
            util::fmt_duration(start.elapsed())
        );
    }
    Ok(code)
}
