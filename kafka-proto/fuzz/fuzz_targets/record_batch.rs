//! Feeds arbitrary bytes to the record-set decoder. Decoding must never panic; whatever
//! decodes must survive an encode/decode round trip unchanged.
#![no_main]

use bytes::{Bytes, BytesMut};
use kafka_proto::record::{decode_record_batches_with, DecodeOptions, RecordBatch, RecordBatches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A small decompression cap keeps each run cheap; the bound itself is under test too.
    // CRC checking is mostly off so mutations reach the record and codec parsers.
    let opts = DecodeOptions {
        max_decompressed_size: 1 << 20,
        verify_crc: data.first() == Some(&0xff),
    };
    let input = Bytes::copy_from_slice(data);
    let Ok(set) = decode_record_batches_with(input.clone(), &opts) else {
        // The iterator must agree with the eager decoder up to the error.
        let _ = RecordBatches::with_options(input, opts).count();
        return;
    };
    for batch in &set.batches {
        let mut out = BytesMut::new();
        if batch.encode_into(&mut out).is_err() {
            continue;
        }
        match RecordBatch::decode_with(out.freeze(), &opts) {
            Ok(again) => assert_eq!(&again, batch),
            Err(e) => panic!("re-encoded batch does not decode: {e}"),
        }
    }
});
