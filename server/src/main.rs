//! `racegate-server`: parse flags and run the server.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let config = racegate_server::ServerConfig::parse();
    std::process::ExitCode::from(racegate_server::run_cli(&config))
}
