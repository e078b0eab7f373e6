//! Scan proof: a badge scan carries a MAC made from the badge text itself, which only the badge
//! and the server hold. The kiosk computes it at scan time, keyed by
//! HKDF-SHA256(the badge's secret, "pm-scan-proof-v1"), over the canonical encoding of the whole
//! event; the server, which keeps the badge texts, verifies it.
//!
//! Nothing the roster hands a kiosk (the SHA-256 of the badge text) is the key or leads to it, so
//! a stolen kiosk's disk, roster and token together can neither make a proven scan nor alter one
//! before delivery: its kind, its instant, the check-in a check-out names are all under the MAC.
//! What it does not prove: that the mentor was there. A photograph of a badge is the badge.
//!
//! The series and sequence are left out: they are the envelope a kiosk may renumber when it
//! starts a new series for what it has not delivered (an old copy of its database).

use chrono::{DateTime, SecondsFormat, Utc};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Event, EventId, EventKind, KioskId, MentorId, Source, TimeZone};

/// HKDF's `info`: what the derived key is for, and the version of this scheme.
pub const SCAN_PROOF_INFO: &[u8] = b"pm-scan-proof-v1";

/// What a scan's proof covers: every field of the event but its envelope and the proof.
#[derive(Debug, Clone, Copy)]
pub struct ScanClaim<'a> {
    pub id: EventId,
    pub kiosk: &'a KioskId,
    pub mentor: &'a MentorId,
    pub at: DateTime<Utc>,
    pub time_zone: TimeZone,
    pub kind: &'a EventKind,
    pub generation: u32,
    pub provisional: bool,
    pub badge_hash: &'a str,
}

impl<'a> ScanClaim<'a> {
    /// The claim a stored badge scan makes (`None` for any other event).
    pub fn of(event: &'a Event) -> Option<Self> {
        let Source::BadgeScan {
            generation,
            provisional,
            badge_hash,
            ..
        } = &event.source
        else {
            return None;
        };
        Some(Self {
            id: event.id,
            kiosk: &event.kiosk,
            mentor: event.mentor.as_ref()?,
            at: event.at,
            time_zone: event.time_zone,
            kind: &event.kind,
            generation: *generation,
            provisional: *provisional,
            badge_hash,
        })
    }

