//! Dropping a future part-way: the tool of the cancel-safety tests.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

/// Polls `fut` at most `polls` times without a real waker, then drops it. Returns whether it
/// finished. A pending poll that did socket I/O stops at an arbitrary point of the exchange;
/// a short sleep between polls lets the server's reply arrive, so later polls get further.
pub async fn poll_then_drop<F: Future>(fut: F, polls: usize) -> bool {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..polls {
        if fut.as_mut().poll(&mut cx).is_ready() {
            return true;
        }
        tokio::time::sleep(Duration::from_micros(250)).await;
    }
    false
}
