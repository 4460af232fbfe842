//! Stopping a long computation from outside: a statement that was cancelled, timed out, or
//! whose client went away.
//!
//! A caller installs a stop flag for the current thread with [`scope`]; long loops call
//! [`check`] between steps (a Newton step, a bootstrap replicate), an atomic load. Without an
//! installed flag nothing ever stops. Threads a kernel starts take the flag along with
//! [`current`] and [`scope`].

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shared stop flag: set it to stop every computation scoped with it.
pub type StopFlag = Arc<AtomicBool>;

thread_local! {
    static FLAG: RefCell<Option<StopFlag>> = const { RefCell::new(None) };
}

/// The computation was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the statement was cancelled")
    }
}

impl std::error::Error for Interrupted {}

/// `Err` once the current thread's flag is set.
pub fn check() -> Result<(), Interrupted> {
    FLAG.with(|f| match &*f.borrow() {
        Some(flag) if flag.load(Ordering::Relaxed) => Err(Interrupted),
        _ => Ok(()),
    })
}

/// The current thread's flag, to carry into threads a computation starts.
pub fn current() -> Option<StopFlag> {
    FLAG.with(|f| f.borrow().clone())
}

/// Run `work` with `flag` as the current thread's flag (none: leave the current one), and
/// restore the previous flag afterwards, even if `work` panics.
pub fn scope<R>(flag: Option<StopFlag>, work: impl FnOnce() -> R) -> R {
    let Some(flag) = flag else {
        return work();
    };
    struct Restore(Option<StopFlag>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            FLAG.with(|f| *f.borrow_mut() = previous);
        }
    }
    let _restore = Restore(FLAG.with(|f| f.borrow_mut().replace(flag)));
    work()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_flag_stops_only_its_scope() {
        assert_eq!(check(), Ok(()));
        let flag: StopFlag = Arc::new(AtomicBool::new(false));
        scope(Some(Arc::clone(&flag)), || {
            assert_eq!(check(), Ok(()));
            flag.store(true, Ordering::Relaxed);
            assert_eq!(check(), Err(Interrupted));
            let inherited = current();
            std::thread::spawn(move || scope(inherited, check))
                .join()
                .map(|r| assert_eq!(r, Err(Interrupted)))
                .unwrap();
        });
        assert_eq!(check(), Ok(()));
        assert!(current().is_none());
    }
}
