//! `racegate`: parse the command line and run it.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = racegate::cli::Cli::parse();
    if !cli.command.logs_itself() {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_writer(std::io::stderr)
            .init();
    }
    std::process::ExitCode::from(racegate::cli::run(cli))
}
