//! Body layout shared by encryptor and decryptor (spec `data-format/message-body.md`,
//! `data-format/message-body-aad.md`).

use alloc::vec::Vec;

use crate::crypto::{IV_LEN, TAG_LEN};

/// Marks the final frame.
pub(crate) const FINAL_MARKER: u32 = 0xFFFF_FFFF;
/// Upper bound of non-framed content (spec: 2^36 − 32 bytes).
pub(crate) const MAX_NON_FRAMED: u64 = (1 << 36) - 32;

/// Which AAD content string a body part uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Frame,
    FinalFrame,
    SingleBlock,
}

impl Part {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Frame => b"AWSKMSEncryptionClient Frame",
            Self::FinalFrame => b"AWSKMSEncryptionClient Final Frame",
            Self::SingleBlock => b"AWSKMSEncryptionClient Single Block",
        }
    }
}

/// Longest body AAD: 32-byte message id, 35-byte label, 4 + 8 bytes.
pub(crate) const MAX_AAD: usize = 32 + 35 + 12;

/// The body AAD in a stack buffer (for the per-frame paths that run in parallel).
pub(crate) fn body_aad_array(
    message_id: &[u8],
    part: Part,
    seq: u32,
    len: u64,
) -> ([u8; MAX_AAD], usize) {
    let mut a = [0u8; MAX_AAD];
    let label = part.label();
    let mut n = 0;
    for piece in [
        message_id,
        label,
        &seq.to_be_bytes()[..],
        &len.to_be_bytes()[..],
    ] {
        a[n..n + piece.len()].copy_from_slice(piece);
        n += piece.len();
    }
    (a, n)
}

/// The AAD of one frame, on the stack (see [`crate::Staged::aad`], [`crate::Deferred::aad`]).
#[derive(Clone, Copy, Debug)]
pub struct FrameAad {
    bytes: [u8; MAX_AAD],
    len: usize,
}

impl FrameAad {
    pub(crate) fn new(message_id: &[u8], part: Part, seq: u32, len: u64) -> Self {
        let (bytes, len) = body_aad_array(message_id, part, seq, len);
        Self { bytes, len }
    }
}

impl AsRef<[u8]> for FrameAad {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Builds the body AAD into `aad`: message id ‖ content string ‖ sequence ‖ plaintext length.
pub(crate) fn body_aad(aad: &mut Vec<u8>, message_id: &[u8], part: Part, seq: u32, len: u64) {
    aad.clear();
    aad.extend_from_slice(message_id);
    aad.extend_from_slice(part.label());
    aad.extend_from_slice(&seq.to_be_bytes());
    aad.extend_from_slice(&len.to_be_bytes());
}

/// The frame IV of a conforming writer: 8 zero bytes ‖ sequence number.
pub(crate) fn frame_iv(seq: u32) -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    iv[8..].copy_from_slice(&seq.to_be_bytes());
    iv
}

/// Bytes a regular frame adds to its plaintext: sequence number, IV and tag.
pub(crate) const FRAME_OVERHEAD: usize = 4 + IV_LEN + TAG_LEN;

/// Bytes of a regular frame carrying `frame_len` plaintext bytes.
pub(crate) const fn regular_frame_len(frame_len: u64) -> u64 {
    4 + IV_LEN as u64 + frame_len + TAG_LEN as u64
}

/// Bytes of a final frame carrying `len` plaintext bytes.
pub(crate) const fn final_frame_len(len: u64) -> u64 {
    4 + 4 + IV_LEN as u64 + 4 + len + TAG_LEN as u64
}
