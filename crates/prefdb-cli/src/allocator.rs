//! The allocator the `prefdb` binary ships with, and how it hands memory back to the kernel.
//!
//! mimalloc rather than the system allocator: a query allocates and frees its partial states
//! (megabytes for an agreement aggregate over a million ratings, a gigabyte for a leaderboard
//! per prompt), and glibc hands such blocks back to the kernel on free, so the next query
//! pays the page faults again. See the README's design notes for the measured difference.
//!
//! The end-to-end benchmarks include this file too (`benches/common`), so that their figures
//! are what the binary's users see.

use std::ffi::{c_int, c_long};

/// The process's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_allow_thp`, by its place in `mi_option_t` in the mimalloc 3 that
/// `libmimalloc-sys` 0.1.49 bundles (`include/mimalloc.h`). The test below checks it against
/// the environment variable mimalloc reads for it.
const ALLOW_THP: c_int = 43;

/// The variable through which a user sets [`ALLOW_THP`] themselves.
const ALLOW_THP_VARIABLE: &str = "MIMALLOC_ALLOW_THP";

extern "C" {
    // Both in the mimalloc library `mimalloc::MiMalloc` links.
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// Keep transparent huge pages, but return memory to the kernel only in whole huge pages
/// (mimalloc's `allow_thp = 2`), unless the user set `MIMALLOC_ALLOW_THP`. Call first thing
/// in `main`, before any other thread starts: mimalloc's options are not thread-safe to set.
///
/// With mimalloc's default (`allow_thp = 1`) its arenas are huge pages, but it purges freed
/// memory in 64 KiB pieces a second after it falls idle. A long query frees one phase's
/// memory while the next runs (the partial states while a hundred thousand fits run, say);
/// the purge splits huge pages, and the memory the phase after that allocates is faulted back
/// in and zeroed page by page. `bt_rank ... GROUP BY prompt` over 10M votes, run once in a
/// fresh process: 4.9-6.4 s, 1.9-4.7 s of it in the kernel, against 4.0-4.6 s (1.3-1.6 s)
/// with whole-huge-page purges (the README's design notes).
pub fn purge_whole_huge_pages() {
    if std::env::var_os(ALLOW_THP_VARIABLE).is_none() {
        // SAFETY: a plain call into the linked mimalloc, with a valid option; no other
        // thread runs yet (see above).
        unsafe { mi_option_set(ALLOW_THP, 2) };
    }
}

/// The value of mimalloc's `allow_thp` option now.
#[cfg(test)]
fn allow_thp() -> c_long {
    // SAFETY: a plain read of an option in the linked mimalloc.
    unsafe { mi_option_get(ALLOW_THP) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Marks the run of this test binary that checks the option in a child process.
    const CHILD: &str = "PREFDB_ALLOCATOR_TEST_CHILD";

    /// Option 43 is the one `MIMALLOC_ALLOW_THP` sets: a child process given the variable
    /// reads its value there, and [`purge_whole_huge_pages`] leaves it as the user set it.
    #[test]
    fn the_option_is_the_one_the_variable_sets() {
        if std::env::var_os(CHILD).is_some() {
            purge_whole_huge_pages();
            assert_eq!(allow_thp(), 7);
            return;
        }
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "allocator::tests::the_option_is_the_one_the_variable_sets",
            ])
            .env(CHILD, "1")
            .env(ALLOW_THP_VARIABLE, "7")
            .status()
            .unwrap();
        assert!(status.success(), "the child run failed: {status}");
    }

    /// Without the variable, the binary's setting is taken.
    #[test]
    fn without_the_variable_purges_are_whole_huge_pages() {
        if std::env::var_os(ALLOW_THP_VARIABLE).is_some() {
            return; // the user's own setting is kept, as the test above checks
        }
        purge_whole_huge_pages();
        assert_eq!(allow_thp(), 2);
    }
}
