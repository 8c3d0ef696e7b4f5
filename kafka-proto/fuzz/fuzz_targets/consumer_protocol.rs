//! Feeds arbitrary bytes to the consumer-protocol subscription and assignment decoders
//! (group member metadata and assignments travel through the coordinator as opaque bytes).
#![no_main]

use bytes::{Bytes, BytesMut};
use kafka_proto::consumer_protocol::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok((version, sub)) = ConsumerProtocolSubscription::read_versioned(&mut input.clone()) {
        let version = version.min(3);
        let mut buf = BytesMut::new();
        sub.write(&mut buf, version).expect("a decoded subscription re-encodes");
        let again = ConsumerProtocolSubscription::read(&mut buf.freeze()).expect("re-decodes");
        assert_eq!(again, sub);
    }
    if let Ok((version, asg)) = ConsumerProtocolAssignment::read_versioned(&mut input.clone()) {
        let version = version.min(3);
        let mut buf = BytesMut::new();
        asg.write(&mut buf, version).expect("a decoded assignment re-encodes");
        let again = ConsumerProtocolAssignment::read(&mut buf.freeze()).expect("re-decodes");
        assert_eq!(again, asg);
    }
});
