//! Helpers for the per-message round-trip tests.

use std::fmt::Debug;

use bytes::BytesMut;

use crate::api::Message;

/// Writes `msg` at `version`, reads it back, and asserts equality and that nothing is left.
pub fn round_trip<M: Message + PartialEq + Debug>(msg: &M, version: i16) {
    let mut buf = BytesMut::new();
    msg.write(&mut buf, version)
        .unwrap_or_else(|e| panic!("{} v{version} write: {e}", M::NAME));
    let mut bytes = buf.freeze();
    let back =
        M::read(&mut bytes, version).unwrap_or_else(|e| panic!("{} v{version} read: {e}", M::NAME));
    assert_eq!(&back, msg, "{} v{version} round trip", M::NAME);
    assert!(
        bytes.is_empty(),
        "{} v{version}: {} bytes left",
        M::NAME,
        bytes.len()
    );
}

/// Round-trips the message built by `make(version)` at every supported version, and checks
/// that every strict prefix of the encoding fails to decode (never panics).
pub fn round_trip_all_versions<M: Message + PartialEq + Debug>(make: impl Fn(i16) -> M) {
    for version in M::MIN_VERSION..=M::MAX_VERSION {
        let msg = make(version);
        round_trip(&msg, version);
        let mut buf = BytesMut::new();
        msg.write(&mut buf, version).unwrap();
        let full = buf.freeze();
        for cut in 0..full.len() {
            let mut prefix = full.slice(..cut);
            assert!(
                M::read(&mut prefix, version).is_err(),
                "{} v{version}: a {cut}-byte prefix of {} bytes decoded",
                M::NAME,
                full.len()
            );
        }
    }
}
