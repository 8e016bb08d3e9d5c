//! The property: the real pool and services, shared across runtimes that are
//! started, swapped, dropped mid-flight, created on plain threads, with the
//! pool closed and reopened and the process restarted on the same file —
//! no operation fails or hangs, every acknowledged write stays readable, and
//! close leaves nothing open. `PROPTEST_CASES` raises the case count.

mod restarts;

use proptest::prelude::*;
use racegate_server::Faults;
use restarts::{sequence, System};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn services_survive_any_sequence_of_runtime_restarts(transitions in sequence(10)) {
        if let Err(failure) = System::new(Faults::none()).run(&transitions) {
            prop_assert!(false, "{failure}");
        }
    }
}
