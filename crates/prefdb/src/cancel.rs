//! Stopping a statement's computation when it is cancelled, times out, or its client goes
//! away.
//!
//! Dropping a DataFusion stream stops it only at its next `await`; an aggregate's `evaluate`
//! (a Newton fit, a bootstrap) runs to its end inside one poll. So each statement gets a stop
//! flag ([`prefdb_stats::interrupt`]): its futures and streams are polled with the flag
//! installed ([`Interruptible`]), the tasks DataFusion spawns for it inherit the flag (a
//! [`JoinSetTracer`] installed by [`install`]), and long kernels check it between steps. A
//! [`StopOnDrop`] guard sets the flag when the work it guards is dropped unfinished.

use datafusion::common::runtime::{set_join_set_tracer, JoinSetTracer};
use futures::future::BoxFuture;
use futures::{FutureExt, Stream};
use prefdb_stats::interrupt;
/// A statement's stop flag, and the one the current thread works under (if any).
pub use prefdb_stats::interrupt::{current, StopFlag};
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::task::{Context, Poll};

/// A new, unset stop flag.
pub fn new_flag() -> StopFlag {
    Arc::new(AtomicBool::new(false))
}

/// A future or stream polled with a stop flag installed.
pub struct Interruptible<T> {
    flag: Option<StopFlag>,
    inner: Pin<Box<T>>,
}

impl<T> Interruptible<T> {
    pub fn new(flag: Option<StopFlag>, inner: T) -> Self {
        Self {
            flag,
            inner: Box::pin(inner),
        }
    }
}

impl<F: Future> Future for Interruptible<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let flag = self.flag.clone();
        interrupt::scope(flag, || self.inner.as_mut().poll(cx))
    }
}

impl<S: Stream> Stream for Interruptible<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let flag = self.flag.clone();
        interrupt::scope(flag, || self.inner.as_mut().poll_next(cx))
    }
}

/// Sets its flag when dropped, unless [`StopOnDrop::finish`]ed first.
pub struct StopOnDrop(Option<StopFlag>);

impl StopOnDrop {
    pub fn new(flag: &StopFlag) -> Self {
        StopOnDrop(Some(Arc::clone(flag)))
    }

    /// The guarded work ended normally: dropping the guard no longer stops anything.
    pub fn finish(mut self) {
        self.0 = None;
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = self.0.take() {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// Hands the spawning task's stop flag to the tasks and blocking closures DataFusion spawns.
struct InheritStopFlag;

impl JoinSetTracer for InheritStopFlag {
    fn trace_future(
        &self,
        fut: BoxFuture<'static, Box<dyn Any + Send>>,
    ) -> BoxFuture<'static, Box<dyn Any + Send>> {
        match interrupt::current() {
            Some(flag) => Interruptible::new(Some(flag), fut).boxed(),
            None => fut,
        }
    }

    fn trace_block(
        &self,
        f: Box<dyn FnOnce() -> Box<dyn Any + Send> + Send>,
    ) -> Box<dyn FnOnce() -> Box<dyn Any + Send> + Send> {
        match interrupt::current() {
            Some(flag) => Box::new(move || interrupt::scope(Some(flag), f)),
            None => f,
        }
    }
}

/// Install the tracer that carries stop flags into DataFusion's tasks (once per process;
/// a tracer another part of the program set first is left in place).
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = set_join_set_tracer(&InheritStopFlag);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spawned_tasks_inherit_the_flag() {
        install();
        let flag = new_flag();
        let seen = Interruptible::new(Some(Arc::clone(&flag)), async {
            datafusion::common::runtime::SpawnedTask::spawn(async { interrupt::check() })
                .join()
                .await
                .unwrap()
        });
        flag.store(true, Ordering::Relaxed);
        assert!(
            seen.await.is_err(),
            "the spawned task sees the statement's flag"
        );
        let guard = StopOnDrop::new(&new_flag());
        guard.finish();
        let flag = new_flag();
        drop(StopOnDrop::new(&flag));
        assert!(flag.load(Ordering::Relaxed));
    }
}
