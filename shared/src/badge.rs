//! Badges: the text inside a mentor's QR code, and how a kiosk decides whether to trust it.
//!
//! A badge reads `PM1:<mentor-id>:<generation>:<secret>`, e.g. `PM1:M-0042:1:K5XQ2J7ZP4RN6WUE`:
//! the format tag, the mentor id, a generation number that goes up each time a badge is
//! reissued, and at least 80 random bits in RFC 4648 base32 (no padding). Every character is in
//! QR alphanumeric mode, so a badge with a 20-character mentor id still fits QR version 3 at
//! error-correction level M and reads well from a webcam.
//!
//! The server keeps the badge texts. A kiosk's roster carries only the SHA-256 of each mentor's
//! *current* badge text, so:
//! * a stolen kiosk (or a copy of its database) cannot make a badge: it would have to find a
//!   text with a known hash, i.e. guess an 80-bit secret;
//! * what a stolen kiosk *can* do is learn its own school's mentor ids, names and languages,
//!   and, with its token until the token is revoked, upload scans as that kiosk. The server
//!   re-checks every scan's badge hash, and revoking the kiosk's token ends that.
//!
//! Any change to any character of a known mentor's badge changes its hash and is rejected.

use std::fmt::Write as _;

use data_encoding::BASE32_NOPAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{DomainError, MentorId};

/// The format tag at the start of every badge of ours.
pub const BADGE_TAG: &str = "PM1";
/// Random bytes in a newly issued badge secret: 80 bits.
pub const SECRET_BYTES: usize = 10;
/// Generations run from 1 to this.
pub const MAX_GENERATION: u32 = 9999;

/// The badge text for a mentor, a generation and a random secret the caller drew from a
/// cryptographic RNG (this crate has none: it is pure).
pub fn badge_text(
    mentor: &MentorId,
    generation: u32,
    secret: &[u8],
) -> Result<String, DomainError> {
    if secret.len() < SECRET_BYTES {
        return Err(DomainError::BadgeSecretTooShort {
            min: SECRET_BYTES,
            got: secret.len(),
        });
    }
    if !(1..=MAX_GENERATION).contains(&generation) {
        return Err(DomainError::InvalidId {
            kind: "badge generation",
            value: generation.to_string(),
            why: "must be 1 to 9999",
        });
    }
    Ok(format!(
        "{BADGE_TAG}:{mentor}:{generation}:{}",
        BASE32_NOPAD.encode(secret)
    ))
}

/// What the roster carries instead of the badge: lower-case hex SHA-256 of the badge text.
pub fn badge_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// A text in our badge format, taken apart (not yet trusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgeClaim {
    pub mentor: MentorId,
    pub generation: u32,
    pub hash: String,
}

/// Why a text is not a well-formed badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAClaim {
    /// Not ours at all: a URL on a flyer, another program's code.
    Foreign,
    /// Starts like ours but is not well-formed: altered or damaged.
    Malformed,
}

/// Takes a scanned text apart without trusting it.
pub fn parse_badge(text: &str) -> Result<BadgeClaim, NotAClaim> {
    let Some(rest) = text
        .strip_prefix(BADGE_TAG)
        .and_then(|r| r.strip_prefix(':'))
    else {
        return Err(NotAClaim::Foreign);
    };
    let mut parts = rest.split(':');
    let (Some(mentor), Some(generation), Some(secret), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(NotAClaim::Malformed);
    };
    // MentorId::new upper-cases; a badge must already be canonical, so compare after parsing.
    let mentor = MentorId::new(mentor)
        .ok()
        .filter(|m| m.as_str() == mentor)
        .ok_or(NotAClaim::Malformed)?;
    let canonical_number = !generation.is_empty()
        && generation.len() <= 4
        && !generation.starts_with('0')
        && generation.bytes().all(|b| b.is_ascii_digit());
    let generation: u32 = match generation.parse() {
        Ok(g) if canonical_number => g,
        _ => return Err(NotAClaim::Malformed),
    };
    let secret_ok = BASE32_NOPAD
        .decode(secret.as_bytes())
        .is_ok_and(|bytes| bytes.len() >= SECRET_BYTES && BASE32_NOPAD.encode(&bytes) == secret);
    if !secret_ok {
        return Err(NotAClaim::Malformed);
    }
    Ok(BadgeClaim {
        mentor,
        generation,
        hash: badge_hash(text),
    })
}

