//! The process's one tokio runtime for prefdb, and waiting on it from Python.
//!
//! Queries run on the runtime's workers, which have the stack prefdb plans and executes
//! with ([`prefdb::QUERY_STACK`]); the calling Python thread waits with the GIL released,
//! waking every [`SIGNAL_TICK`] to let Python run its signal handlers, so that Ctrl-C
//! (KeyboardInterrupt) stops the query: its stop flag is set, which ends the work inside
//! long kernels too, and its task is aborted.

use datafusion::common::{DataFusionError, Result};
use pyo3::prelude::*;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::Runtime;

/// How often a waiting call checks for signals.
const SIGNAL_TICK: Duration = Duration::from_millis(50);

/// The runtime, started on first use.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        prefdb::cancel::install();
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("prefdb-worker")
            .thread_stack_size(prefdb::QUERY_STACK)
            .build()
            .expect("cannot start prefdb's tokio runtime")
    })
}

/// Run `work` on the runtime and wait for it with the GIL released. A signal handler that
/// raises (Ctrl-C's KeyboardInterrupt) stops the work and returns its exception.
///
/// The wait is a channel with a timeout, not a tokio timer: the runtime's timers are driven
/// by its workers, which a long computation keeps busy.
pub fn wait<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    py.check_signals()?;
    let flag = prefdb::cancel::new_flag();
    let (finished, done) = mpsc::channel::<()>();
    let task = runtime().spawn(prefdb::cancel::Interruptible::new(
        Some(flag.clone()),
        async move {
            let result = work.await;
            let _ = finished.send(());
            result
        },
    ));
    let waiting = &task;
    py.detach(move || loop {
        // Finished, or ended without a word (it panicked): either way, done waiting.
        if done.recv_timeout(SIGNAL_TICK) != Err(RecvTimeoutError::Timeout) {
            return Ok(());
        }
        if let Err(e) = Python::attach(|py| py.check_signals()) {
            flag.store(true, Ordering::SeqCst);
            waiting.abort();
            return Err(e);
        }
    })?;
    let outcome = runtime().block_on(task);
    match outcome {
        Ok(result) => result.map_err(crate::errors::raise),
        Err(join) if join.is_panic() => {
            Err(crate::errors::raise(DataFusionError::Execution(format!(
                "internal error: the query panicked: {}",
                prefdb::errors::panic_message(join.into_panic().as_ref())
            ))))
        }
        Err(join) => Err(crate::errors::raise(DataFusionError::Execution(format!(
            "the query was stopped: {join}"
        )))),
    }
}
