//! The init cell's decisions one at a time, in the orders the loom models
//! reach only by chance: a build that outlived a close and a reopen, and the
//! fast path that only reads.

use racegate_pool::init::{Begin, InitCell, Published};
use racegate_pool::InitGuard;

fn claim(cell: &InitCell<u32>, generation: u64) -> racegate_pool::init::InitTicket<'_, u32> {
    match cell.begin(generation) {
        Begin::Init(ticket) => ticket,
        _ => panic!("expected to build generation {generation}"),
    }
}

/// Build A starts; the cell is closed and reopened; build B claims it.
/// A's instance must not be published (its claim is stale), nor may A's
/// end disturb B's claim; B's is published.
#[test]
fn a_build_that_outlived_a_close_and_a_reopen_does_not_publish() {
    let cell = InitCell::new(InitGuard::On);
    let a = claim(&cell, 1);
    assert!(cell.close().is_none());
    cell.reopen();
    let b = claim(&cell, 1);
    assert!(matches!(cell.begin(1), Begin::Wait), "B holds the claim");
    let (_, published) = a.complete(10);
    assert_eq!(published, Published::No, "A's claim was stale");
    assert!(
        matches!(cell.begin(1), Begin::Wait),
        "B still holds the claim"
    );
    let (value, published) = b.complete(20);
    assert_eq!((*value, published), (20, Published::Yes));
    // A stale ticket dropped unfinished leaves the new claim alone too.
    let cell = InitCell::new(InitGuard::On);
    let a = claim(&cell, 1);
    cell.close();
    cell.reopen();
    let b = claim(&cell, 1);
    drop(a);
    assert!(
        matches!(cell.begin(1), Begin::Wait),
        "B still holds the claim"
    );
    drop(b);
}

/// `ready` reads without claiming: nothing before a build, the instance for
/// the generation built (or an older one asked for), nothing for a newer one.
#[test]
fn ready_is_the_built_instance_for_its_generation_and_no_later() {
    let cell = InitCell::new(InitGuard::On);
    assert!(cell.ready(1).is_none());
    let (_, published) = claim(&cell, 2).complete(7);
    assert_eq!(published, Published::Yes);
    assert_eq!(cell.ready(1).as_deref(), Some(&7));
    assert_eq!(cell.ready(2).as_deref(), Some(&7));
    assert!(cell.ready(3).is_none());
}
