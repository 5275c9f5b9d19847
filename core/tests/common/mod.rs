//! What several of cse-core's integration tests share.

#![allow(
    dead_code,
    reason = "each test binary uses its own part of this module"
)]

use cse_core::{AlgorithmSuite, CommitmentPolicy, EncryptConfig};

/// The commitment policy under which `suite` may be written: the default one for committing
/// suites, the legacy one for the others.
pub fn policy_for(suite: AlgorithmSuite) -> CommitmentPolicy {
    if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    }
}

/// Settings that write `suite` (under [`policy_for`]) with frames of `frame_length`; the
/// rest as by default.
pub fn writing(suite: AlgorithmSuite, frame_length: u32) -> EncryptConfig {
    EncryptConfig {
        commitment_policy: policy_for(suite),
        suite: Some(suite),
        frame_length,
        ..Default::default()
    }
}

/// Checks that two messages of `suite` are byte for byte the same up to their footer (ECDSA
/// signatures are randomized; unsigned messages must be the same whole); gives the length
/// before the footer.
pub fn assert_same_up_to_signature(a: &[u8], b: &[u8], suite: AlgorithmSuite, what: &str) -> usize {
    assert_eq!(a.len(), b.len(), "{what}");
    let footer = suite.signature().map_or(0, |s| 2 + s.fixed_signature_len());
    let body = a.len() - footer;
    assert_eq!(a[..body], b[..body], "{what}");
    if footer == 0 {
        assert_eq!(a, b, "{what}");
    }
    body
}
