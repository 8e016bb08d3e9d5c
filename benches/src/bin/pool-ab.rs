//! The pool bench's workload with the contenders interleaved: for each cell
//! `w{workers}s{size}`, round after round, our pool, deadpool, the no-pool
//! floor and bb8 each run the same cycles back to back (the order rotating
//! every round), and each round gives its own ratio. On a shared, noisy
//! machine that keeps a slow minute from landing on one contender only, as
//! it can when criterion measures them one after the other.
//!
//! ```sh
//! cargo run --release -p racegate-benches --bin pool-ab            # every cell
//! cargo run --release -p racegate-benches --bin pool-ab -- --rounds 61 --cells w1s4,w16s16
//! # five whole runs, each in a process of its own
//! cargo run --release -p racegate-benches --bin pool-ab -- --processes 5
//! # this build against another pool-ab binary, whole runs alternating
//! cargo run --release -p racegate-benches --bin pool-ab -- --processes 4 --against /tmp/pool-ab-old
//! ```
//!
//! Prints a Markdown table: per cell, the median time per cycle of each
//! contender, and the median of the per-round ratios deadpool/ours (our
//! throughput over deadpool's) with its interquartile range,
//! deadpool/floor (the ceiling: the most a pool with no cost at all could
//! reach), and our time above the floor over deadpool's (the median of the
//! rounds' `(ours − floor) / (deadpool − floor)`: what each pool adds to the
//! cycle, compared; it does not move with the ceiling, which on the shared
//! machine here does, by itself taking one-task cells from ~1.6× to ~1.3×).
//!
//! One process's figure for a cell moves from process to process by more
//! than its interquartile range (16 on 4 connections, six runs of one
//! binary: 1.15× to 1.31×), and the spread is in deadpool's times as much
//! as in ours: on a shared virtual machine, likely where the host runs the
//! vCPUs. So `--processes N` runs N whole runs, each in a process of its
//! own, and prints per cell the median of the runs' ratios with the lowest
//! and highest; with `--against BINARY` it alternates whole runs of this
//! binary and another build's `pool-ab` (same arguments) and prints both,
//! which is how to tell whether a change moved a cell.

use std::time::{Duration, Instant};

use racegate_benches::pools::Contender;

struct Options {
    rounds: usize,
    cycles: usize,
    cells: Vec<(usize, usize)>,
    /// Whole runs, each in a process of its own; 1 runs here.
    processes: usize,
    /// Another build's `pool-ab`, run alternately with this one.
    against: Option<std::path::PathBuf>,
    /// The arguments a child process gets: these, without `--processes`
    /// and `--against`.
    child_args: Vec<String>,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        rounds: 31,
        cycles: 16_384,
        cells: [4usize, 16]
            .into_iter()
            .flat_map(|size| [1usize, 4, 16, 64, 256].map(|workers| (workers, size)))
            .collect(),
        processes: 1,
        against: None,
        child_args: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        // Every flag takes a value.
        let v = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rounds" => options.rounds = number(&v)?,
            "--cycles" => options.cycles = number(&v)?,
            "--cells" => options.cells = v.split(',').map(cell).collect::<Result<_, _>>()?,
            // These two steer the parent; a child does not get them.
            "--processes" => {
                options.processes = number(&v)?;
                continue;
            }
            "--against" => {
                let path = std::path::PathBuf::from(v);
                if !path.is_file() {
                    return Err(format!("--against {}: no such file", path.display()));
                }
                options.against = Some(path);
                continue;
            }
            other => {
                let known = "--rounds, --cycles, --cells, --processes, --against";
                return Err(format!("unknown argument {other:?} ({known})"));
            }
        }
        options.child_args.extend([flag, v]);
    }
    if options.rounds == 0 || options.cycles == 0 || options.processes == 0 {
        return Err("--rounds, --cycles and --processes must be at least 1".into());
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
    if options.processes > 1 || options.against.is_some() {
        if let Err(e) = processes::run(&options) {
            eprintln!("pool-ab: {e}");
            std::process::exit(1);
        }
        return;
    }
    one_run(&options);
}

