//! Passwords in werkzeug's hash formats, which MLflow's auth database stores:
//! `scrypt:N:r:p$salt$hex` (werkzeug's default, and what new passwords get here) and
//! `pbkdf2:sha256:iterations$salt$hex` (older databases). The salt is the text between
//! the `$`s, used as bytes; comparisons are constant-time.

use ferroflow_core::{Error, Result};
use subtle::ConstantTimeEq;

/// MLflow's rule for new passwords.
pub const MIN_PASSWORD_LENGTH: usize = 12;

/// A well-formed hash of nothing anyone knows, checked against when the user does not exist
/// so that a missing user costs as long as a wrong password.
pub const DUMMY_HASH: &str = "scrypt:32768:8:1$aaaaaaaaaaaaaaaa$00";

/// werkzeug's default method, so `mlflow server` verifies every hash made here.
const NEW_N: u64 = 32768;
const NEW_R: u32 = 8;
const NEW_P: u32 = 1;
const SALT_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Bounds on what a stored hash may ask of this process (memory, time): werkzeug's defaults
/// are far below them.
const MAX_SCRYPT_MEMORY: u64 = 512 << 20;
const MAX_SCRYPT_P: u32 = 64;
const MAX_PBKDF2_ITERATIONS: u32 = 20_000_000;

/// MLflow's password policy for new passwords.
pub fn check_policy(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(Error::invalid_param(
            "Password must be at least 12 characters.",
        ));
    }
    Ok(())
}

/// A new hash of `password`: `scrypt:32768:8:1$<16 random letters and digits>$<hex>`.
pub fn hash(password: &str) -> Result<String> {
    let mut raw = [0u8; 64];
    let mut salt = String::with_capacity(16);
    while salt.len() < 16 {
        getrandom::fill(&mut raw)
            .map_err(|e| Error::internal(format!("no random numbers for a salt: {e}")))?;
        // 62 letters and digits from bytes below 248 (a multiple of 62): no bias.
        salt.extend(
            raw.iter()
                .filter(|b| **b < 248)
                .map(|b| SALT_CHARS[(*b % 62) as usize] as char)
                .take(16 - salt.len()),
        );
    }
    let digest = scrypt_hex(password, &salt, NEW_N, NEW_R, NEW_P)
        .ok_or_else(|| Error::internal("scrypt refused its own parameters"))?;
    Ok(format!("scrypt:{NEW_N}:{NEW_R}:{NEW_P}${salt}${digest}"))
}

/// Whether `password` matches `stored`. A hash in a format this does not know (or with
/// parameters beyond the bounds above) matches nothing.
pub fn verify(stored: &str, password: &str) -> bool {
    let mut parts = stored.splitn(3, '$');
    let (Some(method), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let computed = match method.split(':').collect::<Vec<_>>().as_slice() {
        ["scrypt", rest @ ..] => {
            let num = |i: usize, default: u64| {
                rest.get(i).map_or(Some(default), |s| s.parse::<u64>().ok())
            };
            match (num(0, NEW_N), num(1, NEW_R as u64), num(2, NEW_P as u64)) {
                (Some(n), Some(r), Some(p)) => scrypt_hex(password, salt, n, r as u32, p as u32),
                _ => None,
            }
        }
        ["pbkdf2", digest, rest @ ..] => {
            let iterations = rest
                .first()
                .map_or(Some(1_000_000), |s| s.parse::<u32>().ok());
            iterations
                .filter(|i| (1..=MAX_PBKDF2_ITERATIONS).contains(i))
                .and_then(|i| pbkdf2_hex(digest, password, salt, i))
        }
        _ => None,
    };
    match computed {
        Some(c) => c.as_bytes().ct_eq(expected.as_bytes()).into(),
        None => false,
    }
}

fn scrypt_hex(password: &str, salt: &str, n: u64, r: u32, p: u32) -> Option<String> {
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 || p > MAX_SCRYPT_P {
        return None;
    }
    if 128u64.checked_mul(n)?.checked_mul(r as u64)? > MAX_SCRYPT_MEMORY {
        return None;
    }
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p).ok()?;
    let mut out = [0u8; 64];
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut out).ok()?;
    Some(hex(&out))
}

fn pbkdf2_hex(digest: &str, password: &str, salt: &str, iterations: u32) -> Option<String> {
    let (p, s) = (password.as_bytes(), salt.as_bytes());
    Some(match digest {
        "sha256" => {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(p, s, iterations, &mut out);
            hex(&out)
        }
        "sha512" => {
            let mut out = [0u8; 64];
            pbkdf2::pbkdf2_hmac::<sha2::Sha512>(p, s, iterations, &mut out);
            hex(&out)
        }
        _ => return None,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by werkzeug 3.1 (generate_password_hash) for the password "alicepassword1".
    const WERKZEUG_SCRYPT: &str = "scrypt:32768:8:1$eceTTB7jrEq58w5j$3108954e6d5ebdecbc8d6dcd0a5edc79cc40fcb8b789d050dd33856be419819e10a6b3125ceccf1b14cc837ecc9d33b90ccd5e055e2e5d17e0e4887c6477684e";
    const WERKZEUG_PBKDF2: &str = "pbkdf2:sha256:600000$nNjKqtX2i2tCdlVb$c475c61c957e2e02ea7e1ea5e31f030fe6345ff68b03a3d0fdeea474d1f672f9";
    const WERKZEUG_PBKDF2_512: &str = "pbkdf2:sha512:1000$xJpyFWXrXG8q8Vtg$755f06dd674edde4c07fa6ce7d4cd2947905af512aa9809860b737f1179d9dbd096a58ce3794b3122d749c6eb9420f5223f7b9baa592f00b06f9e69788f292fb";

    #[test]
    fn verifies_werkzeug_scrypt() {
        assert!(verify(WERKZEUG_SCRYPT, "alicepassword1"));
        assert!(!verify(WERKZEUG_SCRYPT, "alicepassword2"));
    }

    #[test]
    fn verifies_werkzeug_pbkdf2() {
        assert!(verify(WERKZEUG_PBKDF2, "alicepassword1"));
        assert!(!verify(WERKZEUG_PBKDF2, "alicepassword"));
        assert!(verify(WERKZEUG_PBKDF2_512, "alicepassword1"));
    }

    #[test]
    fn pbkdf2_round_trip_and_rejections() {
        // A pbkdf2 hash computed here must verify; a tampered one must not.
        let h = format!(
            "pbkdf2:sha256:1000$salt1234${}",
            pbkdf2_hex("sha256", "pw", "salt1234", 1000).unwrap()
        );
        assert!(verify(&h, "pw"));
        assert!(!verify(&h, "pw2"));
        assert!(!verify("md5$x$y", "pw"));
        assert!(!verify("garbage", "pw"));
        assert!(!verify("scrypt:3:8:1$s$00", "pw"));
        assert!(!verify("scrypt:1073741824:8:1$s$00", "pw"));
    }

    #[test]
    fn new_hashes_verify_and_differ() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("scrypt:32768:8:1$"));
        assert_ne!(a, b);
        assert!(verify(&a, "correct horse battery"));
        assert!(!verify(&a, "correct horse battery!"));
    }

    #[test]
    fn policy() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("twelve chars").is_ok());
    }
}