/// What a verifier knows about one mentor's badge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BadgeStatus {
    /// The current badge's generation and hash.
    Current { generation: u32, hash: String },
    /// The mentor was deactivated: every badge of hers is revoked.
    Revoked,
}

/// The verdict on a scanned text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadgeVerdict {
    /// The mentor's current badge.
    Accepted(BadgeClaim),
    /// Well-formed, for a mentor the verifier does not know yet: accept provisionally; the
    /// server verifies it at sync, and an unverifiable scan never counts.
    Provisional(BadgeClaim),
    /// An older generation of a badge that has been reissued.
    Replaced { claim: BadgeClaim, current: u32 },
    /// The mentor was deactivated.
    Revoked(BadgeClaim),
    /// In our format but altered, damaged or made up.
    Forged,
    /// Not one of our badges at all.
    NotABadge,
}

/// Verifies a scanned text against what the verifier knows (`lookup` answers for a mentor id;
/// `None` means "not in my roster").
pub fn verify_badge(text: &str, lookup: impl Fn(&MentorId) -> Option<BadgeStatus>) -> BadgeVerdict {
    let claim = match parse_badge(text) {
        Ok(claim) => claim,
        Err(NotAClaim::Foreign) => return BadgeVerdict::NotABadge,
        Err(NotAClaim::Malformed) => return BadgeVerdict::Forged,
    };
    match lookup(&claim.mentor) {
        None => BadgeVerdict::Provisional(claim),
        Some(BadgeStatus::Revoked) => BadgeVerdict::Revoked(claim),
        Some(BadgeStatus::Current { generation, hash }) => {
            if claim.generation < generation {
                BadgeVerdict::Replaced {
                    claim,
                    current: generation,
                }
            } else if claim.generation == generation && claim.hash == hash {
                BadgeVerdict::Accepted(claim)
            } else if claim.generation > generation {
                // Reissued since this roster was pulled: recorded provisionally, verified by
                // the server (which sets a made-up one aside, never counted).
                BadgeVerdict::Provisional(claim)
            } else {
                BadgeVerdict::Forged
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use qrcode::{EcLevel, QrCode, Version};

    const SECRET: [u8; 10] = [0x9a, 0x41, 0x07, 0xee, 0x31, 0x5c, 0x88, 0x02, 0xd4, 0x7f];

    fn mentor(id: &str) -> MentorId {
        MentorId::new(id).expect("test mentor id")
    }

    fn roster_of(text: &str) -> impl Fn(&MentorId) -> Option<BadgeStatus> {
        let claim = parse_badge(text).expect("a badge");
        move |m: &MentorId| {
            (m == &claim.mentor).then(|| BadgeStatus::Current {
                generation: claim.generation,
                hash: claim.hash.clone(),
            })
        }
    }

    #[test]
    fn issued_text_is_short_and_qr_alphanumeric() {
        let text = badge_text(&mentor("M-0042"), 1, &SECRET).expect("badge");
        assert_eq!(text, "PM1:M-0042:1:TJAQP3RRLSEAFVD7");
        assert!(text.len() <= 40);
        let qr_alnum =
            |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || " $%*+-./:".contains(c);
        assert!(text.chars().all(qr_alnum));
    }

    #[test]
    fn longest_badge_fits_qr_version_3_at_level_m() {
        let text = badge_text(&mentor(&"X".repeat(20)), MAX_GENERATION, &SECRET).expect("badge");
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).expect("qr");
        assert!(
            matches!(code.version(), Version::Normal(v) if v <= 3),
            "{:?}",
            code.version()
        );
    }

    #[test]
    fn short_secrets_and_bad_generations_are_refused() {
        assert!(badge_text(&mentor("M1"), 1, &SECRET[..9]).is_err());
        assert!(badge_text(&mentor("M1"), 0, &SECRET).is_err());
        assert!(badge_text(&mentor("M1"), 10_000, &SECRET).is_err());
    }

    #[test]
    fn verdicts() {
        let text = badge_text(&mentor("M-7"), 2, &SECRET).expect("badge");
        let claim = parse_badge(&text).expect("claim");
        assert_eq!(
            verify_badge(&text, roster_of(&text)),
            BadgeVerdict::Accepted(claim.clone())
        );
        assert_eq!(
            verify_badge(&text, |_| None),
            BadgeVerdict::Provisional(claim.clone())
        );
        assert_eq!(
            verify_badge(&text, |_| Some(BadgeStatus::Revoked)),
            BadgeVerdict::Revoked(claim.clone())
        );
        let newer = badge_text(&mentor("M-7"), 3, &[1; 10]).expect("badge");
        assert_eq!(
            verify_badge(&text, roster_of(&newer)),
            BadgeVerdict::Replaced { claim, current: 3 }
        );
        // A made-up badge for a known mentor, with the right generation but a guessed secret.
        let guess = badge_text(&mentor("M-7"), 2, &[0; 10]).expect("badge");
        assert_eq!(verify_badge(&guess, roster_of(&text)), BadgeVerdict::Forged);
        // A newer generation than this roster knows (reissued since the last pull): provisional,
        // for the server to verify.
        let ahead = badge_text(&mentor("M-7"), 4, &SECRET).expect("badge");
        assert!(matches!(
            verify_badge(&ahead, roster_of(&text)),
            BadgeVerdict::Provisional(_)
        ));
    }

    #[test]
    fn foreign_and_malformed_texts() {
        for foreign in [
            "https://example.org/flyer",
            "",
            "PM2:M-7:1:TJAQP3RRLSEAFVD7",
            "pm1:m-7:1:x",
        ] {
            assert_eq!(
                verify_badge(foreign, |_| None),
                BadgeVerdict::NotABadge,
                "{foreign}"
            );
        }
        for malformed in [
            "PM1:",
            "PM1:M-7:1",
            "PM1:M-7:1:TJAQP3RRLSEAFVD7:extra",
            "PM1:m-7:1:TJAQP3RRLSEAFVD7",
            "PM1:M-7:01:TJAQP3RRLSEAFVD7",
            "PM1:M-7:0:TJAQP3RRLSEAFVD7",
            "PM1:M-7:1:TJAQP3RRLSEAFVD",
            "PM1:M-7:1:TJAQP3RRLSEAFVD1",
            "PM1:M-7:1:TJAQP3RRLSEAFVD7=",
        ] {
            assert_eq!(
                verify_badge(malformed, |_| None),
                BadgeVerdict::Forged,
                "{malformed}"
            );
        }
    }

    proptest! {
        /// Any change to any one character of a known mentor's badge is rejected.
        #[test]
        fn any_single_character_change_is_rejected(index in 0usize..24, replacement in proptest::char::range(' ', '~')) {
            let text = badge_text(&mentor("M-0042"), 1, &SECRET).expect("badge");
            let mut chars: Vec<char> = text.chars().collect();
            let index = index % chars.len();
            prop_assume!(chars[index] != replacement);
            chars[index] = replacement;
            let altered: String = chars.into_iter().collect();
            let verdict = verify_badge(&altered, roster_of(&text));
            prop_assert!(!matches!(verdict, BadgeVerdict::Accepted(_)), "{altered} -> {verdict:?}");
            // Only an altered mentor id, or a newer generation than the roster knows (a badge
            // reissued since), can be provisional; the server then verifies the hash.
            if let BadgeVerdict::Provisional(claim) = verdict {
                prop_assert!(claim.mentor.as_str() != "M-0042" || claim.generation > 1);
            }
        }

        #[test]
        fn every_issued_badge_verifies(id in "[A-Z0-9-]{1,20}", generation in 1u32..=9999, secret in proptest::collection::vec(any::<u8>(), 10..16)) {
            let text = badge_text(&mentor(&id), generation, &secret).expect("badge");
            prop_assert!(matches!(verify_badge(&text, roster_of(&text)), BadgeVerdict::Accepted(_)));
        }
    }
}
