//! What wakes an idle tick loop (see [`super::driver`]): input arriving in one of the channels
//! the tick's systems drain, or a timer of the tick's own coming due. A channel a new system
//! drains belongs in [`Node::wake_sources`] too, or its messages wait for the idle tick.

use std::time::Duration;

use crossbeam_channel::{Receiver, Select};
use zg_components::chain::ChainSpec;
use zg_components::consensus::NetInbox;
use zg_components::da::DispersalReports;
use zg_components::node::Inbox;
use zg_components::storage::StorageInbox;
use zg_components::verifiable::jobs::{ProofInbox, ProofResults};
use zg_systems::chain::producer::SealSchedule;
use zg_systems::chain::writer::BlockWriter;

use super::Node;

/// A channel whose receiver a waiting loop can watch without taking its messages.
trait Watched: Send {
    fn register<'a>(&'a self, select: &mut Select<'a>);
    fn is_empty(&self) -> bool;
}

impl<T: Send> Watched for Receiver<T> {
    fn register<'a>(&'a self, select: &mut Select<'a>) {
        select.recv(self);
    }

    fn is_empty(&self) -> bool {
        Receiver::is_empty(self)
    }
}

/// Clones of the receivers the tick drains (taking nothing from them).
pub struct WakeSources(Vec<Box<dyn Watched>>);

impl WakeSources {
    /// Whether a message waits in one of the channels.
    pub fn any_waiting(&self) -> bool {
        self.0.iter().any(|source| !source.is_empty())
    }

    /// Waits `timeout`, or only until a message waits in one of the channels once `at_least`
    /// has passed (the spacing between ticks). A channel whose every sender went away reads as
    /// ready forever; it is dropped from the watch (the idle tick still drains it).
    pub fn wait(&mut self, timeout: Duration, at_least: Duration) {
        let started = std::time::Instant::now();
        if timeout <= at_least {
            std::thread::sleep(timeout);
            return;
        }
        let ready = {
            let mut select = Select::new();
            // Select numbers its operations from 0 in the order they are added: a ready
            // operation's index is its source's position.
            for source in &self.0 {
                source.register(&mut select);
            }
            select.ready_timeout(timeout).ok()
        };
        if let Some(position) = ready
            && self.0[position].is_empty()
        {
            self.0.swap_remove(position);
        }
        if let Some(short) = at_least.checked_sub(started.elapsed()) {
            std::thread::sleep(short);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl Node {
    /// The channels whose messages should wake an idle tick: requests, network messages,
    /// storage and DA reports, proof requests and results, finished block commits.
    pub fn wake_sources(&self) -> WakeSources {
        let world = &self.world;
        let mut sources: Vec<Box<dyn Watched>> = Vec::new();
        let mut watch = |source: Option<Box<dyn Watched>>| sources.extend(source);
        watch(world.get_resource::<Inbox>().map(|r| Box::new(r.0.clone()) as _));
        watch(world.get_resource::<NetInbox>().map(|r| Box::new(r.0.clone()) as _));
        watch(world.get_resource::<StorageInbox>().map(|r| Box::new(r.0.clone()) as _));
        watch(world.get_resource::<DispersalReports>().map(|r| Box::new(r.0.clone()) as _));
        watch(world.get_resource::<ProofInbox>().map(|r| Box::new(r.0.clone()) as _));
        watch(world.get_resource::<ProofResults>().map(|r| Box::new(r.receiver.clone()) as _));
        watch(world.get_resource::<BlockWriter>().map(|w| Box::new(w.finished_commits()) as _));
        WakeSources(sources)
    }

    /// How long after `now_ms` (tick clock) the tick's next timer comes due: the next scheduled
    /// block. None when no timer is ahead (an empty block the producer declined because the wall
    /// clock has not passed its parent's second is retried by the idle tick).
    pub fn next_deadline_after(&self, now_ms: u64) -> Option<Duration> {
        let block_time = self.world.get_resource::<ChainSpec>().map_or(0, |spec| spec.block_time_ms);
        let next_seal = self.world.get_resource::<SealSchedule>()?.next_seal_ms;
        (block_time > 0 && next_seal > now_ms).then(|| Duration::from_millis(next_seal - now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_message_ends_the_wait_and_stays_for_the_tick() {
        let (sender, receiver) = crossbeam_channel::unbounded::<u32>();
        let mut sources = WakeSources(vec![Box::new(receiver.clone())]);
        let started = Instant::now();
        sources.wait(Duration::from_millis(30), Duration::ZERO);
        assert!(started.elapsed() >= Duration::from_millis(30), "nothing waits: the whole timeout");
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            sender.send(7).unwrap();
            sender
        });
        let started = Instant::now();
        sources.wait(Duration::from_secs(10), Duration::ZERO);
        assert!(started.elapsed() < Duration::from_secs(5), "woken by the message");
        assert_eq!(receiver.try_recv(), Ok(7), "watching takes nothing");
        drop(waker.join().unwrap());
    }

    #[test]
    fn a_channel_without_senders_is_dropped_instead_of_waking_forever() {
        let (sender, receiver) = crossbeam_channel::unbounded::<u32>();
        let (_kept, other) = crossbeam_channel::unbounded::<u32>();
        drop(sender);
        let mut sources = WakeSources(vec![Box::new(receiver), Box::new(other)]);
        sources.wait(Duration::from_millis(10), Duration::ZERO);
        assert_eq!(sources.len(), 1);
        let started = Instant::now();
        sources.wait(Duration::from_millis(30), Duration::ZERO);
        assert!(started.elapsed() >= Duration::from_millis(30), "the live channel is still waited on");
    }

    #[test]
    fn a_message_does_not_cut_the_spacing_between_ticks() {
        let (sender, receiver) = crossbeam_channel::unbounded::<u32>();
        sender.send(1).unwrap();
        let mut sources = WakeSources(vec![Box::new(receiver)]);
        assert!(sources.any_waiting());
        let started = Instant::now();
        sources.wait(Duration::from_secs(10), Duration::from_millis(20));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(20) && waited < Duration::from_secs(5), "{waited:?}");
    }
}
