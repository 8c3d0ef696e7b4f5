//! The metadata store of `store = "kafka"`: deployments and subscriptions as records of one
//! compacted single-partition topic that every process replays in offset order.
//!
//! [`record`] is the record format; [`log`] creates, checks, appends to and tails the topic.
//! Applying the records (the state machine) is the manager's job, so the local store and the
//! Kafka store share one set of rules.

pub mod log;
pub mod record;

pub use log::{MetadataLog, MetadataLogError};
pub use record::{Command, EntityKey, MetadataRecord, PutOp, RecordError, RECORD_FORMAT};
