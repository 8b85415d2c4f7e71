//! Identifiers in MLflow's formats.

/// A run id: 32 lowercase hex digits (a UUID4 without dashes).
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A logged model id: `m-` and 32 hex digits.
pub fn new_logged_model_id() -> String {
    format!("m-{}", uuid::Uuid::new_v4().simple())
}

/// A dataset or input id: a UUID4 without dashes.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

const ADJECTIVES: &[&str] = &[
    "able", "bold", "brave", "bright", "calm", "clever", "crisp", "daring", "eager", "fair",
    "fast", "gentle", "glad", "grand", "happy", "keen", "kind", "lively", "lucky", "merry",
    "mighty", "neat", "nimble", "polite", "proud", "quick", "quiet", "rare", "shy", "silent",
    "smart", "sunny", "swift", "tidy", "vast", "warm", "wise", "witty", "young", "zesty",
];
const NOUNS: &[&str] = &[
    "ant", "bass", "bat", "bear", "bee", "carp", "cat", "colt", "crab", "crow", "deer", "dove",
    "eel", "elk", "fawn", "finch", "fox", "frog", "goat", "hare", "hawk", "hen", "jay", "koi",
    "lark", "lion", "lynx", "mole", "moth", "newt", "owl", "ox", "panda", "rat", "seal", "shark",
    "slug", "snail", "squid", "stork", "swan", "toad", "trout", "wasp", "whale", "wolf", "yak",
];

/// A readable run name like `swift-owl-417`, as MLflow gives unnamed runs.
pub fn random_run_name() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let a = ADJECTIVES[bytes[0] as usize % ADJECTIVES.len()];
    let n = NOUNS[bytes[1] as usize % NOUNS.len()];
    let num = u16::from_le_bytes([bytes[2], bytes[3]]) % 1000;
    format!("{a}-{n}-{num}")
}

/// A stable 64-bit hash (FNV-1a) as 16 hex digits: names of cache entries that must stay
/// the same across builds and platforms.
pub fn stable_hash(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf29ce484222325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    });
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::new_run_id().len(), 32);
        assert!(super::new_logged_model_id().starts_with("m-"));
        assert_eq!(super::random_run_name().split('-').count(), 3);
    }
}
