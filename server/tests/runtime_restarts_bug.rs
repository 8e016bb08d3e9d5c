//! The bug side of the runtime-restart property: with `runtime-bound-pool`
//! switched on, proptest must find a failing sequence and shrink it to at most
//! four transitions — the shortest explanation of the seed's bug.

mod restarts;

use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use racegate_server::{Bug, Faults};
use restarts::{sequence, System};

#[test]
fn the_property_catches_the_runtime_bound_pool_and_shrinks_it() {
    let mut runner = TestRunner::new(Config {
        cases: 256,
        // Expected failures are not regressions to replay.
        failure_persistence: None,
        ..Config::default()
    });
    // Whether a sequence fails depends on timing (a caller must find both
    // connections lent and wait), so each candidate gets three tries: a
    // shorter sequence that fails only sometimes must not stop the shrinking
    // because one try was lucky (under a loaded CI machine one did, leaving
    // six transitions).
    let result = runner.run(&sequence(10), |transitions| {
        for _ in 0..3 {
            System::new(Faults::with([Bug::RuntimeBoundPool]))
                .run(&transitions)
                .map_err(|f| TestCaseError::fail(f.to_string()))?;
        }
        Ok(())
    });
    match result {
        Err(TestError::Fail(reason, minimal)) => {
            eprintln!("minimal failing sequence ({} transitions):", minimal.len());
            for (i, t) in minimal.iter().enumerate() {
                eprintln!("  {}. {t:?}", i + 1);
            }
            eprintln!("failure: {reason}");
            assert!(
                minimal.len() <= 4,
                "shrunk to {} transitions: {minimal:?}",
                minimal.len()
            );
            assert!(
                reason.to_string().contains("waiter dispatch task is gone"),
                "{reason}"
            );
        }
        Err(TestError::Abort(reason)) => panic!("proptest aborted: {reason}"),
        Ok(()) => panic!("the property passed with runtime-bound-pool switched on"),
    }
}
