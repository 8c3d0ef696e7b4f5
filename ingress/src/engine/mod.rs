//! The delivery engine, top-down like the pipeline it is:
//! consumer (fetcher) -> [`subscription`] event loop -> [`partition`] worker (partition
//! queue, dispatcher, offset tracker) -> [`delivery`] (invoker, retries, failure policy,
//! [`dead_letter`]) -> watermark reported back to the consumer, which commits it.

mod concurrency;
pub mod dead_letter;
mod delivery;
pub mod invocation;
pub mod invoker;
mod log_throttle;
pub mod metrics;
mod partition;
pub mod partition_queue;
pub mod retry;
pub mod status;
pub mod subscription;
pub mod watermark;

pub use partition_queue::{DispatchMode, PartitionQueue};
pub use subscription::{StartError, SubscriptionConfig, SubscriptionRuntime};
pub use watermark::CommitWatermark;
