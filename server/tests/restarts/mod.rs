//! The machinery of the runtime-restart property: transitions, a system under
//! test (the real pool and services, shared across runtimes), and a reference
//! model (plain maps) of what must be stored.
//!
//! In the seed, tests created a new event loop per test while the services
//! kept primitives bound to the first one. Here the same services outlive
//! runtime after runtime — multi-thread and current-thread, dropped while
//! operations are in flight, swapped for another live one, created on a plain
//! thread just for one batch — and after every step every acknowledged write
//! must be readable, no operation may fail or hang, and close leaves no
//! connection open.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../common/fds.rs"]
mod fds;

use proptest::prelude::*;
use racegate_server::memory::MemoryService;
use racegate_server::pool::{ConnectionPool, PoolConfig};
use racegate_server::settings::SettingsService;
use racegate_server::store::Store;
use racegate_server::Faults;
use serde_json::{json, Value};
use tokio::runtime::{Builder, Runtime};

/// Connections in the pool: small, so batches contend for them.
pub const POOL_SIZE: usize = 2;
/// Longest any one operation may take before it counts as a hang.
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// One operation of a batch.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// A chat turn in a new conversation.
    ChatNew,
    /// A chat turn in an existing conversation (picked by the number).
    ChatExisting(u8),
    /// Read a conversation's history.
    History(u8),
    /// Merge a fresh key into the settings.
    Merge,
    /// Read all settings.
    Settings,
}

/// A step of the state machine.
#[derive(Clone, Debug)]
pub enum Transition {
    /// Replace the current runtime (dropping it) with a new one.
    StartRuntime { multi: bool, workers: usize },
    /// Run a batch of concurrent operations on the current runtime.
    Batch(Vec<Op>),
    /// Spawn a batch, let it run for a moment, drop the runtime under it.
    DropMidFlight { ops: Vec<Op>, run_micros: u64 },
    /// Swap the current runtime with a second live one.
    SwitchRuntime,
    /// Run a batch from a plain thread through a fresh current-thread runtime.
    PlainThread(Vec<Op>),
    /// Close the pool, check nothing is left open, reopen it.
    CloseReopen,
    /// Drop everything and start again on the same database file.
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::ChatNew),
        3 => any::<u8>().prop_map(Op::ChatExisting),
        2 => any::<u8>().prop_map(Op::History),
        3 => Just(Op::Merge),
        1 => Just(Op::Settings),
    ]
}

fn batch() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..12)
}

/// Transitions, weighted towards the ones that move work across runtimes.
pub fn transition() -> impl Strategy<Value = Transition> {
    prop_oneof![
        2 => (any::<bool>(), 1usize..4).prop_map(|(multi, workers)| Transition::StartRuntime { multi, workers }),
        4 => batch().prop_map(Transition::Batch),
        2 => (batch(), 0u64..3_000).prop_map(|(ops, run_micros)| Transition::DropMidFlight { ops, run_micros }),
        1 => Just(Transition::SwitchRuntime),
        2 => batch().prop_map(Transition::PlainThread),
        1 => Just(Transition::CloseReopen),
        1 => Just(Transition::Restart),
    ]
}

/// A sequence of 1 to `max` transitions.
pub fn sequence(max: usize) -> impl Strategy<Value = Vec<Transition>> {
    prop::collection::vec(transition(), 1..=max)
}

/// What must be stored: acknowledged writes only.
#[derive(Default)]
struct Model {
    /// Conversation id → acknowledged user messages.
    conversations: Vec<(String, Vec<String>)>,
    settings: BTreeMap<String, Value>,
}

/// The outcome of one operation.
enum Acked {
    Chat {
        conversation: String,
        message: String,
    },
    Setting {
        key: String,
        value: Value,
    },
    Read,
}

#[derive(Clone)]
struct Services {
    pool: Arc<ConnectionPool>,
    memory: MemoryService,
    settings: SettingsService,
}

impl Services {
    fn open(path: &std::path::Path, faults: &Faults) -> Self {
        let mut config = PoolConfig::new(path, POOL_SIZE);
        config.acquire_timeout = Duration::from_secs(5);
        config.faults = faults.clone();
        let pool = ConnectionPool::new(config);
        let store = Store::new(Arc::clone(&pool));
        Self {
            memory: MemoryService::new(store.clone(), Duration::ZERO),
            settings: SettingsService::new(store),
            pool,
        }
    }
}

/// The system under test.
pub struct System {
    dir: tempfile::TempDir,
    faults: Faults,
    services: Services,
    current: Option<Runtime>,
    spare: Option<Runtime>,
    model: Model,
    next_key: u64,
    next_message: u64,
}

