//! Coordinator PINs: 6+ digits, stored as salted Argon2id hashes (PHC strings). A PIN has few
//! possibilities, so the hash is deliberately slow: a stolen roster costs an attacker roughly
//! a day of CPU per PIN instead of a second, and the kiosk locks out after repeated failures.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use data_encoding::HEXLOWER;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::protocol::OwnPinChange;
use crate::DomainError;

pub const MIN_PIN_DIGITS: usize = 6;
/// Digits in a PIN set from now on (shorter ones set before keep working, listed as weak).
pub const MIN_NEW_PIN_DIGITS: usize = 8;

/// Checks a PIN being set (new or changed): 8 to 12 digits, and not one anyone would try
/// first: one digit repeated (`00000000`), or a run up or down (`12345678`, `87654321`).
pub fn check_new_pin(pin: &str) -> Result<(), DomainError> {
    if pin.len() < MIN_NEW_PIN_DIGITS || pin.len() > 12 || !pin.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(DomainError::PinTooShort);
    }
    let digits: Vec<i16> = pin.bytes().map(|b| i16::from(b - b'0')).collect();
    let steps: Vec<i16> = digits.windows(2).map(|w| w[1] - w[0]).collect();
    let trivial = steps.iter().all(|s| *s == steps[0]) && matches!(steps[0], -1..=1);
    if trivial {
        return Err(DomainError::TrivialPin);
    }
    Ok(())
}

/// Argon2id memory (KiB) and passes for PINs set now: one check costs about 0.1 s on the
/// development machine and, derived from it, about 0.5 s on a Raspberry-Pi-class board (see
/// BENCHMARKS.md). A try checks one coordinator's hash (she taps her name first), so the cost
/// is paid once per try. PINs set before keep their own parameters (19 MiB, 2 passes): a hash
/// carries them.
pub const PIN_MEMORY_KIB: u32 = 64 * 1024;
pub const PIN_PASSES: u32 = 3;

fn hasher(memory_kib: u32, passes: u32) -> Result<Argon2<'static>, DomainError> {
    let params = Params::new(memory_kib, passes, 1, None)
        .map_err(|e| DomainError::InvalidRules(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Checks a PIN's form: digits only, at least six.
pub fn check_pin(pin: &str) -> Result<(), DomainError> {
    if pin.len() >= MIN_PIN_DIGITS && pin.len() <= 12 && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(DomainError::InvalidPin)
    }
}

/// Hashes a PIN with a salt the caller drew from a cryptographic RNG (16 bytes).
pub fn hash_pin(pin: &str, salt: &[u8; 16]) -> Result<String, DomainError> {
    hash_pin_with(pin, salt, PIN_MEMORY_KIB, PIN_PASSES)
}

/// [`hash_pin`] with other Argon2id parameters (for measuring, and tests that need speed).
pub fn hash_pin_with(
    pin: &str,
    salt: &[u8; 16],
    memory_kib: u32,
    passes: u32,
) -> Result<String, DomainError> {
    check_pin(pin)?;
    let salt = SaltString::encode_b64(salt).map_err(|_| DomainError::InvalidPin)?;
    let hash = hasher(memory_kib, passes)?
        .hash_password(pin.as_bytes(), &salt)
        .map_err(|_| DomainError::InvalidPin)?;
    Ok(hash.to_string())
}

/// What the server keeps of a PIN it sets: the hash every kiosk gets, and the change key
/// (with its salt) that proves the PIN when she changes it at a kiosk. The roster carries the
/// salt, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinSecrets {
    pub hash: String,
    /// Lower-case hex, 16 bytes.
    pub change_salt: String,
    /// Lower-case hex, 32 bytes.
    pub change_key: String,
}

