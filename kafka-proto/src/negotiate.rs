//! API version negotiation: intersect the ranges a broker advertises in its ApiVersions
//! response with the ranges this crate implements, and pick the highest common version.
//!
//! Our range for a request type comes from its [`Message`] constants, so
//! [`NegotiatedVersions::version_for`] works for any [`Request`] without a table here.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use thiserror::Error;

use crate::api::{ApiKey, Message, Request};
use crate::messages::api_versions::ApiVersionsResponse;

/// Why no version could be picked for an API.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NegotiationError {
    /// The broker did not list the API at all.
    #[error(
        "broker does not support {api} (API key {key}); we support versions {our_min}..={our_max}"
    )]
    NotSupportedByBroker {
        /// The API name.
        api: &'static str,
        /// The API key.
        key: i16,
        /// Our lowest version.
        our_min: i16,
        /// Our highest version.
        our_max: i16,
    },
    /// The broker's range and ours do not overlap.
    #[error("no common version for {api} (API key {key}): we support {our_min}..={our_max}, broker supports {broker_min}..={broker_max}")]
    NoOverlap {
        /// The API name.
        api: &'static str,
        /// The API key.
        key: i16,
        /// Our lowest version.
        our_min: i16,
        /// Our highest version.
        our_max: i16,
        /// The broker's lowest version.
        broker_min: i16,
        /// The broker's highest version.
        broker_max: i16,
    },
}

impl NegotiationError {
    /// The API the error is about.
    pub fn api_key(&self) -> Option<ApiKey> {
        match self {
            NegotiationError::NotSupportedByBroker { key, .. }
            | NegotiationError::NoOverlap { key, .. } => ApiKey::from_code(*key),
        }
    }
}

/// The broker's advertised version ranges, ready to be intersected with ours.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegotiatedVersions {
    broker: HashMap<i16, (i16, i16)>,
}

impl NegotiatedVersions {
    /// Collects the ranges from a decoded ApiVersions response. The caller should have checked
    /// its error code (`UNSUPPORTED_VERSION` responses list only ApiVersions itself). When a
    /// key is listed twice, the first entry wins.
    pub fn from_response(response: &ApiVersionsResponse) -> Self {
        let mut broker = HashMap::with_capacity(response.api_keys.len());
        for a in &response.api_keys {
            broker
                .entry(a.api_key)
                .or_insert((a.min_version, a.max_version));
        }
        Self { broker }
    }

    /// The broker's advertised range for `key`, if it lists it.
    pub fn broker_range(&self, key: ApiKey) -> Option<RangeInclusive<i16>> {
        self.broker.get(&key.code()).map(|&(lo, hi)| lo..=hi)
    }

    /// The highest version in both `ours` and the broker's range for `key`.
    pub fn version(&self, key: ApiKey, ours: RangeInclusive<i16>) -> Result<i16, NegotiationError> {
        let (our_min, our_max) = (*ours.start(), *ours.end());
        let Some(&(broker_min, broker_max)) = self.broker.get(&key.code()) else {
            return Err(NegotiationError::NotSupportedByBroker {
                api: key.name(),
                key: key.code(),
                our_min,
                our_max,
            });
        };
        let lo = our_min.max(broker_min);
        let hi = our_max.min(broker_max);
        if lo <= hi {
            Ok(hi)
        } else {
            Err(NegotiationError::NoOverlap {
                api: key.name(),
                key: key.code(),
                our_min,
                our_max,
                broker_min,
                broker_max,
            })
        }
    }

    /// The version to send `R` at: the highest in both `R::MIN_VERSION..=R::MAX_VERSION` and
    /// the broker's range.
    pub fn version_for<R: Request>(&self) -> Result<i16, NegotiationError> {
        self.version(R::API_KEY, R::MIN_VERSION..=R::MAX_VERSION)
    }

    /// The outcome for every key with a range in [`our_range`], in [`ApiKey::ALL`] order.
    pub fn negotiate_known(&self) -> Vec<(ApiKey, Result<i16, NegotiationError>)> {
        ApiKey::ALL
            .into_iter()
            .filter_map(|key| our_range(key).map(|ours| (key, self.version(key, ours))))
            .collect()
    }

    /// Whether `version_for::<R>()` would succeed.
    pub fn supports<R: Request>(&self) -> bool {
        self.version_for::<R>().is_ok()
    }
}

