//! A step's load and its server fault (`pause`, `restart`), carried out
//! while the step runs: [`Nemesis::around`] runs the step and, at the fault's time, acts on
//! the server process; [`Nemesis::fire`] and [`Nemesis::kv`] record what was
//! done in the step's report and judge the window it left.

use std::path::Path;
use std::sync::Arc;

use super::server::{ServerError, ServerProcess};
use crate::duration::millis;
use crate::fire::Fire;
use crate::gate::Gate;
use crate::nemesis::server::{Outage, ServerFault, ServerFaultReport};
use crate::plan::{Halt, Protocol};
use crate::report::Report;
use crate::scenario::{FireStep, KvStep, Scenario};
use crate::tls::TlsOptions;

/// How a step with a server fault can fail: its own way, the server's, or
/// by ending before its fault was due (the scenario then did not do what
/// it says: a history "across a restart" that never crossed one).
pub(super) enum StepError<E> {
    Run(E),
    Server(ServerError),
    NotDue(NotDue),
}

/// A server fault the step ended before.
pub(super) struct NotDue {
    /// `pause` or `restart KILL`.
    pub(super) fault: String,
    /// When it was due, ms from the step's start.
    pub(super) due_ms: u64,
    /// When the step was over.
    pub(super) ended_ms: u64,
}

/// What became of a step's server fault.
enum Carried {
    Done(Done),
    NotDue(NotDue),
}

/// A server fault that was carried out: what, and from when the step's
/// windows count.
struct Done {
    fault: ServerFaultReport,
    start_unix_ms: u64,
}

/// What a step's server fault needs: the server's scenario and variant (to
/// start it again), its trial directory, and the nemesis's seed.
pub(super) struct Nemesis<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) variant: &'a str,
    pub(super) dir: &'a Path,
    pub(super) seed: u64,
}

