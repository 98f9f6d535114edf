//! `cargo xtask`: the project's developer and operator tasks (run, test, migrate, seed, bench, backup, ...).

mod backup;
mod bench;
mod browser;
mod check_arch;
mod ci;
mod dotenv;
mod env;
mod fuzz_api;
mod http;
mod load;
mod openapi;
mod preview_e2e;
mod run;
mod server;
mod server_process;
mod services;
mod test;
mod test_server;
mod util;
mod verify_renderers;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Project tasks for the Ingenio backend. Run from anywhere inside the repository.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    /// Server profile for the tasks that start or call the server (default: INGENIO_PROFILE,
    /// then SPRING_PROFILES_ACTIVE, then `dev`).
    #[arg(long, global = true)]
    profile: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server, bringing up PostgreSQL (and using Redis) as needed.
    Run {
        /// Build and run the release binary.
        #[arg(long)]
        release: bool,
        /// Extra arguments for `ingenio-server serve` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Make sure PostgreSQL and Redis answer, check the architecture, run every test, then the
    /// API fuzzing step (`fuzz-api`), the browser end-to-end step and `verify-renderers --samples 2`.
    Test {
        /// Skip the browser end-to-end step (also INGENIO_SKIP_BROWSER=1). CI runs it.
        #[arg(long)]
        no_browser: bool,
        /// Skip schemathesis against the OpenAPI document (also INGENIO_SKIP_FUZZ=1). CI runs it.
        #[arg(long)]
        no_fuzz: bool,
        /// Skip `verify-renderers` (npm builds; also INGENIO_SKIP_NPM=1). CI runs it.
        #[arg(long)]
        no_npm: bool,
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Check layering rules: domain crates free of infrastructure, `//!` headers, crate READMEs.
    CheckArch,
    /// Apply pending migrations (`ingenio-server db migrate`).
    Migrate,
    /// Roll back to a migration version, e.g. `005` (`ingenio-server db rollback`).
    Rollback {
        /// Target version: every migration above it is rolled back.
        version: String,
    },
    /// Show applied and pending migrations (`ingenio-server db status`).
    Status,
    /// Create the configured database if it does not exist (`ingenio-server db create`).
    DbCreate,
    /// Load the curated magic prompts, idempotently (`ingenio-server db seed`).
    Seed,
    /// User administration, passed through to `ingenio-server user ...`.
    User {
        /// e.g. `create --username U --email E --password-stdin --admin`
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// Write docs/openapi.json from `ingenio-server openapi`.
    Openapi {
        /// Fail if the committed docs/openapi.json is stale instead of writing it.
        #[arg(long)]
        check: bool,
    },
    /// Dump the configured database to `<out>/<db>_<timestamp>.sql.gz` and prune old dumps.
    Backup {
        /// Directory for the dump (default `backups/`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Restore a dump made by `backup` (or any plain SQL dump, gzipped or not) into the configured database.
    Restore {
        /// The `.sql.gz` or `.sql` file.
        file: PathBuf,
    },
    /// Build the release server and measure memory, latency and throughput.
    Bench {
        /// Connections of the closed-loop HTTP runs and of `pgbench -S`.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Seconds each closed-loop run (and pgbench) lasts.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Requests per second of the open-loop `GET /api/v1/auth/me` run.
        #[arg(long, default_value_t = 2000)]
        rate: u32,
        /// Seconds the open-loop run lasts.
        #[arg(long, default_value_t = 10)]
        open_seconds: u64,
        /// Only the HTTP and pgbench figures (skip render + zip and generation jobs).
        #[arg(long)]
        http_only: bool,
        /// Measure this server binary instead of building the release server (e.g. another
        /// commit's build, for a side-by-side comparison); the report goes to
        /// `target/bench/latest-server.json`.
        #[arg(long)]
        server: Option<PathBuf>,
        /// A setting for the measured server, `key=value` (repeatable).
        #[arg(long = "set")]
        sets: Vec<String>,
    },
    /// Everything CI runs: fmt check, check-arch, clippy, test.
    Ci,
    /// Serve a rendered static-web app and prove it in chromium: pages, forms, Lighthouse.
    BrowserCheck {
        /// Directory of the rendered app (holding index.html).
        #[arg(long)]
        dir: PathBuf,
        /// The AppSpec JSON the app was rendered from.
        #[arg(long)]
        spec: PathBuf,
        /// Lowest accepted Lighthouse accessibility and best-practices score.
        #[arg(long, default_value_t = browser::DEFAULT_THRESHOLD)]
        threshold: u8,
        /// Skip Lighthouse (preview checks only).
        #[arg(long)]
        no_lighthouse: bool,
    },
    /// Start the built server on a fresh database, render every sample spec and two
    /// offline-generator apps through its API, and prove each live preview in chromium
    /// (pages, forms, records, console) and with Lighthouse.
    BrowserE2e {
        /// Run `cargo build -p ingenio-server` even when target/debug/ingenio-server exists.
        #[arg(long)]
        build: bool,
        /// Lowest accepted Lighthouse accessibility and best-practices score.
        #[arg(long, default_value_t = browser::DEFAULT_THRESHOLD)]
        threshold: u8,
        /// Time limit of the whole step, in seconds.
        #[arg(long, default_value_t = preview_e2e::DEFAULT_BUDGET.as_secs())]
        budget_secs: u64,
    },
    /// Prove the browser checks pass on the fixture app and fail on broken copies of it.
    BrowserSelfTest,
    /// Start the built server on a fresh database and run schemathesis over /api/api-docs:
    /// every operation, anonymously and authenticated; no 5xx, every status, content type and
    /// body as documented.
    FuzzApi {
        /// Run `cargo build -p ingenio-server` even when target/debug/ingenio-server exists.
        #[arg(long)]
        build: bool,
        /// Test cases per operation.
        #[arg(long, default_value_t = fuzz_api::DEFAULT_MAX_EXAMPLES)]
        max_examples: u32,
        /// Time limit of each of the three runs, in seconds.
        #[arg(long, default_value_t = fuzz_api::DEFAULT_RUN_SECS)]
        run_secs: u64,
    },
    /// Render the sample specs with every renderer and `npm run build` each source project
    /// (one shared dependency install per renderer version, under target/verify-renderers/).
    VerifyRenderers {
        /// Only this renderer (e.g. `react-next`).
        #[arg(long)]
        renderer: Option<String>,
        /// How many samples per renderer (default: all).
        #[arg(long)]
        samples: Option<usize>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let profile = cli.profile.as_deref();
    let result = match cli.command {
        Command::Run { release, args } => run::run(profile, release, &args),
        Command::Test {
            no_browser,
            no_fuzz,
            no_npm,
            args,
        } => test::run(&test::Options::new(
            args,
            true,
            test::Skips {
                browser: no_browser,
                fuzz: no_fuzz,
                npm: no_npm,
            },
        )),
        Command::CheckArch => check_arch::run().map(util::ok_or_failure),
        Command::Migrate => server::db(profile, &["db", "migrate"]),
        Command::Rollback { version } => server::rollback(profile, &version),
        Command::Status => server::db(profile, &["db", "status"]),
        Command::DbCreate => server::db(profile, &["db", "create"]),
        Command::Seed => server::db(profile, &["db", "seed"]),
        Command::User { args } => server::user(profile, &args),
        Command::Openapi { check } => openapi::run(profile, check),
        Command::Backup { out } => backup::backup(profile, out.as_deref()),
        Command::Restore { file } => backup::restore(profile, &file),
        Command::Bench {
            concurrency,
            seconds,
            rate,
            open_seconds,
            http_only,
            server,
            sets,
        } => bench::run(&bench::Options {
            concurrency,
            seconds,
            rate,
            open_seconds,
            http_only,
            server,
            sets,
        }),
        Command::Ci => ci::run(),
        Command::BrowserCheck {
            dir,
            spec,
            threshold,
            no_lighthouse,
        } => browser::browser_check(&dir, &spec, threshold, !no_lighthouse),
        Command::BrowserSelfTest => browser::self_test(),
        Command::FuzzApi {
            build,
            max_examples,
            run_secs,
        } => fuzz_api::run_standalone(&fuzz_api::Options {
            build,
            max_examples,
            run_time: std::time::Duration::from_secs(run_secs),
        }),
        Command::BrowserE2e {
            build,
            threshold,
            budget_secs,
        } => preview_e2e::run_standalone(&preview_e2e::Options {
            build,
            threshold,
            budget: std::time::Duration::from_secs(budget_secs),
        }),
        Command::VerifyRenderers { renderer, samples } => {
            verify_renderers::run(&verify_renderers::Options { renderer, samples })
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
