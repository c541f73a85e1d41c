//! What every domain shares: the tick clock, the tick profile, the inbox and the outbound events.

pub mod inbox;
pub mod tick;

pub use inbox::{Inbox, NodeEvent, NodeRequest, ReplyTo};
pub use tick::{TickClock, TickProfile};
