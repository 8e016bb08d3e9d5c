//! The server under test as a process: started on a free loopback port with
//! its own database and log, polled until ready, stopped with SIGTERM to its
//! process group, SIGKILL after a deadline, and killed on drop, so no server
//! outlives `racegate repro` whatever fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::certs::TrialTls;
use crate::engine::get_once;
use crate::nemesis::server::{Outage, StopSignal};
use crate::scenario::Scenario;
use crate::tls::Tls;

/// The Cargo feature that builds the reference server into racegate.
pub const REFERENCE_FEATURE: &str = "reference-server";

/// A server that could not be started, made ready, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No free loopback port.
    #[error("no free port: {0}")]
    Port(std::io::Error),
    /// The log file cannot be created.
    #[error("{}: {source}", path.display())]
    Log {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The command cannot be started.
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// This racegate has no reference server in it.
    #[error("this racegate was built without the `{REFERENCE_FEATURE}` feature, so it cannot start the reference server (`reference = true`); rebuild with `--features {REFERENCE_FEATURE}` or name a `command`")]
    NoReferenceServer,
    /// racegate cannot find its own binary.
    #[error("cannot find the racegate binary: {0}")]
    OwnBinary(std::io::Error),
    /// The process exited before it was ready.
    #[error("`{command}` exited ({status}) before becoming ready; {log}")]
    Exited {
        /// The command line.
        command: String,
        /// How it exited.
        status: String,
        /// The end of its output.
        log: String,
    },
    /// The process never answered its ready path.
    #[error("`{command}` was not ready within {timeout:?} ({last}); {log}")]
    NotReady {
        /// The command line.
        command: String,
        /// The ready timeout.
        timeout: Duration,
        /// The last probe's result.
        last: String,
        /// The end of its output.
        log: String,
    },
    /// The trial's certificates could not be made or used.
    #[error("{0}")]
    Tls(String),
    /// The process ignored SIGTERM.
    #[error("`{command}` did not stop within {timeout:?} of SIGTERM and was killed")]
    NoStop {
        /// The command line.
        command: String,
        /// The stop timeout.
        timeout: Duration,
    },
}

/// The binary that runs the reference server: this racegate, when it was
/// built with the reference server in it.
fn reference_server_exe() -> Result<PathBuf, ServerError> {
    if cfg!(feature = "reference-server") {
        std::env::current_exe().map_err(ServerError::OwnBinary)
    } else {
        Err(ServerError::NoReferenceServer)
    }
}

/// A started server; killed on drop if still running.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: PathBuf,
    /// The command that started it.
    pub command_line: String,
    /// With `tls = true`: the trial's certificates, and the connector the
    /// probes use.
    tls: Option<(TrialTls, Tls)>,
}