/// Why a sequence failed: the step and what went wrong.
#[derive(Debug)]
pub struct Failure {
    pub step: usize,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {}: {}", self.step + 1, self.message)
    }
}

fn runtime(multi: bool, workers: usize) -> Runtime {
    if multi {
        Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    } else {
        Builder::new_current_thread().enable_all().build()
    }
    .expect("runtime")
}

impl System {
    pub fn new(faults: Faults) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let services = Services::open(&dir.path().join("restarts.db"), &faults);
        Self {
            dir,
            faults,
            services,
            current: None,
            spare: None,
            model: Model::default(),
            next_key: 0,
            next_message: 0,
        }
    }

    /// Runs the transitions, checking the invariants after each.
    pub fn run(mut self, transitions: &[Transition]) -> Result<(), Failure> {
        for (step, t) in transitions.iter().enumerate() {
            self.apply(t).map_err(|message| Failure { step, message })?;
            self.verify().map_err(|message| Failure {
                step,
                message: format!("after {t:?}: {message}"),
            })?;
        }
        self.shut_down().map_err(|message| Failure {
            step: transitions.len(),
            message,
        })
    }

    fn apply(&mut self, t: &Transition) -> Result<(), String> {
        match t {
            Transition::StartRuntime { multi, workers } => {
                self.current = Some(runtime(*multi, *workers));
            }
            Transition::Batch(ops) => {
                let jobs = self.plan(ops);
                let services = self.services.clone();
                let rt = self.current.get_or_insert_with(|| runtime(true, 2));
                let results = rt.block_on(run_batch(services, jobs));
                self.record(results)?;
            }
            Transition::DropMidFlight { ops, run_micros } => {
                let jobs = self.plan(ops);
                let rt = self.current.take().unwrap_or_else(|| runtime(true, 2));
                let (tx, rx) = mpsc::channel();
                for job in jobs {
                    let (services, tx) = (self.services.clone(), tx.clone());
                    rt.spawn(async move {
                        let _ = tx.send(job.run(&services).await);
                    });
                }
                let run_for = Duration::from_micros(*run_micros);
                // The timer must be created inside the runtime it belongs to.
                rt.block_on(async move { tokio::time::sleep(run_for).await });
                drop(rt); // the unfinished operations are dropped mid-flight
                drop(tx);
                // Only what finished before the drop was acknowledged.
                self.record(rx.try_iter().collect())?;
            }
            Transition::SwitchRuntime => {
                let next = self.spare.take().unwrap_or_else(|| runtime(false, 1));
                self.spare = self.current.replace(next);
            }
            Transition::PlainThread(ops) => {
                let jobs = self.plan(ops);
                let services = self.services.clone();
                let results = std::thread::spawn(move || {
                    runtime(false, 1).block_on(run_batch(services, jobs))
                })
                .join()
                .map_err(|_| "the plain thread panicked".to_owned())?;
                self.record(results)?;
            }
            Transition::CloseReopen => {
                self.close_pool()?;
                self.services.pool.reopen();
            }
            Transition::Restart => {
                self.close_pool()?;
                self.current = None;
                self.spare = None;
                self.services = Services::open(&self.dir.path().join("restarts.db"), &self.faults);
            }
        }
        Ok(())
    }

    /// Gives each operation its concrete arguments from the model.
    fn plan(&mut self, ops: &[Op]) -> Vec<Job> {
        ops.iter()
            .map(|op| match *op {
                Op::ChatNew => Job::Chat(None, self.message()),
                Op::ChatExisting(n) if !self.model.conversations.is_empty() => {
                    let i = n as usize % self.model.conversations.len();
                    Job::Chat(Some(self.model.conversations[i].0.clone()), self.message())
                }
                Op::ChatExisting(_) => Job::Chat(None, self.message()),
                Op::History(n) if !self.model.conversations.is_empty() => {
                    let (id, msgs) =
                        &self.model.conversations[n as usize % self.model.conversations.len()];
                    Job::History(id.clone(), msgs.clone())
                }
                Op::History(_) | Op::Settings => Job::Settings,
                Op::Merge => {
                    self.next_key += 1;
                    Job::Merge(format!("key{}", self.next_key), json!({"n": self.next_key}))
                }
            })
            .collect()
    }

    fn message(&mut self) -> String {
        self.next_message += 1;
        format!("message {}", self.next_message)
    }

    fn record(&mut self, results: Vec<Result<Acked, String>>) -> Result<(), String> {
        for r in results {
            match r? {
                Acked::Chat {
                    conversation,
                    message,
                } => {
                    match self
                        .model
                        .conversations
                        .iter_mut()
                        .find(|(id, _)| *id == conversation)
                    {
                        Some((_, msgs)) => msgs.push(message),
                        None => self.model.conversations.push((conversation, vec![message])),
                    }
                }
                Acked::Setting { key, value } => {
                    self.model.settings.insert(key, value);
                }
                Acked::Read => {}
            }
        }
        Ok(())
    }

    /// Every acknowledged write is readable, from a fresh runtime on this thread.
    fn verify(&self) -> Result<(), String> {
        let services = self.services.clone();
        let conversations = self.model.conversations.clone();
        let settings = self.model.settings.clone();
        runtime(false, 1).block_on(async move {
            for (id, acked) in &conversations {
                let stored = bounded(services.memory.messages(id)).await?;
                check_history(id, &stored, acked)?;
            }
            let stored = bounded(services.settings.all()).await?;
            for (k, v) in &settings {
                if stored.get(k) != Some(v) {
                    return Err(format!(
                        "acknowledged setting {k} = {v} reads as {:?}",
                        stored.get(k)
                    ));
                }
            }
            Ok(())
        })
    }

    fn close_pool(&mut self) -> Result<(), String> {
        let pool = Arc::clone(&self.services.pool);
        runtime(false, 1).block_on(pool.close());
        // Idle connections close with the pool; a lent one closes when it
        // comes back (`ConnectionPool::close`). After a runtime was dropped
        // mid-flight, the group-commit writer may still be finishing a batch
        // on its connection's thread, holding its lease for a few ms more.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut open = self.services.pool.stats().connections_open;
        while open != 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            open = self.services.pool.stats().connections_open;
        }
        if open != 0 {
            return Err(format!("{open} connections still open 5 s after close"));
        }
        // And what the OS says: no descriptor left on the database files.
        let db = self.dir.path().join("restarts.db");
        let files = fds::wait_closed(&db, Duration::from_secs(5));
        if !files.is_empty() {
            return Err(format!("still open after close, per /proc: {files:?}"));
        }
        Ok(())
    }

    fn shut_down(mut self) -> Result<(), String> {
        self.current = None;
        self.spare = None;
        self.close_pool()
    }
}

