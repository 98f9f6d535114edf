//! Configuration: the typed `Settings` tree and the layered loader (YAML files, environment, `.env`,
//! `--set` overrides). See `docs/configuration.md`.

mod dotenv;
pub mod loader;
pub mod settings;
mod tree;

pub use loader::{env_name, load, ConfigError, ConfigSources, Loaded};
pub use settings::Settings;
