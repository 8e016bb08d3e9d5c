//! `racegate-server`: parse flags, set up logging, bind, serve.

use std::process::ExitCode;

use clap::Parser;
use racegate_server::{serve, ServerConfig};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let config = ServerConfig::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = racegate_server::bind(config.addr)
        .and_then(|listener| serve(&config, listener, CancellationToken::new(), true));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("racegate-server: {e}");
            ExitCode::from(2)
        }
    }
}