    /// The canonical encoding: each field as text, length-prefixed (so no two claims share an
    /// encoding), in a fixed order, under the scheme's name.
    fn message(&self) -> Vec<u8> {
        let kind = serde_json::to_string(self.kind).unwrap_or_default();
        let fields = [
            String::from_utf8_lossy(SCAN_PROOF_INFO).into_owned(),
            self.id.to_string(),
            self.kiosk.to_string(),
            self.mentor.to_string(),
            self.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            self.time_zone.to_string(),
            kind,
            self.generation.to_string(),
            self.provisional.to_string(),
            self.badge_hash.to_owned(),
        ];
        let mut out = Vec::new();
        for f in fields {
            out.extend_from_slice(&u32::try_from(f.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(f.as_bytes());
        }
        out
    }
}

/// The MAC of a badge text's key over a claim, or `None` when the text is not a badge.
fn mac_of(badge_text: &str, claim: &ScanClaim<'_>) -> Option<Hmac<Sha256>> {
    let secret = badge_text.rsplit(':').next().filter(|s| !s.is_empty())?;
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, secret.as_bytes())
        .expand(SCAN_PROOF_INFO, &mut key)
        .ok()?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?;
    mac.update(&claim.message());
    Some(mac)
}

/// The proof of a scan, made at scan time from the badge text read (lower-case hex).
pub fn scan_proof(badge_text: &str, claim: &ScanClaim<'_>) -> Option<String> {
    let tag = mac_of(badge_text, claim)?.finalize().into_bytes();
    Some(data_encoding::HEXLOWER.encode(&tag))
}

/// Whether `proof` is the proof of this claim by the badge `badge_text` (in constant time).
pub fn verify_scan_proof(badge_text: &str, claim: &ScanClaim<'_>, proof: &str) -> bool {
    let Ok(tag) = data_encoding::HEXLOWER.decode(proof.as_bytes()) else {
        return false;
    };
    mac_of(badge_text, claim).is_some_and(|mac| mac.verify_slice(&tag).is_ok())
}

/// Makes and attaches the proof of a badge scan (a kiosk reading `badge_text`); other events
/// are left as they are.
pub fn prove_scan(event: &mut Event, badge_text: &str) {
    let proof = ScanClaim::of(event).and_then(|claim| scan_proof(badge_text, &claim));
    if let Source::BadgeScan { proof: p, .. } = &mut event.source {
        *p = proof;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeriesId;

    const BADGE: &str = "PM1:M-1:1:TJAQP3RRLSEAFVD7";

    fn scan(kind: EventKind) -> Event {
        Event {
            id: EventId::from_parts(1_700_000_000_000, [7; 10]),
            kiosk: KioskId::new("k-1").expect("kiosk"),
            series: SeriesId::from_parts(1, [1; 10]),
            sequence: 3,
            mentor: Some(MentorId::new("M-1").expect("mentor")),
            at: DateTime::from_timestamp_millis(1_700_000_000_123).expect("at"),
            time_zone: TimeZone::new("America/Chicago").expect("zone"),
            kind,
            source: Source::BadgeScan {
                generation: 1,
                provisional: false,
                badge_hash: crate::badge_hash(BADGE),
                proof: None,
            },
        }
    }

    fn proven(mut e: Event) -> Event {
        prove_scan(&mut e, BADGE);
        e
    }

    fn holds(e: &Event) -> bool {
        let Source::BadgeScan {
            proof: Some(proof), ..
        } = &e.source
        else {
            return false;
        };
        verify_scan_proof(BADGE, &ScanClaim::of(e).expect("claim"), proof)
    }

    #[test]
    fn a_proof_holds_for_its_scan_only() {
        let e = proven(scan(EventKind::CheckIn));
        assert!(holds(&e));
        // The envelope may be renumbered (a new series) without breaking it.
        let mut renumbered = e.clone();
        renumbered.series = SeriesId::from_parts(9, [9; 10]);
        renumbered.sequence = 1;
        assert!(holds(&renumbered));
        // Anything else changed breaks it: the kind, the instant, the mentor, the check-in named.
        let mut other = e.clone();
        other.kind = EventKind::CheckOut { check_in: None };
        assert!(!holds(&other));
        let mut other = e.clone();
        other.at -= chrono::Duration::days(7);
        assert!(!holds(&other));
        let mut other = e.clone();
        other.mentor = Some(MentorId::new("M-2").expect("mentor"));
        assert!(!holds(&other));
        let a = proven(scan(EventKind::CheckOut {
            check_in: Some(EventId::from_parts(1, [1; 10])),
        }));
        let mut b = a.clone();
        b.kind = EventKind::CheckOut {
            check_in: Some(EventId::from_parts(1, [2; 10])),
        };
        assert!(holds(&a) && !holds(&b));
    }

    #[test]
    fn the_roster_hash_is_no_key() {
        let e = scan(EventKind::CheckIn);
        let claim = ScanClaim::of(&e).expect("claim");
        // What a stolen kiosk holds: the badge hash. Keyed by it (or by anything but the
        // badge's secret), the proof does not verify.
        let hash = crate::badge_hash(BADGE);
        let forged = scan_proof(&format!("PM1:M-1:1:{hash}"), &claim).expect("mac");
        assert!(!verify_scan_proof(BADGE, &claim, &forged));
        assert!(!verify_scan_proof(BADGE, &claim, "not hex"));
        assert!(!verify_scan_proof(BADGE, &claim, ""));
    }
}
