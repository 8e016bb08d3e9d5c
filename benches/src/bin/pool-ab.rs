//! The pool bench's workload with the contenders interleaved: for each cell
//! `w{workers}s{size}`, round after round, our pool, deadpool and the
//! no-pool floor each run the same cycles back to back (the order rotating
//! every round), and each round gives its own ratio. On a shared, noisy
//! machine that keeps a slow minute from landing on one contender only, as
//! it can when criterion measures them one after the other.
//!
//! ```sh
//! cargo run --release -p racegate-benches --bin pool-ab            # every cell
//! cargo run --release -p racegate-benches --bin pool-ab -- --rounds 61 --cells w1s4,w16s16
//! ```
//!
//! Prints a Markdown table: per cell, the median time per cycle of each
//! contender, and the median of the per-round ratios deadpool/ours (our
//! throughput over deadpool's) with its interquartile range, and
//! deadpool/floor (the most a pool with no cost at all could reach).

use std::time::{Duration, Instant};

use racegate_benches::pools::Contender;

struct Options {
    rounds: usize,
    cycles: usize,
    cells: Vec<(usize, usize)>,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        rounds: 31,
        cycles: 16_384,
        cells: [4usize, 16]
            .into_iter()
            .flat_map(|size| [1usize, 4, 16, 64, 256].map(|workers| (workers, size)))
            .collect(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => options.rounds = number(&value()?)?,
            "--cycles" => options.cycles = number(&value()?)?,
            "--cells" => {
                options.cells = value()?.split(',').map(cell).collect::<Result<_, _>>()?;
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (--rounds, --cycles, --cells)"
                ))
            }
        }
    }
    if options.rounds == 0 || options.cycles == 0 {
        return Err("--rounds and --cycles must be at least 1".into());
    }
    Ok(options)
}

fn number(s: &str) -> Result<usize, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a whole number"))
}

/// `w16s4` → (16, 4).
fn cell(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("{s:?} is not a cell like w16s4");
    let (workers, size) = s
        .strip_prefix('w')
        .and_then(|r| r.split_once('s'))
        .ok_or_else(bad)?;
    match (workers.parse(), size.parse()) {
        (Ok(w), Ok(s)) if w > 0 && s > 0 => Ok((w, s)),
        _ => Err(bad()),
    }
}

/// The `q`-quantile of `values` (sorted here), by nearest rank.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() - 1) as f64 * q).round() as usize;
    values[rank]
}

fn main() {
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pool-ab: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    println!(
        "| cell | ours ns/cycle | deadpool ns/cycle | no-pool ns/cycle | ours/deadpool (median, IQR) | ceiling |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut built: Vec<(usize, [Contender; 3])> = Vec::new();
    for &(workers, size) in &options.cells {
        if !built.iter().any(|(s, _)| *s == size) {
            built.push((size, rt.block_on(Contender::all(dir.path(), size))));
        }
        let contenders = &built.iter().find(|(s, _)| *s == size).expect("built").1;
        let time = |c: &Contender| {
            let started = Instant::now();
            rt.block_on(c.run(workers, options.cycles));
            started.elapsed()
        };
        for c in contenders {
            time(c); // warm up
        }
        let mut times: [Vec<Duration>; 3] = Default::default();
        for round in 0..options.rounds {
            for k in 0..3 {
                let i = (round + k) % 3;
                times[i].push(time(&contenders[i]));
            }
        }
        let per_cycle = |t: &[Duration]| {
            let mut ns: Vec<f64> = t
                .iter()
                .map(|d| d.as_nanos() as f64 / options.cycles as f64)
                .collect();
            quantile(&mut ns, 0.5)
        };
        let ratios = |num: &[Duration], den: &[Duration]| -> Vec<f64> {
            num.iter()
                .zip(den)
                .map(|(n, d)| n.as_secs_f64() / d.as_secs_f64())
                .collect()
        };
        let mut ours = ratios(&times[1], &times[0]);
        let mut ceiling = ratios(&times[1], &times[2]);
        println!(
            "| w{workers}s{size} | {:.0} | {:.0} | {:.0} | {:.2}× ({:.2}–{:.2}) | {:.2}× |",
            per_cycle(&times[0]),
            per_cycle(&times[1]),
            per_cycle(&times[2]),
            quantile(&mut ours, 0.5),
            quantile(&mut ours, 0.25),
            quantile(&mut ours, 0.75),
            quantile(&mut ceiling, 0.5),
        );
    }
    println!(
        "\n{} rounds of {} cycles per contender and cell, order rotating; 2 runtime threads.",
        options.rounds, options.cycles
    );
}
