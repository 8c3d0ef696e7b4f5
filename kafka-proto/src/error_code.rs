//! Kafka error codes, as carried in the `error_code` fields of responses.
//!
//! The codes, names and the retriable classification follow apache/kafka's
//! `org.apache.kafka.common.protocol.Errors` (an error is retriable there when its exception
//! extends `RetriableException`). Codes this crate does not know decode to
//! [`ErrorCode::Unknown`] and are never retriable.

use std::fmt;

macro_rules! error_codes {
    ($( ($variant:ident, $name:literal, $code:literal, $retriable:literal), )*) => {
        /// A Kafka protocol error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($code), ").")]
                $variant,
            )*
            /// A code this crate does not know.
            Unknown(i16),
        }

        impl ErrorCode {
            /// The error for a wire code; unknown codes map to [`ErrorCode::Unknown`].
            pub fn from_code(code: i16) -> ErrorCode {
                match code {
                    $( $code => ErrorCode::$variant, )*
                    other => ErrorCode::Unknown(other),
                }
            }

            /// The wire code.
            pub fn code(self) -> i16 {
                match self {
                    $( ErrorCode::$variant => $code, )*
                    ErrorCode::Unknown(code) => code,
                }
            }

            /// Kafka's UPPER_SNAKE name for the error (`"UNKNOWN"` for unknown codes).
            pub fn name(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $name, )*
                    ErrorCode::Unknown(_) => "UNKNOWN",
                }
            }

            /// Whether Kafka classifies the error as retriable (a transient condition that
            /// the same request may get past later).
            pub fn is_retriable(self) -> bool {
                match self {
                    $( ErrorCode::$variant => $retriable, )*
                    ErrorCode::Unknown(_) => false,
                }
            }
        }
    };
}

