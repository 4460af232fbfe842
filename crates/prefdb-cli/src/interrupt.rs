//! Ctrl-C while a statement runs: stop the statement, not the process.
//!
//! The signal is waited for on a thread of its own, with a small runtime of its own. The
//! query runtime's signal driver runs only when one of its workers is idle, and a fit or a
//! bootstrap keeps every worker busy within one poll: a Ctrl-C handled there would wait for
//! the statement it is meant to stop. The watcher instead sets the running statement's stop
//! flag at once (long kernels check it between steps) and wakes the task waiting on it.

use prefdb::cancel::StopFlag;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Notify;

/// The statement now running, if any: its stop flag and what wakes its waiter.
struct Statement {
    flag: StopFlag,
    interrupted: Notify,
}

static RUNNING: Mutex<Option<Arc<Statement>>> = Mutex::new(None);

/// Start the watcher thread (once), and return once it handles SIGINT: from then on Ctrl-C
/// no longer ends the process. False when the watcher could not be set up (then Ctrl-C keeps
/// its default action).
fn watch() -> bool {
    static WATCHING: OnceLock<bool> = OnceLock::new();
    *WATCHING.get_or_init(|| {
        let (ready, installed) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("prefdb-ctrl-c".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let Ok(runtime) = runtime else {
                    let _ = ready.send(false);
                    return;
                };
                runtime.block_on(async move {
                    let Ok(mut signals) = interrupts() else {
                        let _ = ready.send(false);
                        return;
                    };
                    let _ = ready.send(true);
                    while signals.recv().await.is_some() {
                        let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        // Between statements (a shell's prompt) there is nothing to stop.
                        if let Some(statement) = running {
                            statement.flag.store(true, Ordering::SeqCst);
                            statement.interrupted.notify_one();
                        }
                    }
                });
            });
        spawned.is_ok() && installed.recv().unwrap_or(false)
    })
}

#[cfg(unix)]
fn interrupts() -> std::io::Result<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{signal, SignalKind};
    signal(SignalKind::interrupt())
}

#[cfg(not(unix))]
fn interrupts() -> std::io::Result<CtrlC> {
    Ok(CtrlC)
}

/// Ctrl-C where there are no Unix signals, in the shape of a Unix `Signal`.
#[cfg(not(unix))]
struct CtrlC;

#[cfg(not(unix))]
impl CtrlC {
    async fn recv(&mut self) -> Option<()> {
        tokio::signal::ctrl_c().await.ok()
    }
}

/// The statement about to run, registered for Ctrl-C until dropped.
pub struct Guard(Arc<Statement>);

impl Guard {
    /// Register a statement with stop flag `flag`. `None` when Ctrl-C cannot be watched.
    pub fn new(flag: &StopFlag) -> Option<Guard> {
        if !watch() {
            return None;
        }
        let statement = Arc::new(Statement {
            flag: Arc::clone(flag),
            interrupted: Notify::new(),
        });
        *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&statement));
        Some(Guard(statement))
    }

    /// Resolves when Ctrl-C has interrupted this statement (its flag is set by then).
    pub async fn interrupted(&self) {
        self.0.interrupted.notified().await
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if running.as_ref().is_some_and(|s| Arc::ptr_eq(s, &self.0)) {
            *running = None;
        }
    }
}
