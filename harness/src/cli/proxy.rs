//! `racegate proxy`: the fault proxy on its own, in front of any client (a
//! user's own test suite, curl, another load tool). It runs until Ctrl-C,
//! SIGTERM or `--for`, then prints what it injected.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use super::{EXIT_PASS, EXIT_USAGE};
use crate::console::warn;
use crate::duration::parse_duration;
use crate::fire::resolve_target;
use crate::nemesis::proxy::{Proxy, ProxyFault};

/// `racegate proxy --listen 127.0.0.1:8081 --upstream http://127.0.0.1:8080 --fault reset=5%`
#[derive(Debug, Clone, Args)]
pub struct ProxyArgs {
    /// Where clients connect (loopback unless --allow-remote; port 0 picks a free one, printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Where connections go: http://HOST:PORT (or HOST:PORT).
    #[arg(long)]
    pub upstream: String,
    /// A fault (repeatable): latency=20ms[~10ms], reset=5%, stall=2%, slice=1..64B, bandwidth=256KiB/s, close-after=4KiB, each with an optional @FROM..TO window (from the proxy's start).
    #[arg(long = "fault", value_name = "SPEC", required = true)]
    pub faults: Vec<ProxyFault>,
    /// Seed of every fault decision (default: random, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this long (default: at Ctrl-C or SIGTERM).
    #[arg(long = "for", value_parser = parse_duration, value_name = "DURATION")]
    pub run_for: Option<Duration>,
    /// Connecting upstream gives up after this long.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub connect_timeout: Duration,
    /// Allow a non-loopback listen address or upstream (only hosts you own).
    #[arg(long)]
    pub allow_remote: bool,
}

pub(super) async fn run(args: &ProxyArgs) -> u8 {
    if !args.allow_remote && !args.listen.ip().is_loopback() {
        warn(format_args!(
            "refusing to listen on {}: it is not loopback; pass --allow-remote to expose the proxy",
            args.listen
        ));
        return EXIT_USAGE;
    }
    let url = match args.upstream.contains("://") {
        true => args.upstream.clone(),
        false => format!("http://{}", args.upstream),
    };
    let upstream = match resolve_target(&url, args.allow_remote, &Default::default(), false).await {
        Ok(t) => t.addr,
        Err(e) => {
            warn(e);
            return EXIT_USAGE;
        }
    };
    let seed = args.seed.unwrap_or_else(crate::nemesis::fresh_seed);
    let proxy = match Proxy::start(
        args.listen,
        upstream,
        args.faults.clone(),
        seed,
        args.connect_timeout,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => {
            warn(format_args!("cannot listen on {}: {e}", args.listen));
            return EXIT_USAGE;
        }
    };
    let specs: Vec<String> = args.faults.iter().map(ToString::to_string).collect();
    eprintln!(
        "racegate proxy: {} → {upstream} with {} (seed {seed}); {}",
        proxy.addr(),
        specs.join(", "),
        match args.run_for {
            Some(d) => format!("stops after {}", humantime::format_duration(d)),
            None => "Ctrl-C stops it".to_owned(),
        }
    );
    let run_for = async {
        match args.run_for {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = run_for => {}
        _ = tokio::signal::ctrl_c() => {}
        () = terminated() => {}
    }
    for r in proxy.stop().await {
        eprintln!("  {:>8} × {}", r.injected, r.spec);
    }
    EXIT_PASS
}

/// SIGTERM (never, where there is none).
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