/// The ranges this crate implements for the request types of this module's sibling APIs
/// (those of other modules come from [`NegotiatedVersions::version_for`]).
pub fn our_range(key: ApiKey) -> Option<RangeInclusive<i16>> {
    use crate::messages::{
        api_versions::ApiVersionsRequest, consumer_group_describe::ConsumerGroupDescribeRequest,
        consumer_group_heartbeat::ConsumerGroupHeartbeatRequest,
        find_coordinator::FindCoordinatorRequest, heartbeat::HeartbeatRequest,
        join_group::JoinGroupRequest, leave_group::LeaveGroupRequest, metadata::MetadataRequest,
        sync_group::SyncGroupRequest,
    };
    fn r<M: Message>() -> Option<RangeInclusive<i16>> {
        Some(M::MIN_VERSION..=M::MAX_VERSION)
    }
    match key {
        ApiKey::ApiVersions => r::<ApiVersionsRequest>(),
        ApiKey::Metadata => r::<MetadataRequest>(),
        ApiKey::FindCoordinator => r::<FindCoordinatorRequest>(),
        ApiKey::JoinGroup => r::<JoinGroupRequest>(),
        ApiKey::Heartbeat => r::<HeartbeatRequest>(),
        ApiKey::LeaveGroup => r::<LeaveGroupRequest>(),
        ApiKey::SyncGroup => r::<SyncGroupRequest>(),
        ApiKey::ConsumerGroupHeartbeat => r::<ConsumerGroupHeartbeatRequest>(),
        ApiKey::ConsumerGroupDescribe => r::<ConsumerGroupDescribeRequest>(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::api_versions::ApiVersion;
    use crate::messages::consumer_group_heartbeat::ConsumerGroupHeartbeatRequest;
    use crate::messages::join_group::JoinGroupRequest;
    use crate::messages::metadata::MetadataRequest;

    fn broker(ranges: &[(i16, i16, i16)]) -> NegotiatedVersions {
        NegotiatedVersions::from_response(&ApiVersionsResponse {
            api_keys: ranges
                .iter()
                .map(|&(api_key, min_version, max_version)| ApiVersion {
                    api_key,
                    min_version,
                    max_version,
                    unknown_tagged_fields: vec![],
                })
                .collect(),
            ..ApiVersionsResponse::default()
        })
    }

    #[test]
    fn picks_the_highest_common_version() {
        // Metadata: broker 0..=12 (3.9) vs ours 0..=13; JoinGroup broker 0..=9.
        let n = broker(&[(3, 0, 12), (11, 0, 9), (18, 0, 4)]);
        assert_eq!(n.version_for::<MetadataRequest>(), Ok(12));
        assert_eq!(n.version_for::<JoinGroupRequest>(), Ok(9));
        assert_eq!(n.version(ApiKey::Metadata, 0..=5), Ok(5));
        assert_eq!(n.version(ApiKey::Metadata, 12..=20), Ok(12));
        assert_eq!(n.broker_range(ApiKey::Metadata), Some(0..=12));
        assert!(n.supports::<MetadataRequest>());
    }

    #[test]
    fn no_overlap_names_the_api_and_both_ranges() {
        let n = broker(&[(1, 4, 17)]);
        let err = n.version(ApiKey::Fetch, 0..=3).unwrap_err();
        assert_eq!(
            err,
            NegotiationError::NoOverlap {
                api: "Fetch",
                key: 1,
                our_min: 0,
                our_max: 3,
                broker_min: 4,
                broker_max: 17,
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains("Fetch") && msg.contains("0..=3") && msg.contains("4..=17"),
            "{msg}"
        );
        assert_eq!(err.api_key(), Some(ApiKey::Fetch));
    }

    #[test]
    fn missing_api_is_an_error() {
        let n = broker(&[(18, 0, 4)]);
        let err = n
            .version_for::<ConsumerGroupHeartbeatRequest>()
            .unwrap_err();
        assert!(matches!(
            err,
            NegotiationError::NotSupportedByBroker {
                api: "ConsumerGroupHeartbeat",
                key: 68,
                ..
            }
        ));
        assert!(err.to_string().contains("ConsumerGroupHeartbeat"));
        assert!(!n.supports::<ConsumerGroupHeartbeatRequest>());
    }

    #[test]
    fn negotiates_every_known_api() {
        let n = broker(&[(3, 0, 12), (18, 0, 3), (68, 0, 0)]);
        let all = n.negotiate_known();
        assert_eq!(all.len(), 9);
        let get = |k| {
            all.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, r)| r.clone())
        };
        assert_eq!(get(ApiKey::Metadata), Some(Ok(12)));
        assert_eq!(get(ApiKey::ApiVersions), Some(Ok(3)));
        assert_eq!(get(ApiKey::ConsumerGroupHeartbeat), Some(Ok(0)));
        assert!(matches!(get(ApiKey::JoinGroup), Some(Err(_))));
        assert_eq!(get(ApiKey::Fetch), None);
    }

    #[test]
    fn inverted_broker_range_never_overlaps() {
        let n = broker(&[(3, 9, 2)]);
        assert!(n.version_for::<MetadataRequest>().is_err());
    }

    #[test]
    fn our_ranges_come_from_the_message_constants() {
        assert_eq!(our_range(ApiKey::Metadata), Some(0..=13));
        assert_eq!(our_range(ApiKey::ApiVersions), Some(0..=4));
        assert_eq!(our_range(ApiKey::ConsumerGroupHeartbeat), Some(0..=1));
        assert_eq!(our_range(ApiKey::Produce), None);
    }
}
