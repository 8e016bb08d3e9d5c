//! Which connections the proxy broke on purpose, by the client's port, so
//! that a request that failed on one is counted as *faulted*, not judged.
//!
//! The proxy marks a connection's client port just before it resets,
//! stalls or closes it, and clears the mark when it accepts a new
//! connection from that port (ports are reused). A request that failed
//! unanswered on a marked port was broken by the proxy.

use std::sync::atomic::{AtomicU64, Ordering};

/// One bit per TCP port.
pub struct Broken(Box<[AtomicU64]>);

impl Default for Broken {
    fn default() -> Self {
        Self((0..1024).map(|_| AtomicU64::new(0)).collect())
    }
}

impl std::fmt::Debug for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Broken(..)")
    }
}

impl Broken {
    fn at(&self, port: u16) -> (&AtomicU64, u64) {
        (&self.0[usize::from(port >> 6)], 1 << (port & 63))
    }

    /// The proxy is about to break the connection from `port`.
    pub fn mark(&self, port: u16) {
        let (word, bit) = self.at(port);
        word.fetch_or(bit, Ordering::SeqCst);
    }

    /// A new connection from `port`: whatever was done to the last one is
    /// not this one's doing.
    pub fn clear(&self, port: u16) {
        let (word, bit) = self.at(port);
        word.fetch_and(!bit, Ordering::SeqCst);
    }

    /// Whether the connection from `port` was broken on purpose.
    pub fn is_marked(&self, port: u16) -> bool {
        let (word, bit) = self.at(port);
        word.load(Ordering::SeqCst) & bit != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_per_port_and_cleared_by_a_new_connection() {
        let b = Broken::default();
        for port in [0, 1, 63, 64, 40_000, u16::MAX] {
            assert!(!b.is_marked(port));
            b.mark(port);
            assert!(b.is_marked(port));
        }
        assert!(!b.is_marked(2) && !b.is_marked(65));
        b.clear(64);
        assert!(!b.is_marked(64) && b.is_marked(63));
    }
}