error_codes! {
    (UnknownServerError, "UNKNOWN_SERVER_ERROR", -1, false),
    (None, "NONE", 0, false),
    (OffsetOutOfRange, "OFFSET_OUT_OF_RANGE", 1, false),
    (CorruptMessage, "CORRUPT_MESSAGE", 2, true),
    (UnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", 3, true),
    (InvalidFetchSize, "INVALID_FETCH_SIZE", 4, false),
    (LeaderNotAvailable, "LEADER_NOT_AVAILABLE", 5, true),
    (NotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", 6, true),
    (RequestTimedOut, "REQUEST_TIMED_OUT", 7, true),
    (BrokerNotAvailable, "BROKER_NOT_AVAILABLE", 8, false),
    (ReplicaNotAvailable, "REPLICA_NOT_AVAILABLE", 9, true),
    (MessageTooLarge, "MESSAGE_TOO_LARGE", 10, false),
    (StaleControllerEpoch, "STALE_CONTROLLER_EPOCH", 11, false),
    (OffsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE", 12, false),
    (NetworkException, "NETWORK_EXCEPTION", 13, true),
    (CoordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS", 14, true),
    (CoordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE", 15, true),
    (NotCoordinator, "NOT_COORDINATOR", 16, true),
    (InvalidTopicException, "INVALID_TOPIC_EXCEPTION", 17, false),
    (RecordListTooLarge, "RECORD_LIST_TOO_LARGE", 18, false),
    (NotEnoughReplicas, "NOT_ENOUGH_REPLICAS", 19, true),
    (NotEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", 20, true),
    (InvalidRequiredAcks, "INVALID_REQUIRED_ACKS", 21, false),
    (IllegalGeneration, "ILLEGAL_GENERATION", 22, false),
    (InconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL", 23, false),
    (InvalidGroupId, "INVALID_GROUP_ID", 24, false),
    (UnknownMemberId, "UNKNOWN_MEMBER_ID", 25, false),
    (InvalidSessionTimeout, "INVALID_SESSION_TIMEOUT", 26, false),
    (RebalanceInProgress, "REBALANCE_IN_PROGRESS", 27, false),
    (InvalidCommitOffsetSize, "INVALID_COMMIT_OFFSET_SIZE", 28, false),
    (TopicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED", 29, false),
    (GroupAuthorizationFailed, "GROUP_AUTHORIZATION_FAILED", 30, false),
    (ClusterAuthorizationFailed, "CLUSTER_AUTHORIZATION_FAILED", 31, false),
    (InvalidTimestamp, "INVALID_TIMESTAMP", 32, false),
    (UnsupportedSaslMechanism, "UNSUPPORTED_SASL_MECHANISM", 33, false),
    (IllegalSaslState, "ILLEGAL_SASL_STATE", 34, false),
    (UnsupportedVersion, "UNSUPPORTED_VERSION", 35, false),
    (TopicAlreadyExists, "TOPIC_ALREADY_EXISTS", 36, false),
    (InvalidPartitions, "INVALID_PARTITIONS", 37, false),
    (InvalidReplicationFactor, "INVALID_REPLICATION_FACTOR", 38, false),
    (InvalidReplicaAssignment, "INVALID_REPLICA_ASSIGNMENT", 39, false),
    (InvalidConfig, "INVALID_CONFIG", 40, false),
    (NotController, "NOT_CONTROLLER", 41, true),
    (InvalidRequest, "INVALID_REQUEST", 42, false),
    (UnsupportedForMessageFormat, "UNSUPPORTED_FOR_MESSAGE_FORMAT", 43, false),
    (PolicyViolation, "POLICY_VIOLATION", 44, false),
    (OutOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", 45, false),
    (DuplicateSequenceNumber, "DUPLICATE_SEQUENCE_NUMBER", 46, false),
    (InvalidProducerEpoch, "INVALID_PRODUCER_EPOCH", 47, false),
    (InvalidTxnState, "INVALID_TXN_STATE", 48, false),
    (InvalidProducerIdMapping, "INVALID_PRODUCER_ID_MAPPING", 49, false),
    (InvalidTransactionTimeout, "INVALID_TRANSACTION_TIMEOUT", 50, false),
    (ConcurrentTransactions, "CONCURRENT_TRANSACTIONS", 51, true),
    (TransactionCoordinatorFenced, "TRANSACTION_COORDINATOR_FENCED", 52, false),
    (TransactionalIdAuthorizationFailed, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", 53, false),
    (SecurityDisabled, "SECURITY_DISABLED", 54, false),
    (OperationNotAttempted, "OPERATION_NOT_ATTEMPTED", 55, false),
    (KafkaStorageError, "KAFKA_STORAGE_ERROR", 56, true),
    (LogDirNotFound, "LOG_DIR_NOT_FOUND", 57, false),
    (SaslAuthenticationFailed, "SASL_AUTHENTICATION_FAILED", 58, false),
    (UnknownProducerId, "UNKNOWN_PRODUCER_ID", 59, false),
    (ReassignmentInProgress, "REASSIGNMENT_IN_PROGRESS", 60, false),
    (DelegationTokenAuthDisabled, "DELEGATION_TOKEN_AUTH_DISABLED", 61, false),
    (DelegationTokenNotFound, "DELEGATION_TOKEN_NOT_FOUND", 62, false),
    (DelegationTokenOwnerMismatch, "DELEGATION_TOKEN_OWNER_MISMATCH", 63, false),
    (DelegationTokenRequestNotAllowed, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", 64, false),
    (DelegationTokenAuthorizationFailed, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", 65, false),
    (DelegationTokenExpired, "DELEGATION_TOKEN_EXPIRED", 66, false),
    (InvalidPrincipalType, "INVALID_PRINCIPAL_TYPE", 67, false),
    (NonEmptyGroup, "NON_EMPTY_GROUP", 68, false),
    (GroupIdNotFound, "GROUP_ID_NOT_FOUND", 69, false),
    (FetchSessionIdNotFound, "FETCH_SESSION_ID_NOT_FOUND", 70, true),
    (InvalidFetchSessionEpoch, "INVALID_FETCH_SESSION_EPOCH", 71, true),
    (ListenerNotFound, "LISTENER_NOT_FOUND", 72, true),
    (TopicDeletionDisabled, "TOPIC_DELETION_DISABLED", 73, false),
    (FencedLeaderEpoch, "FENCED_LEADER_EPOCH", 74, true),
    (UnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH", 75, true),
    (UnsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE", 76, false),
    (StaleBrokerEpoch, "STALE_BROKER_EPOCH", 77, false),
    (OffsetNotAvailable, "OFFSET_NOT_AVAILABLE", 78, true),
    (MemberIdRequired, "MEMBER_ID_REQUIRED", 79, false),
    (PreferredLeaderNotAvailable, "PREFERRED_LEADER_NOT_AVAILABLE", 80, true),
    (GroupMaxSizeReached, "GROUP_MAX_SIZE_REACHED", 81, false),
    (FencedInstanceId, "FENCED_INSTANCE_ID", 82, false),
    (EligibleLeadersNotAvailable, "ELIGIBLE_LEADERS_NOT_AVAILABLE", 83, true),
    (ElectionNotNeeded, "ELECTION_NOT_NEEDED", 84, true),
    (NoReassignmentInProgress, "NO_REASSIGNMENT_IN_PROGRESS", 85, false),
    (GroupSubscribedToTopic, "GROUP_SUBSCRIBED_TO_TOPIC", 86, false),
    (InvalidRecord, "INVALID_RECORD", 87, false),
    (UnstableOffsetCommit, "UNSTABLE_OFFSET_COMMIT", 88, true),
    (ThrottlingQuotaExceeded, "THROTTLING_QUOTA_EXCEEDED", 89, true),
    (ProducerFenced, "PRODUCER_FENCED", 90, false),
    (ResourceNotFound, "RESOURCE_NOT_FOUND", 91, false),
    (DuplicateResource, "DUPLICATE_RESOURCE", 92, false),
    (UnacceptableCredential, "UNACCEPTABLE_CREDENTIAL", 93, false),
    (InconsistentVoterSet, "INCONSISTENT_VOTER_SET", 94, false),
    (InvalidUpdateVersion, "INVALID_UPDATE_VERSION", 95, false),
    (FeatureUpdateFailed, "FEATURE_UPDATE_FAILED", 96, false),
    (PrincipalDeserializationFailure, "PRINCIPAL_DESERIALIZATION_FAILURE", 97, false),
    (SnapshotNotFound, "SNAPSHOT_NOT_FOUND", 98, false),
    (PositionOutOfRange, "POSITION_OUT_OF_RANGE", 99, false),
    (UnknownTopicId, "UNKNOWN_TOPIC_ID", 100, true),
    (DuplicateBrokerRegistration, "DUPLICATE_BROKER_REGISTRATION", 101, false),
    (BrokerIdNotRegistered, "BROKER_ID_NOT_REGISTERED", 102, false),
    (InconsistentTopicId, "INCONSISTENT_TOPIC_ID", 103, true),
    (InconsistentClusterId, "INCONSISTENT_CLUSTER_ID", 104, false),
    (TransactionalIdNotFound, "TRANSACTIONAL_ID_NOT_FOUND", 105, false),
    (FetchSessionTopicIdError, "FETCH_SESSION_TOPIC_ID_ERROR", 106, true),
    (IneligibleReplica, "INELIGIBLE_REPLICA", 107, false),
    (NewLeaderElected, "NEW_LEADER_ELECTED", 108, false),
    (OffsetMovedToTieredStorage, "OFFSET_MOVED_TO_TIERED_STORAGE", 109, false),
    (FencedMemberEpoch, "FENCED_MEMBER_EPOCH", 110, false),
    (UnreleasedInstanceId, "UNRELEASED_INSTANCE_ID", 111, false),
    (UnsupportedAssignor, "UNSUPPORTED_ASSIGNOR", 112, false),
    (StaleMemberEpoch, "STALE_MEMBER_EPOCH", 113, false),
    (MismatchedEndpointType, "MISMATCHED_ENDPOINT_TYPE", 114, false),
    (UnsupportedEndpointType, "UNSUPPORTED_ENDPOINT_TYPE", 115, false),
    (UnknownControllerId, "UNKNOWN_CONTROLLER_ID", 116, false),
    (UnknownSubscriptionId, "UNKNOWN_SUBSCRIPTION_ID", 117, false),
    (TelemetryTooLarge, "TELEMETRY_TOO_LARGE", 118, false),
    (InvalidRegistration, "INVALID_REGISTRATION", 119, false),
    (TransactionAbortable, "TRANSACTION_ABORTABLE", 120, false),
    (InvalidRecordState, "INVALID_RECORD_STATE", 121, false),
    (ShareSessionNotFound, "SHARE_SESSION_NOT_FOUND", 122, true),
    (InvalidShareSessionEpoch, "INVALID_SHARE_SESSION_EPOCH", 123, true),
    (FencedStateEpoch, "FENCED_STATE_EPOCH", 124, false),
    (InvalidVoterKey, "INVALID_VOTER_KEY", 125, false),
    (DuplicateVoter, "DUPLICATE_VOTER", 126, false),
    (VoterNotFound, "VOTER_NOT_FOUND", 127, false),
    (InvalidRegularExpression, "INVALID_REGULAR_EXPRESSION", 128, false),
    (RebootstrapRequired, "REBOOTSTRAP_REQUIRED", 129, false),
    (StreamsInvalidTopology, "STREAMS_INVALID_TOPOLOGY", 130, false),
    (StreamsInvalidTopologyEpoch, "STREAMS_INVALID_TOPOLOGY_EPOCH", 131, false),
    (StreamsTopologyFenced, "STREAMS_TOPOLOGY_FENCED", 132, false),
    (ShareSessionLimitReached, "SHARE_SESSION_LIMIT_REACHED", 133, true),
}

impl ErrorCode {
    /// Whether this is [`ErrorCode::None`], i.e. success.
    pub fn is_ok(self) -> bool {
        self == ErrorCode::None
    }

    /// `Ok(())` for [`ErrorCode::None`], otherwise `Err(self)`.
    pub fn into_result(self) -> Result<(), ErrorCode> {
        if self.is_ok() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode::from_code(code)
    }
}

impl From<ErrorCode> for i16 {
    fn from(e: ErrorCode) -> Self {
        e.code()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Unknown(code) => write!(f, "UNKNOWN({code})"),
            known => write!(f, "{}({})", known.name(), known.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_kafka() {
        let expected: &[(ErrorCode, i16, &str)] = &[
            (ErrorCode::None, 0, "NONE"),
            (ErrorCode::UnknownServerError, -1, "UNKNOWN_SERVER_ERROR"),
            (ErrorCode::OffsetOutOfRange, 1, "OFFSET_OUT_OF_RANGE"),
            (ErrorCode::CorruptMessage, 2, "CORRUPT_MESSAGE"),
            (
                ErrorCode::UnknownTopicOrPartition,
                3,
                "UNKNOWN_TOPIC_OR_PARTITION",
            ),
            (ErrorCode::LeaderNotAvailable, 5, "LEADER_NOT_AVAILABLE"),
            (ErrorCode::NotLeaderOrFollower, 6, "NOT_LEADER_OR_FOLLOWER"),
            (ErrorCode::RequestTimedOut, 7, "REQUEST_TIMED_OUT"),
            (ErrorCode::NetworkException, 13, "NETWORK_EXCEPTION"),
            (
                ErrorCode::CoordinatorLoadInProgress,
                14,
                "COORDINATOR_LOAD_IN_PROGRESS",
            ),
            (
                ErrorCode::CoordinatorNotAvailable,
                15,
                "COORDINATOR_NOT_AVAILABLE",
            ),
            (ErrorCode::NotCoordinator, 16, "NOT_COORDINATOR"),
            (ErrorCode::IllegalGeneration, 22, "ILLEGAL_GENERATION"),
            (
                ErrorCode::InconsistentGroupProtocol,
                23,
                "INCONSISTENT_GROUP_PROTOCOL",
            ),
            (ErrorCode::InvalidGroupId, 24, "INVALID_GROUP_ID"),
            (ErrorCode::UnknownMemberId, 25, "UNKNOWN_MEMBER_ID"),
            (
                ErrorCode::InvalidSessionTimeout,
                26,
                "INVALID_SESSION_TIMEOUT",
            ),
            (ErrorCode::RebalanceInProgress, 27, "REBALANCE_IN_PROGRESS"),
            (
                ErrorCode::TopicAuthorizationFailed,
                29,
                "TOPIC_AUTHORIZATION_FAILED",
            ),
            (
                ErrorCode::GroupAuthorizationFailed,
                30,
                "GROUP_AUTHORIZATION_FAILED",
            ),
            (
                ErrorCode::UnsupportedSaslMechanism,
                33,
                "UNSUPPORTED_SASL_MECHANISM",
            ),
            (ErrorCode::IllegalSaslState, 34, "ILLEGAL_SASL_STATE"),
            (ErrorCode::UnsupportedVersion, 35, "UNSUPPORTED_VERSION"),
            (
                ErrorCode::SaslAuthenticationFailed,
                58,
                "SASL_AUTHENTICATION_FAILED",
            ),
            (
                ErrorCode::FetchSessionIdNotFound,
                70,
                "FETCH_SESSION_ID_NOT_FOUND",
            ),
            (
                ErrorCode::InvalidFetchSessionEpoch,
                71,
                "INVALID_FETCH_SESSION_EPOCH",
            ),
            (ErrorCode::FencedLeaderEpoch, 74, "FENCED_LEADER_EPOCH"),
            (ErrorCode::UnknownLeaderEpoch, 75, "UNKNOWN_LEADER_EPOCH"),
            (ErrorCode::OffsetNotAvailable, 78, "OFFSET_NOT_AVAILABLE"),
            (ErrorCode::MemberIdRequired, 79, "MEMBER_ID_REQUIRED"),
            (ErrorCode::GroupMaxSizeReached, 81, "GROUP_MAX_SIZE_REACHED"),
            (ErrorCode::FencedInstanceId, 82, "FENCED_INSTANCE_ID"),
            (
                ErrorCode::UnstableOffsetCommit,
                88,
                "UNSTABLE_OFFSET_COMMIT",
            ),
            (ErrorCode::UnknownTopicId, 100, "UNKNOWN_TOPIC_ID"),
            (ErrorCode::InconsistentTopicId, 103, "INCONSISTENT_TOPIC_ID"),
            (ErrorCode::FencedMemberEpoch, 110, "FENCED_MEMBER_EPOCH"),
            (
                ErrorCode::UnreleasedInstanceId,
                111,
                "UNRELEASED_INSTANCE_ID",
            ),
            (ErrorCode::UnsupportedAssignor, 112, "UNSUPPORTED_ASSIGNOR"),
            (ErrorCode::StaleMemberEpoch, 113, "STALE_MEMBER_EPOCH"),
        ];
        for &(err, code, name) in expected {
            assert_eq!(err.code(), code, "{name}");
            assert_eq!(err.name(), name);
            assert_eq!(ErrorCode::from_code(code), err);
        }
    }

    #[test]
    fn every_known_code_round_trips() {
        for code in -1..=133 {
            let e = ErrorCode::from_code(code);
            assert!(!matches!(e, ErrorCode::Unknown(_)), "code {code}");
            assert_eq!(e.code(), code);
            assert_eq!(i16::from(e), code);
        }
    }

    #[test]
    fn unknown_codes_are_kept() {
        for code in [-2, 134, 999, i16::MAX, i16::MIN] {
            let e = ErrorCode::from(code);
            assert_eq!(e, ErrorCode::Unknown(code));
            assert_eq!(e.code(), code);
            assert!(!e.is_retriable());
            assert_eq!(e.to_string(), format!("UNKNOWN({code})"));
        }
    }

    #[test]
    fn retriable_classification_follows_kafka() {
        let retriable = [
            ErrorCode::CorruptMessage,
            ErrorCode::UnknownTopicOrPartition,
            ErrorCode::LeaderNotAvailable,
            ErrorCode::NotLeaderOrFollower,
            ErrorCode::RequestTimedOut,
            ErrorCode::NetworkException,
            ErrorCode::CoordinatorLoadInProgress,
            ErrorCode::CoordinatorNotAvailable,
            ErrorCode::NotCoordinator,
            ErrorCode::FetchSessionIdNotFound,
            ErrorCode::InvalidFetchSessionEpoch,
            ErrorCode::FencedLeaderEpoch,
            ErrorCode::UnknownLeaderEpoch,
            ErrorCode::OffsetNotAvailable,
            ErrorCode::UnstableOffsetCommit,
            ErrorCode::UnknownTopicId,
            ErrorCode::InconsistentTopicId,
        ];
        for e in retriable {
            assert!(e.is_retriable(), "{e}");
        }
        let fatal = [
            ErrorCode::None,
            ErrorCode::UnknownServerError,
            ErrorCode::OffsetOutOfRange,
            ErrorCode::IllegalGeneration,
            ErrorCode::InconsistentGroupProtocol,
            ErrorCode::InvalidGroupId,
            ErrorCode::UnknownMemberId,
            ErrorCode::InvalidSessionTimeout,
            ErrorCode::RebalanceInProgress,
            ErrorCode::TopicAuthorizationFailed,
            ErrorCode::GroupAuthorizationFailed,
            ErrorCode::UnsupportedSaslMechanism,
            ErrorCode::IllegalSaslState,
            ErrorCode::UnsupportedVersion,
            ErrorCode::SaslAuthenticationFailed,
            ErrorCode::MemberIdRequired,
            ErrorCode::FencedInstanceId,
            ErrorCode::GroupMaxSizeReached,
            ErrorCode::FencedMemberEpoch,
            ErrorCode::UnreleasedInstanceId,
            ErrorCode::UnsupportedAssignor,
            ErrorCode::StaleMemberEpoch,
        ];
        for e in fatal {
            assert!(!e.is_retriable(), "{e}");
        }
    }

    #[test]
    fn display_and_helpers() {
        assert_eq!(ErrorCode::NotCoordinator.to_string(), "NOT_COORDINATOR(16)");
        assert_eq!(ErrorCode::None.into_result(), Ok(()));
        assert_eq!(
            ErrorCode::from_code(27).into_result(),
            Err(ErrorCode::RebalanceInProgress)
        );
    }
}
