//! Feeds arbitrary bytes to the HeartbeatRequest response decoder (header included) at a version picked
//! by the first byte. Decoding must never panic; whatever decodes must re-encode and decode to
//! the same value.
#![no_main]

use bytes::{Bytes, BytesMut};
use kafka_proto::messages::heartbeat::HeartbeatRequest;
use kafka_proto::{decode_response, Message, Request};
use libfuzzer_sys::fuzz_target;

type Resp = <HeartbeatRequest as Request>::Response;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let span = (Resp::MAX_VERSION - Resp::MIN_VERSION + 1) as u8;
    let version = Resp::MIN_VERSION + i16::from(selector % span);
    let Ok((_header, decoded)) = decode_response::<HeartbeatRequest>(Bytes::copy_from_slice(rest), version) else {
        return;
    };
    let mut buf = BytesMut::new();
    decoded.write(&mut buf, version).expect("a decoded message re-encodes");
    let mut bytes = buf.freeze();
    let again = Resp::read(&mut bytes, version).expect("a re-encoded message decodes");
    assert_eq!(again, decoded);
});