impl Nemesis<'_> {
    /// Runs `step` and, at its time, `fault` on `server` (unless the step is
    /// over by then); `outage` is marked while a restart has the server
    /// down.
    async fn around<T, E>(
        &self,
        fault: Option<ServerFault>,
        server: &mut ServerProcess,
        outage: &Outage,
        step: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<(T, Option<Carried>), StepError<E>> {
        let Some(fault) = fault else {
            return step.await.map(|t| (t, None)).map_err(StepError::Run);
        };
        let start_unix_ms = crate::engine::unix_ms(std::time::SystemTime::now());
        let started = std::time::Instant::now();
        tokio::pin!(step);
        tokio::select! {
            // Over before the fault was due: nothing was done to the server.
            done = &mut step => {
                let t = done.map_err(StepError::Run)?;
                let not_due = NotDue {
                    fault: fault.name(),
                    due_ms: millis(fault.at()),
                    ended_ms: millis(started.elapsed()),
                };
                return Ok((t, Some(Carried::NotDue(not_due))));
            }
            () = tokio::time::sleep(fault.at()) => {}
        }
        let at = started.elapsed();
        let act = async {
            match fault {
                ServerFault::Pause(p) => server.pause(p.span).await,
                ServerFault::Restart(r) => {
                    server
                        .restart(self.scenario, self.variant, self.dir, r.signal, outage)
                        .await?;
                }
            }
            Ok::<_, ServerError>((fault.name(), started.elapsed() - at))
        };
        let (done, acted) = tokio::join!(step, act);
        let (kind, span) = acted.map_err(StepError::Server)?;
        let t = done.map_err(StepError::Run)?;
        Ok((
            t,
            Some(Carried::Done(Done {
                fault: ServerFaultReport {
                    kind,
                    at_ms: millis(at),
                    for_ms: millis(span),
                },
                start_unix_ms,
            })),
        ))
    }

    /// A fire step, with its server fault if it has one; the report records
    /// the fault and judges the window it left.
    pub(super) async fn fire(
        &self,
        step: &FireStep,
        server: &mut ServerProcess,
        halt: Option<Halt>,
    ) -> Result<Report, StepError<crate::fire::FireError>> {
        let outage = Arc::new(Outage::default());
        let endpoint = Endpoint {
            base: server.base_url(),
            protocol: self.scenario.server.protocol,
            tls: server.tls_options(),
        };
        let run = fire_step(step, endpoint, halt, self.seed, Some(Arc::clone(&outage)));
        let (mut report, carried) = self.around(step.server_fault, server, &outage, run).await?;
        match carried {
            Some(Carried::Done(done)) => {
                report.add_server_fault(done.fault, self.seed, done.start_unix_ms);
            }
            // Stopped early at the first detection: the fault was not needed.
            Some(Carried::NotDue(_)) if report.halted => {}
            Some(Carried::NotDue(not_due)) => return Err(StepError::NotDue(not_due)),
            None => {}
        }
        Ok(report)
    }

    /// A kv step, with its server fault if it has one: the history runs
    /// across it (a kv run keeps no timeline, so no window is judged).
    pub(super) async fn kv(
        &self,
        step: &KvStep,
        server: &mut ServerProcess,
    ) -> Result<crate::kv::KvRun, StepError<crate::kv::KvError>> {
        let outage = Arc::new(Outage::default());
        let url = server.base_url();
        // The nemesis's seed unless the step names one: every trial and
        // variant faces the same faults, and their reports merge.
        let mut spec = step.spec.clone();
        let seed = *spec.seed.get_or_insert(self.seed);
        (spec.concurrency, spec.http2) = self.scenario.server.protocol.shape(spec.concurrency);
        spec.tls = server.tls_options();
        let run = crate::kv::run(&url, &spec, false, Some(Arc::clone(&outage)));
        let (mut run, carried) = self.around(step.server_fault, server, &outage, run).await?;
        match carried {
            Some(Carried::Done(done)) => {
                run.report
                    .add_server_fault(done.fault, seed, done.start_unix_ms);
            }
            Some(Carried::NotDue(not_due)) => return Err(StepError::NotDue(not_due)),
            None => {}
        }
        Ok(run)
    }
}

/// Where a step's requests go and how: the server's base URL, the
/// protocol, and whom to trust over TLS.
struct Endpoint {
    base: String,
    protocol: Protocol,
    tls: TlsOptions,
}

/// One fire step's load against `endpoint`.
async fn fire_step(
    step: &FireStep,
    Endpoint {
        base,
        protocol,
        tls,
    }: Endpoint,
    halt: Option<Halt>,
    seed: u64,
    outage: Option<Arc<Outage>>,
) -> Result<Report, crate::fire::FireError> {
    let mut fire = Fire::get(format!("{base}{}", step.path))
        .tls(tls)
        .method(step.method.clone())
        .requests(step.requests)
        .timeout(step.timeout)
        .checks(step.checks.clone())
        .gate(Gate {
            max_recovery_ms: step.max_recovery.map(crate::duration::millis),
            ..Gate::default()
        })
        .seed(seed);
    let (connections, http2) = protocol.shape(step.concurrency);
    fire = fire.concurrency(connections);
    if let Some(streams) = http2 {
        fire = fire.http2(streams);
    }
    for h in &step.headers {
        fire = fire.header(h);
    }
    if let Some(b) = &step.body {
        fire = fire.body(b.clone());
    }
    if let Some(d) = step.duration {
        fire = fire.duration(d);
    }
    if step.burst {
        fire = fire.burst();
    }
    if let Some(cancel) = &step.cancel {
        fire = fire.cancel(cancel.clone());
    }
    for f in &step.faults {
        fire = fire.fault(f.clone());
    }
    if let Some(outage) = outage {
        fire = fire.outage(outage);
    }
    if let Some(h) = halt {
        fire = fire.halt(h);
    }
    fire.run().await
}