/// Hashes a new PIN and derives its change key; the salts come from a cryptographic RNG.
pub fn pin_secrets(
    pin: &str,
    hash_salt: &[u8; 16],
    change_salt: &[u8; 16],
) -> Result<PinSecrets, DomainError> {
    Ok(PinSecrets {
        hash: hash_pin(pin, hash_salt)?,
        change_salt: HEXLOWER.encode(change_salt),
        change_key: HEXLOWER.encode(&change_key(pin, &HEXLOWER.encode(change_salt))?),
    })
}

/// The key a PIN's change is proven with: Argon2id of the PIN (the same cost as its hash) under
/// its own salt, so nothing in a roster (the hash, the salt) gives it without the PIN.
pub fn change_key(pin: &str, salt_hex: &str) -> Result<[u8; 32], DomainError> {
    check_pin(pin)?;
    let salt = HEXLOWER
        .decode(salt_hex.as_bytes())
        .map_err(|_| DomainError::InvalidPin)?;
    let mut key = [0u8; 32];
    hasher(PIN_MEMORY_KIB, PIN_PASSES)?
        .hash_password_into(pin.as_bytes(), &salt, &mut key)
        .map_err(|_| DomainError::InvalidPin)?;
    Ok(key)
}

/// The bytes a change's proof covers: every field but the proof, each ended by a zero byte.
fn change_message(change: &OwnPinChange) -> Vec<u8> {
    let mut message = b"pm-own-pin-v1\0".to_vec();
    for field in [
        &change.name,
        &change.pin_hash,
        &change.replaces,
        &change.change_salt,
        &change.change_key,
    ] {
        message.extend_from_slice(field.as_bytes());
        message.push(0);
    }
    message
}

/// The new PIN's change key as the kiosk keeps and sends it: XORed with a pad only the old
/// PIN's change key gives, so a pending change read off a stolen kiosk does not hand over the
/// key of the next change (lower-case hex). The same call unwraps it on the server.
pub fn wrap_change_key(old_key: &[u8], change: &OwnPinChange, key_hex: &str) -> Option<String> {
    let key = HEXLOWER.decode(key_hex.as_bytes()).ok()?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(old_key).ok()?;
    let mut message = b"pm-own-pin-wrap-v1\0".to_vec();
    for field in [
        &change.name,
        &change.pin_hash,
        &change.replaces,
        &change.change_salt,
    ] {
        message.extend_from_slice(field.as_bytes());
        message.push(0);
    }
    mac.update(&message);
    let pad = mac.finalize().into_bytes();
    if key.len() != pad.len() {
        return None;
    }
    let wrapped: Vec<u8> = key.iter().zip(pad.iter()).map(|(k, p)| k ^ p).collect();
    Some(HEXLOWER.encode(&wrapped))
}

/// The proof of a PIN change, keyed by the old PIN's change key (lower-case hex).
pub fn own_pin_proof(old_key: &[u8; 32], change: &OwnPinChange) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(old_key) else {
        return String::new();
    };
    mac.update(&change_message(change));
    HEXLOWER.encode(&mac.finalize().into_bytes())
}

/// Whether `change.proof` was made with this change key (hex, as the server keeps it).
pub fn verify_own_pin_proof(old_key_hex: &str, change: &OwnPinChange) -> bool {
    let (Ok(key), Ok(tag)) = (
        HEXLOWER.decode(old_key_hex.as_bytes()),
        HEXLOWER.decode(change.proof.as_bytes()),
    ) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&key) else {
        return false;
    };
    mac.update(&change_message(change));
    mac.verify_slice(&tag).is_ok()
}

/// Whether a PIN hash a kiosk made (a coordinator changed her own PIN there) is made as the
/// server makes them: Argon2id, [`PIN_MEMORY_KIB`], [`PIN_PASSES`], one lane, a salt.
/// The server cannot see the PIN itself, so this is what it can check.
pub fn is_strong_pin_hash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    // Exactly the server's own cost: a weaker hash is easy to crack, a far costlier one would
    // make every kiosk checking it run out of memory.
    parsed.algorithm.as_str() == "argon2id"
        && parsed.salt.is_some()
        && parsed.hash.is_some()
        && params.m_cost() == PIN_MEMORY_KIB
        && params.t_cost() == PIN_PASSES
        && params.p_cost() == 1
        && stored.len() <= 200
}

