//! An ordered set of things to stop: the shutdown order is the order they
//! were added, written once where the group is built.
use crate::Service;
use futures::future::BoxFuture;

/// Something a [`Group`] can stop: anything built on a [`Service`] (it
/// says which with `AsRef<Service>`), so stopping is safe before start and
/// twice.
pub trait Stop: Send + Sync {
    /// Stops it and waits until it has stopped.
    fn stop(&self) -> BoxFuture<'_, ()>;
}

impl<T: AsRef<Service> + Send + Sync> Stop for T {
    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.as_ref().stop())
    }
}

/// Stops its members one after the other, first added first.
#[derive(Default)]
pub struct Group<'a> {
    members: Vec<(&'static str, &'a dyn Stop)>,
}

impl std::fmt::Debug for Group<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.members.iter().map(|(name, _)| name)).finish()
    }
}

impl<'a> Group<'a> {
    /// An empty group; add members with [`Group::then`] in stop order.
    pub fn new() -> Self {
        Group { members: Vec::new() }
    }

    /// Adds `member` to be stopped after those added before it.
    pub fn then(mut self, name: &'static str, member: &'a dyn Stop) -> Self {
        self.members.push((name, member));
        self
    }

    /// Adds `member` when there is one (an optional part of the process).
    pub fn then_some(self, name: &'static str, member: Option<&'a dyn Stop>) -> Self {
        match member {
            Some(m) => self.then(name, m),
            None => self,
        }
    }

    /// Stops every member in order, each waited for before the next.
    pub async fn stop(&self) {
        for (name, member) in &self.members {
            tracing::debug!(service = name, "stopping");
            member.stop().await;
        }
    }

    /// The members' names in stop order (for logs and tests).
    pub fn order(&self) -> Vec<&'static str> {
        self.members.iter().map(|(n, _)| *n).collect()
    }
}