impl ServerProcess {
    /// Starts `variant_name` of `scenario`'s server on a free loopback port,
    /// with its database and log in `dir`.
    pub fn start(scenario: &Scenario, variant_name: &str, dir: &Path) -> Result<Self, ServerError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(ServerError::Port)?
            .port();
        if scenario.server.tls {
            TrialTls::make(dir).map_err(ServerError::Tls)?;
        }
        Self::start_on(scenario, variant_name, dir, port, false)
    }

    /// `http://127.0.0.1:PORT`, or `https://` when it serves TLS.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Whom the steps trust: the trial's CA, when it serves TLS.
    pub fn tls_options(&self) -> crate::tls::TlsOptions {
        self.tls
            .as_ref()
            .map(|(files, _)| files.options())
            .unwrap_or_default()
    }

    /// The connector for one-off GETs (probes, state checks).
    pub fn client_tls(&self) -> Option<&Tls> {
        self.tls.as_ref().map(|(_, tls)| tls)
    }

    /// The same server again, on the same port and database: after a
    /// restart's stop. Its log goes on in the same file.
    fn start_on(
        scenario: &Scenario,
        variant_name: &str,
        dir: &Path,
        port: u16,
        again: bool,
    ) -> Result<Self, ServerError> {
        let variant = &scenario.variants[variant_name];
        let db = dir.join("server.db");
        // Absolute: the server runs in the trial's scratch directory.
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        let scenario_dir = absolute(scenario.path.parent().unwrap_or(Path::new(".")));
        let cwd = absolute(Path::new("."));
        let tls = scenario.server.tls.then(|| TrialTls::at(dir));
        let (tls_cert, tls_key) = tls.as_ref().map_or((String::new(), String::new()), |t| {
            (t.cert.display().to_string(), t.key.display().to_string())
        });
        let fill = |s: &str| {
            s.replace("{port}", &port.to_string())
                .replace("{tls_cert}", &tls_cert)
                .replace("{tls_key}", &tls_key)
                .replace("{db}", &db.display().to_string())
                .replace("{dir}", &dir.display().to_string())
                .replace("{scenario_dir}", &scenario_dir.display().to_string())
                .replace("{cwd}", &cwd.display().to_string())
        };
        let mut argv: Vec<String> = if !variant.command.is_empty() {
            variant.command.iter().map(|s| fill(s)).collect()
        } else if scenario.server.reference {
            let exe = reference_server_exe()?;
            vec![
                exe.display().to_string(),
                "server".into(),
                "--addr".into(),
                format!("127.0.0.1:{port}"),
                "--db".into(),
                db.display().to_string(),
            ]
            .into_iter()
            .chain(tls.iter().flat_map(|_| {
                [
                    "--tls-cert".into(),
                    tls_cert.clone(),
                    "--tls-key".into(),
                    tls_key.clone(),
                ]
            }))
            .collect()
        } else {
            scenario.server.command.iter().map(|s| fill(s)).collect()
        };
        argv.extend(scenario.server.args.iter().map(|s| fill(s)));
        argv.extend(variant.args.iter().map(|s| fill(s)));
        let log = dir.join("server.log");
        let log_io = |source| ServerError::Log {
            path: log.clone(),
            source,
        };
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(again)
            .truncate(!again)
            .open(&log)
            .map_err(log_io)?;
        let log_err = log_file.try_clone().map_err(log_io)?;
        let mut cmd = Command::new(&argv[0]);
        // Its own process group, so stopping it reaches anything it started
        // (a shell wrapper's children included).
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.args(&argv[1..])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .env("RUST_LOG", "warn");
        for (k, v) in scenario.server.env.iter().chain(&variant.env) {
            cmd.env(k, fill(v));
        }
        let child = cmd.spawn().map_err(|source| ServerError::Spawn {
            program: argv[0].clone(),
            source,
        })?;
        let tls = match tls {
            Some(files) => {
                let client = files.client().map_err(ServerError::Tls)?;
                Some((files, client))
            }
            None => None,
        };
        Ok(Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            command_line: argv.join(" "),
            tls,
        })
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join("\n    ");
        if tail.is_empty() {
            "(the server printed nothing)".into()
        } else {
            format!("its last output:\n    {tail}")
        }
    }

    /// Polls the scenario's ready path until it answers 200, the process
    /// exits, or the ready timeout passes.
    pub async fn wait_ready(&mut self, scenario: &Scenario) -> Result<(), ServerError> {
        let timeout = scenario.server.ready_timeout;
        let deadline = Instant::now() + timeout;
        let path = &scenario.server.ready;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(ServerError::Exited {
                    command: self.command_line.clone(),
                    status: status.to_string(),
                    log: self.log_tail(),
                });
            }
            let last = match get_once(
                self.addr,
                self.client_tls(),
                path,
                Duration::from_millis(500),
            )
            .await
            {
                Ok((200, _)) => return Ok(()),
                Ok((status, _)) => format!("{path} answered {status}"),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(ServerError::NotReady {
                    command: self.command_line.clone(),
                    timeout,
                    last: format!("GET {path}: {last}"),
                    log: self.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn signal_group(&self, signal: nix::sys::signal::Signal) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // The group may already be gone; nothing to do then.
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
        }
    }

    /// SIGTERM to the server's process group; SIGKILL after `timeout`; then
    /// SIGKILL to whatever is left in the group.
    pub async fn stop(&mut self, timeout: Duration) -> Result<(), ServerError> {
        self.signal_group(nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + timeout;
        let mut result = Err(ServerError::NoStop {
            command: self.command_line.clone(),
            timeout,
        });
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                result = Ok(());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.kill();
        result
    }

    fn kill(&mut self) {
        self.signal_group(nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server's process group (SIGSTOP) for `span`, then lets it
    /// go on (SIGCONT): a pause no request can tell from a slow server.
    pub async fn pause(&self, span: Duration) {
        self.signal_group(nix::sys::signal::Signal::SIGSTOP);
        tokio::time::sleep(span).await;
        self.signal_group(nix::sys::signal::Signal::SIGCONT);
    }

    /// Stops the server with `signal` (SIGKILL: a crash; SIGTERM: a deploy,
    /// SIGKILL after the scenario's stop timeout) and starts the same
    /// variant again on the same port and database, ready within the usual
    /// timeout. `outage` is marked from the stop until it is ready again.
    pub async fn restart(
        &mut self,
        scenario: &Scenario,
        variant_name: &str,
        dir: &Path,
        signal: StopSignal,
        outage: &Outage,
    ) -> Result<(), ServerError> {
        outage.begin();
        match signal {
            StopSignal::Kill => self.kill(),
            StopSignal::Term => {
                // A server that ignores SIGTERM is killed: the restart goes on.
                let _ = self.stop(scenario.server.stop_timeout).await;
            }
        }
        let port = self.addr.port();
        let command_line = std::mem::take(&mut self.command_line);
        *self = Self::start_on(scenario, variant_name, dir, port, true)?;
        self.command_line = command_line;
        let ready = self.wait_ready(scenario).await;
        outage.end();
        ready
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
