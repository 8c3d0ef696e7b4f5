//! Resource ids in Restate's format, so Restate's CLI and clients accept ours.
//!
//! `<prefix>_1<22 base62 chars>`: the `1` is Restate's id scheme version, the payload a ULID
//! (48 bits of Unix milliseconds, 80 random bits) as a `u128` with its bytes swapped (Restate
//! encodes the big-endian bytes read as a native little-endian integer), written in base62
//! with the alphabet `0-9a-z A-Z`, left-padded with `0` to 22 characters. Other random ids
//! (instance ids, request ids) are a prefix and random base62 characters.

use rand::distr::{Alphanumeric, SampleString};

/// How many random characters follow the prefix of a [`random_id`] (~154 bits).
pub(crate) const RANDOM_ID_CHARS: usize = 26;

/// Restate's id scheme version character.
const SCHEME_VERSION: char = '1';
/// The base62 alphabet of Restate ids (digits, lower case, upper case).
const ALPHABET: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// The payload width: ceil(128 / log2(62)).
const PAYLOAD_CHARS: usize = 22;

/// `prefix` followed by [`RANDOM_ID_CHARS`] random `[0-9A-Za-z]` characters.
pub(crate) fn random_id(prefix: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + RANDOM_ID_CHARS);
    id.push_str(prefix);
    Alphanumeric.append_string(&mut rand::rng(), &mut id, RANDOM_ID_CHARS);
    id
}

/// A new Restate-format id, e.g. `restate_id("sub_")` = `sub_1...` (28 characters).
pub(crate) fn restate_id(prefix: &str) -> String {
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u128;
    let random: u128 = rand::random::<u128>() & ((1u128 << 80) - 1);
    encode_restate_id(prefix, ((millis & ((1u128 << 48) - 1)) << 80) | random)
}

/// `prefix` + the scheme version + the base62 payload of `ulid`.
pub(crate) fn encode_restate_id(prefix: &str, ulid: u128) -> String {
    let mut n = ulid.swap_bytes();
    let mut digits = [b'0'; PAYLOAD_CHARS];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    let mut id = String::with_capacity(prefix.len() + 1 + PAYLOAD_CHARS);
    id.push_str(prefix);
    id.push(SCHEME_VERSION);
    id.extend(digits.iter().map(|d| char::from(*d)));
    id
}

/// The id the admin API shows for `id`: `id` itself when it is in Restate's format, else
/// (an id made before kafka-ingress used Restate's format) a Restate-format alias derived from
/// it, so every process and every restart shows the same one, and Restate's CLI can decode it.
/// The entity keeps its id (a subscription's default `group.id` is its id); both are accepted
/// in paths.
pub fn public_id(prefix: &str, id: &str) -> String {
    if decode_restate_id(prefix, id).is_some() {
        return id.to_owned();
    }
    // FNV-1a, 128 bits: stable across builds and platforms.
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in id.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    encode_restate_id(prefix, hash)
}

/// The ULID of a Restate-format id with `prefix`, or `None` if it is not one (for example an
/// id generated before kafka-ingress used Restate's format). Tests check the encoding with it
/// against Restate's own ids.
pub(crate) fn decode_restate_id(prefix: &str, id: &str) -> Option<u128> {
    let rest = id.strip_prefix(prefix)?.strip_prefix(SCHEME_VERSION)?;
    if rest.len() != PAYLOAD_CHARS {
        return None;
    }
    let mut n: u128 = 0;
    for c in rest.bytes() {
        let digit = ALPHABET.iter().position(|a| *a == c)? as u128;
        n = n.checked_mul(62)?.checked_add(digit)?;
    }
    Some(n.swap_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn legacy_ids_get_a_stable_restate_format_alias() {
        let restate = restate_id("sub_");
        assert_eq!(public_id("sub_", &restate), restate);
        let legacy = "sub_Ab3dEfGh1jKlMnOpQrStUvWxYz";
        let alias = public_id("sub_", legacy);
        assert_ne!(alias, legacy);
        assert!(decode_restate_id("sub_", &alias).is_some(), "{alias}");
        assert_eq!(public_id("sub_", legacy), alias, "stable");
        assert_ne!(public_id("sub_", "sub_Ab3dEfGh1jKlMnOpQrStUvWxYZ"), alias);
        // Pinned: the alias must never change between versions (users script with it).
        assert_eq!(alias, "sub_13OFnC039QZj4cV9L4UCj7C");
        assert_eq!(
            public_id("dp_", "dp_legacy").len(),
            "dp_".len() + 1 + PAYLOAD_CHARS
        );
    }

    #[test]
    fn ids_have_prefix_length_and_charset_and_differ() {
        let a = random_id("dp_");
        let b = random_id("dp_");
        assert_ne!(a, b);
        let rest = a.strip_prefix("dp_").unwrap();
        assert_eq!(rest.len(), RANDOM_ID_CHARS);
        assert!(rest.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn restate_ids_decode_as_restate_decodes_them() {
        // Restate's own test id and one from a Restate 1.7 server, with the ULIDs they carry.
        assert_eq!(
            decode_restate_id("dp_", "dp_11nGQpCRmau6ypL82KH2TnP"),
            Some(0x019441f1be4f151534e91b9a2173692d)
        );
        let ulid = 0x01a23443734958228ae8f70e278cb808;
        assert_eq!(
            decode_restate_id("sub_", "sub_10gshaXMDdEi7iPINsnqVnH"),
            Some(ulid)
        );
        assert_eq!(
            encode_restate_id("sub_", ulid),
            "sub_10gshaXMDdEi7iPINsnqVnH"
        );
        // The largest value still fits 22 characters; old-style ids are not Restate ids.
        assert_eq!(encode_restate_id("dp_", u128::MAX).len(), 3 + 1 + 22);
        assert_eq!(decode_restate_id("sub_", &random_id("sub_")), None);
        assert_eq!(
            decode_restate_id("sub_", "sub_2gshaXMDdEi7iPINsnqVnH0"),
            None
        );
    }

    #[test]
    fn new_restate_ids_carry_the_current_time_and_differ() {
        let a = restate_id("sub_");
        let b = restate_id("sub_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 1 + 22);
        let millis = (decode_restate_id("sub_", &a).unwrap() >> 80) as i64;
        let now = chrono::Utc::now().timestamp_millis();
        assert!((now - millis).abs() < 60_000, "{millis} vs {now}");
    }
}
