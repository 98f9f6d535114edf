//! The `ingenio-server` binary: parses the command line, loads configuration once, starts
//! telemetry and runs the chosen command (the HTTP server by default).

use clap::Parser as _;
use ingenio_server::cli::{self, Cli, Command};
use ingenio_server::{telemetry, Application};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse_from(cli::normalize_args(std::env::args()));
    let (settings, warnings) = match cli::load_settings(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let command = cli.command.unwrap_or(Command::Serve);
        if let Command::Openapi = command {
            println!("{}", ingenio_server::openapi::json()?);
            return Ok(());
        }
        let telemetry = telemetry::init(&settings.logging, &settings.ingenio.otel)?;
        for w in &warnings {
            tracing::warn!("{w}");
        }
        let outcome = match command {
            Command::Serve => serve(settings, telemetry.log_control.clone()).await,
            Command::Db { command } => cli::run_db(&settings, &command).await,
            Command::User { command } => cli::run_user(&settings, &command).await,
            Command::Openapi => Ok(()),
        };
        if let Err(e) = &outcome {
            tracing::error!(error = format!("{e:#}"), "command failed");
        }
        telemetry.shutdown();
        outcome
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    settings: ingenio_server::config::Settings,
    log_control: telemetry::LogControl,
) -> anyhow::Result<()> {
    let profile = settings.profile.clone();
    let app = Application::build(settings, log_control).await?;
    tracing::info!(port = app.port(), profile = %profile, "ingenio-server listening");
    app.run_until_stopped().await?;
    tracing::info!("ingenio-server stopped");
    Ok(())
}
