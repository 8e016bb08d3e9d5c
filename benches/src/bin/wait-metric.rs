//! How exactly the pool counts the time queued acquires wait
//! (`PoolStats::acquire_wait_micros`, read from the CPU's tick counter and
//! converted when read): one caller holds the only connection, another
//! queues, the first lets go after `--hold` (150 ms); the counted wait is
//! compared with the span measured around it. A check of clock accuracy, so
//! a bench, not a test: it reports, and exits 1 when the counted wait falls
//! outside [hold − 5 ms, measured span + 5 ms] in any of `--rounds` (5).
//!
//! ```sh
//! cargo run --release -p racegate-benches --bin wait-metric
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use racegate_benches::pools::numbered_pool;

fn main() -> ExitCode {
    let mut hold = Duration::from_millis(150);
    let mut rounds = 5;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--hold-ms", Some(ms)) => hold = Duration::from_millis(ms),
            ("--rounds", Some(n)) => rounds = n,
            _ => {
                eprintln!("usage: wait-metric [--hold-ms MS] [--rounds N]");
                return ExitCode::from(2);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    runtime.block_on(async {
        let pool = numbered_pool(1);
        for round in 1..=rounds {
            let held = pool.acquire().await.expect("the one connection");
            let before = pool.stats().acquire_wait_micros;
            let started = Instant::now();
            let waiter = tokio::spawn({
                let pool = Arc::clone(&pool);
                async move { pool.acquire().await.map(drop) }
            });
            while pool.stats().waiters != 1 {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(hold).await;
            drop(held);
            waiter.await.expect("the waiter's task").expect("served");
            let span = started.elapsed();
            let counted = Duration::from_micros(pool.stats().acquire_wait_micros - before);
            let slack = Duration::from_millis(5);
            let within = counted + slack >= hold && counted <= span + slack;
            ok &= within;
            println!(
                "round {round}: held {hold:?}, measured span {span:?}, counted {counted:?} {}",
                if within { "ok" } else { "OFF" }
            );
        }
    });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