/// Whether `pin` matches a stored hash. A malformed hash never matches.
pub fn verify_pin(pin: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    // The parameters are the hash's own (PINs set before keep theirs).
    hasher(PIN_MEMORY_KIB, PIN_PASSES)
        .is_ok_and(|h| h.verify_password(pin.as_bytes(), &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_hash_and_verify() {
        let hash = hash_pin("482913", &[7; 16]).expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("482913"));
        assert!(verify_pin("482913", &hash));
        assert!(!verify_pin("482914", &hash));
        assert!(!verify_pin("482913", "not a hash"));
        assert_ne!(hash, hash_pin("482913", &[8; 16]).expect("hash"), "salted");
    }

    #[test]
    fn only_the_old_pin_proves_a_change() {
        let old = pin_secrets("48291375", &[1; 16], &[2; 16]).expect("old");
        let mut change = OwnPinChange {
            name: "Ms. Rivera".into(),
            pin_hash: hash_pin("59203817", &[3; 16]).expect("hash"),
            replaces: old.hash.clone(),
            change_salt: HEXLOWER.encode(&[4; 16]),
            change_key: HEXLOWER.encode(&[5; 32]),
            proof: String::new(),
        };
        let key = change_key("48291375", &old.change_salt).expect("key");
        change.proof = own_pin_proof(&key, &change);
        assert!(verify_own_pin_proof(&old.change_key, &change));
        // The new key travels wrapped: only the old key unwraps it.
        let new_key = HEXLOWER.encode(&[7; 32]);
        let wrapped = wrap_change_key(&key, &change, &new_key).expect("wrap");
        assert_ne!(wrapped, new_key);
        assert_eq!(wrap_change_key(&key, &change, &wrapped), Some(new_key));
        // A wrong old PIN, or the roster's hash as a key, proves nothing.
        let wrong = change_key("48291376", &old.change_salt).expect("key");
        let guessed = OwnPinChange {
            proof: own_pin_proof(&wrong, &change),
            ..change.clone()
        };
        assert!(!verify_own_pin_proof(&old.change_key, &guessed));
        // Nothing in it can be changed after the proof.
        let altered = OwnPinChange {
            pin_hash: hash_pin("11223344", &[3; 16]).expect("hash"),
            ..change.clone()
        };
        assert!(!verify_own_pin_proof(&old.change_key, &altered));
        assert!(!verify_own_pin_proof("not hex", &change));
    }

    #[test]
    fn only_hashes_as_strong_as_the_servers_are_accepted_from_a_kiosk() {
        let strong = hash_pin("48291375", &[3; 16]).expect("hash");
        assert!(is_strong_pin_hash(&strong));
        let old = hash_pin_with("48291375", &[3; 16], 19 * 1024, 2).expect("hash");
        assert!(!is_strong_pin_hash(&old));
        assert!(!is_strong_pin_hash("48291375"));
        assert!(!is_strong_pin_hash(&strong.replace("argon2id", "argon2i")));
    }

    #[test]
    fn new_pins_are_eight_digits_and_not_trivial() {
        for pin in [
            "00000000", "77777777", "12345678", "23456789", "87654321", "3210987",
        ] {
            assert!(check_new_pin(pin).is_err(), "{pin}");
        }
        assert!(
            check_new_pin("482913").is_err(),
            "six digits are no longer enough"
        );
        assert!(check_new_pin("4829 1375").is_err());
        for pin in ["48291375", "13572468", "112233445566"] {
            assert!(check_new_pin(pin).is_ok(), "{pin}");
        }
    }

    #[test]
    fn pins_are_six_or_more_digits() {
        assert!(check_pin("12345").is_err());
        assert!(check_pin("12345a").is_err());
        assert!(check_pin("123456").is_ok());
        assert!(hash_pin("1234", &[0; 16]).is_err());
    }
}