/// One whole run in this process: every cell, its rounds interleaved.
fn one_run(options: &Options) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    println!(
        "| cell | ours ns/cycle | deadpool ns/cycle | no-pool ns/cycle | ours/deadpool (median, IQR) | ceiling | ours/deadpool above the floor | bb8 ns/cycle | ours/bb8 (median, IQR) | ours/bb8 above the floor |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut built: Vec<(usize, [Contender; 4])> = Vec::new();
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
        let mut times: [Vec<Duration>; 4] = Default::default();
        for round in 0..options.rounds {
            for k in 0..4 {
                let i = (round + k) % 4;
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
        let mut above = above_floor(&times[0], &times[1], &times[2]);
        let mut ours_bb8 = ratios(&times[3], &times[0]);
        let mut above_bb8 = above_floor(&times[0], &times[3], &times[2]);
        let median_or_dash = |v: &mut Vec<f64>| {
            if v.is_empty() {
                "—".to_owned()
            } else {
                format!("{:.2}", quantile(v, 0.5))
            }
        };
        println!(
            "| w{workers}s{size} | {:.0} | {:.0} | {:.0} | {:.2}× ({:.2}–{:.2}) | {:.2}× | {} | {:.0} | {:.2}× ({:.2}–{:.2}) | {} |",
            per_cycle(&times[0]),
            per_cycle(&times[1]),
            per_cycle(&times[2]),
            quantile(&mut ours, 0.5),
            quantile(&mut ours, 0.25),
            quantile(&mut ours, 0.75),
            quantile(&mut ceiling, 0.5),
            median_or_dash(&mut above),
            per_cycle(&times[3]),
            quantile(&mut ours_bb8, 0.5),
            quantile(&mut ours_bb8, 0.25),
            quantile(&mut ours_bb8, 0.75),
            median_or_dash(&mut above_bb8),
        );
    }
    println!(
        "\n{} rounds of {} cycles per contender and cell, order rotating; 2 runtime threads.",
        options.rounds, options.cycles
    );
}

/// Per round, our time above the floor over deadpool's; rounds where
/// deadpool measured at or below the floor give none.
fn above_floor(ours: &[Duration], theirs: &[Duration], floor: &[Duration]) -> Vec<f64> {
    ours.iter()
        .zip(theirs)
        .zip(floor)
        .filter_map(|((o, t), f)| {
            let (o, t, f) = (o.as_secs_f64(), t.as_secs_f64(), f.as_secs_f64());
            (t > f).then(|| (o - f) / (t - f))
        })
        .collect()
}

/// Whole runs in processes of their own, and their summary.
mod processes {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::Command;

    use super::{quantile, Options};

    /// One cell of one run: ours/deadpool, ours/deadpool above the floor,
    /// and ours/bb8 (the last two absent from older builds' tables).
    type Row = (String, f64, Option<f64>, Option<f64>);

    /// Runs `binary` with `args`; its per-cell figures, in the order its
    /// table lists them.
    fn one(binary: &Path, args: &[String]) -> Result<Vec<Row>, String> {
        let out = Command::new(binary)
            .args(args)
            .output()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} exited with {}: {}",
                binary.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let rows = ratios(&String::from_utf8_lossy(&out.stdout));
        if rows.is_empty() {
            return Err(format!("{} printed no cells", binary.display()));
        }
        Ok(rows)
    }

    /// The cells and figures of one run's table: the first column, the
    /// number before `×` in the fifth, the seventh's number if any, and the
    /// number before `×` in the ninth if any.
    fn ratios(table: &str) -> Vec<Row> {
        table
            .lines()
            .filter_map(|line| {
                let cols: Vec<&str> = line.split('|').map(str::trim).collect();
                let cell = cols.get(1).filter(|c| c.starts_with('w'))?;
                let ratio = cols.get(5)?.split('×').next()?.parse().ok()?;
                let above = cols.get(7).and_then(|c| c.parse().ok());
                let bb8 = cols
                    .get(9)
                    .and_then(|c| c.split('×').next())
                    .and_then(|c| c.parse().ok());
                Some(((*cell).to_owned(), ratio, above, bb8))
            })
            .collect()
    }

    pub(super) fn run(options: &Options) -> Result<(), String> {
        let me = std::env::current_exe().map_err(|e| format!("this binary's path: {e}"))?;
        let mut builds: Vec<(&Path, &str)> = vec![(&me, "this build")];
        if let Some(other) = &options.against {
            builds.push((other, "the other build"));
        }
        // Per build, per cell, one figure per run; cells in the first run's
        // order.
        let mut got: Vec<BTreeMap<String, Vec<f64>>> = vec![BTreeMap::new(); builds.len()];
        let mut got_above: Vec<BTreeMap<String, Vec<f64>>> = vec![BTreeMap::new(); builds.len()];
        let mut got_bb8: Vec<BTreeMap<String, Vec<f64>>> = vec![BTreeMap::new(); builds.len()];
        let mut order: Vec<String> = Vec::new();
        for run in 0..options.processes {
            for k in 0..builds.len() {
                // Alternate which build goes first, so neither always runs
                // on the heels of the other.
                let b = (run + k) % builds.len();
                eprintln!(
                    "pool-ab: run {}/{} of {}",
                    run + 1,
                    options.processes,
                    builds[b].1
                );
                for (cell, ratio, above, bb8) in one(builds[b].0, &options.child_args)? {
                    if !order.contains(&cell) {
                        order.push(cell.clone());
                    }
                    if let Some(bb8) = bb8 {
                        got_bb8[b].entry(cell.clone()).or_default().push(bb8);
                    }
                    if let Some(above) = above {
                        got_above[b].entry(cell.clone()).or_default().push(above);
                    }
                    got[b].entry(cell).or_default().push(ratio);
                }
            }
        }
        let summary = |values: Option<&Vec<f64>>, unit: &str| -> String {
            let Some(values) = values.filter(|v| !v.is_empty()) else {
                return "—".into();
            };
            let mut v = values.clone();
            let (mid, lo, hi) = (
                quantile(&mut v, 0.5),
                quantile(&mut v, 0.0),
                quantile(&mut v, 1.0),
            );
            let each: Vec<String> = values.iter().map(|r| format!("{r:.2}")).collect();
            format!("{mid:.2}{unit} ({lo:.2}–{hi:.2}) [{}]", each.join(" "))
        };
        let names: Vec<&str> = builds.iter().map(|(_, name)| *name).collect();
        let table = |got: &[BTreeMap<String, Vec<f64>>], unit: &str| {
            println!("| cell | {} |", names.join(" | "));
            println!("|---|{}", "---:|".repeat(names.len()));
            for cell in &order {
                let cols: Vec<String> = got.iter().map(|g| summary(g.get(cell), unit)).collect();
                println!("| {cell} | {} |", cols.join(" | "));
            }
        };
        let against = if builds.len() > 1 {
            format!("; --against {}", builds[1].0.display())
        } else {
            String::new()
        };
        table(&got, "×");
        println!(
            "\nours/deadpool per cell: the median of {} whole runs (lowest–highest) [each run's median]{against}.",
            options.processes,
        );
        if got_above.iter().any(|g| !g.is_empty()) {
            println!();
            table(&got_above, "");
            println!(
                "\nour time above the no-pool floor over deadpool's (lower is better), per cell: the median of {} whole runs (lowest–highest) [each run's median].",
                options.processes,
            );
        }
        if got_bb8.iter().any(|g| !g.is_empty()) {
            println!();
            table(&got_bb8, "×");
            println!(
                "\nours/bb8 per cell: the median of {} whole runs (lowest–highest) [each run's median].",
                options.processes,
            );
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn reads_a_runs_table() {
            let table = "| cell | ours ns/cycle | deadpool ns/cycle | no-pool ns/cycle | ours/deadpool (median, IQR) | ceiling | ours/deadpool above the floor |\n|---|---:|---:|---:|---:|---:|---:|\n| w1s4 | 980 | 1225 | 811 | 1.22× (1.18–1.27) | 1.45× | 0.41 |\n| w16s4 | 909 | 1189 | 175 | 1.31× (1.26–1.35) | 6.97× | — |\n\n31 rounds of 16384 cycles per contender and cell, order rotating; 2 runtime threads.\n";
            assert_eq!(
                super::ratios(table),
                vec![
                    ("w1s4".to_owned(), 1.22, Some(0.41), None),
                    ("w16s4".to_owned(), 1.31, None, None)
                ]
            );
            // A table from a build before the last column.
            let old = "| w1s4 | 980 | 1225 | 811 | 1.22× (1.18–1.27) | 1.45× |\n";
            assert_eq!(
                super::ratios(old),
                vec![("w1s4".to_owned(), 1.22, None, None)]
            );
            // This build's table, with bb8.
            let now = "| w4s16 | 201 | 268 | 140 | 1.33× (1.30–1.37) | 1.91× | 0.48 | 610 | 3.03× (2.9–3.1) | 0.13 |\n";
            assert_eq!(
                super::ratios(now),
                vec![("w4s16".to_owned(), 1.33, Some(0.48), Some(3.03))]
            );
        }
    }
}
