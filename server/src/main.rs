//! `racegate-server`: parse flags and run the server.

use clap::Parser;

// A chat turn allocates on one thread and frees on another (a job is built on
// a runtime worker and dropped on its connection's thread); glibc's malloc
// took 11-14 % of the server's CPU on /api/chat, mimalloc about 4 %.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let config = racegate_server::ServerConfig::parse();
    std::process::ExitCode::from(racegate_server::run_cli(&config))
}