/// One planned operation.
enum Job {
    Chat(Option<String>, String),
    History(String, Vec<String>),
    Merge(String, Value),
    Settings,
}

impl Job {
    async fn run(self, s: &Services) -> Result<Acked, String> {
        match self {
            Job::Chat(conversation, message) => {
                let turn = bounded(s.memory.chat(conversation, message.clone())).await?;
                Ok(Acked::Chat {
                    conversation: turn.conversation_id,
                    message,
                })
            }
            Job::History(id, acked) => {
                let stored = bounded(s.memory.messages(&id)).await?;
                check_history(&id, &stored, &acked)?;
                Ok(Acked::Read)
            }
            Job::Merge(key, value) => {
                let mut patch = serde_json::Map::new();
                patch.insert(key.clone(), value.clone());
                bounded(s.settings.merge(patch)).await?;
                Ok(Acked::Setting { key, value })
            }
            Job::Settings => bounded(s.settings.all()).await.map(|_| Acked::Read),
        }
    }
}

async fn run_batch(services: Services, jobs: Vec<Job>) -> Vec<Result<Acked, String>> {
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            let services = services.clone();
            tokio::spawn(async move { job.run(&services).await })
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.push(
            h.await
                .unwrap_or_else(|e| Err(format!("operation panicked: {e}"))),
        );
    }
    results
}

/// Runs a service call under [`OP_TIMEOUT`]; a timeout is a failure.
async fn bounded<T, E: fmt::Display>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    let started = Instant::now();
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("operation hung for {:?}", started.elapsed())),
    }
}

/// Stored turns are whole (user then assistant) and hold every acknowledged
/// message; unacknowledged extras (writes cut off by a dropped runtime after
/// they committed) are allowed.
fn check_history(
    id: &str,
    stored: &[racegate_server::memory::Message],
    acked: &[String],
) -> Result<(), String> {
    if stored.len() % 2 != 0
        || stored
            .chunks(2)
            .any(|p| p[0].role != "user" || p[1].role != "assistant")
    {
        return Err(format!("conversation {id} holds a half turn"));
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for m in stored.iter().filter(|m| m.role == "user") {
        *counts.entry(m.content.as_str()).or_default() += 1;
    }
    for a in acked {
        match counts.get_mut(a.as_str()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => {
                return Err(format!(
                    "acknowledged message {a:?} missing from conversation {id}"
                ))
            }
        }
    }
    Ok(())
}
