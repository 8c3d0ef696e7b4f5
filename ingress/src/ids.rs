//! Random resource ids in Restate's style: a type prefix and random base62 characters.

use rand::distr::{Alphanumeric, SampleString};

/// How many random characters follow the prefix (~154 bits: collisions are not a concern).
pub(crate) const RANDOM_ID_CHARS: usize = 26;

/// `prefix` followed by [`RANDOM_ID_CHARS`] random `[0-9A-Za-z]` characters.
pub(crate) fn random_id(prefix: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + RANDOM_ID_CHARS);
    id.push_str(prefix);
    Alphanumeric.append_string(&mut rand::rng(), &mut id, RANDOM_ID_CHARS);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_length_and_charset_and_differ() {
        let a = random_id("dp_");
        let b = random_id("dp_");
        assert_ne!(a, b);
        let rest = a.strip_prefix("dp_").unwrap();
        assert_eq!(rest.len(), RANDOM_ID_CHARS);
        assert!(rest.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
