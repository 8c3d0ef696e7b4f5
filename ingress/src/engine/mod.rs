//! The delivery engine: fetched records -> partition queues -> dispatcher -> invoker ->
//! offset tracker -> committer. Each stage is a module with one job.

pub mod invocation;
pub mod invoker;
pub mod partition_queue;
pub mod retry;
pub mod watermark;

pub use partition_queue::{DispatchMode, PartitionQueue};
pub use watermark::CommitWatermark;
