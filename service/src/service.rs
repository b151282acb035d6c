//! A background loop with `start` and `stop`. Stop before start and a
//! second stop are no-ops, so shutdown code needs no bookkeeping.
use std::future::Future;
use std::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One background task and the token that stops it. Embed it in a
/// service type and start it once; [`Service::stop`] cancels and joins.
#[derive(Debug, Default)]
pub struct Service {
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Service {
    /// Spawns `body`, which must return soon after its token fires.
    pub fn start<F, Fut>(&self, body: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut task = self.task.lock().expect("service");
        if task.is_none() && !self.stop.is_cancelled() {
            *task = Some(tokio::spawn(body(self.stop.clone())));
        }
    }

    /// Fires the token and waits for the loop to return.
    pub async fn stop(&self) {
        self.stop.cancel();
        let task = self.task.lock().expect("service").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl AsRef<Service> for Service {
    fn as_ref(&self) -> &Service {
        self
    }
}

/// Sleeps for `d` unless `stop` fires first. False when stopped.
pub async fn pause(stop: &CancellationToken, d: std::time::Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}
