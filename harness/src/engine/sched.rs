//! The engine's threads give way to the target when they share its cores.
//!
//! A load tool on the same machine as its target wakes up tens of thousands
//! of times a second, once for every few answers. Under Linux's default
//! policy each wake-up preempts whatever runs on that core — on a loopback
//! run, the server being measured: on two cores, the reference server was
//! preempted ~11,000 times a second under racegate and ~2,000 under oha,
//! and spent 5–17 % more CPU per request. `SCHED_BATCH` (sched(7)) keeps
//! the threads' share of the CPU but drops the wake-up preemption: they run
//! when the server yields its slice. On an idle core nothing changes; a
//! remote target never sees it. Measured in `docs/performance.md`.

/// While held, the calling thread is `SCHED_BATCH` (Linux; elsewhere
/// nothing happens). Dropping it gives the thread back its normal policy,
/// as a pooled thread must be returned.
pub(super) struct Batch {
    set: bool,
}

impl Batch {
    /// Marks the calling thread; a refusal (a seccomp filter, say) leaves
    /// it as it was.
    pub(super) fn enter() -> Self {
        Self {
            set: set_policy(Policy::Batch),
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if self.set {
            set_policy(Policy::Normal);
        }
    }
}

enum Policy {
    Batch,
    Normal,
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_policy(policy: Policy) -> bool {
    let policy = match policy {
        Policy::Batch => libc::SCHED_BATCH,
        Policy::Normal => libc::SCHED_OTHER,
    };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 names the calling thread, `param` is a valid
    // `sched_param` (priority 0, as both policies require) that outlives
    // the call, and the call neither keeps nor frees the pointer.
    unsafe { libc::sched_setscheduler(0, policy, &param) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn set_policy(_: Policy) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::Batch;

    /// The calling thread's policy, from `/proc` (field 41 of its `stat`):
    /// 0 normal, 3 batch.
    fn policy() -> u32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The name (field 2) is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        rest.split(' ').nth(38).unwrap().parse().unwrap()
    }

    #[test]
    fn a_thread_is_batch_while_held_and_normal_after() {
        std::thread::spawn(|| {
            assert_eq!(policy(), 0);
            let batch = Batch::enter();
            assert!(batch.set, "sched_setscheduler refused SCHED_BATCH");
            assert_eq!(policy(), 3);
            drop(batch);
            assert_eq!(policy(), 0);
        })
        .join()
        .unwrap();
    }
}
