//! Planning: part sizes from the message length, and download ranges.

const MIB: u64 = 1 << 20;
/// S3's smallest part (all but the last).
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// S3's largest part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
/// S3's most parts in one upload.
pub const MAX_PARTS: u64 = 10_000;

/// Part size for a message of `message_len` bytes (`Encryptor::message_len` of the plaintext
/// length; 0 when unknown): at least `wanted` (and 5 MiB), grown in whole MiB until the
/// message fits in 10 000 parts.
pub fn part_size(message_len: u64, wanted: u64) -> u64 {
    let needed = message_len.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    wanted.max(MIN_PART_SIZE).max(needed).min(MAX_PART_SIZE)
}

/// Whether a message of `message_len` bytes (when known) goes in one PUT.
pub fn is_single_put(message_len: Option<u64>, threshold: u64) -> Option<bool> {
    message_len.map(|n| n <= threshold)
}

/// `[start, end)` pieces covering `size` bytes, the first of `first` bytes and the others of
/// `step`, made one at a time and with checked arithmetic (any `size` up to `u64::MAX`; the
/// size comes from the server, so nothing is allocated for it).
pub fn ranges(size: u64, first: u64, step: u64) -> impl Iterator<Item = (u64, u64)> {
    let step = step.max(1);
    let mut start = 0u64;
    std::iter::from_fn(move || {
        if start >= size {
            return None;
        }
        let len = if start == 0 { first.max(1) } else { step };
        let end = start.saturating_add(len).min(size);
        let piece = (start, end);
        start = end;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_object_and_never_overflow() {
        let r: Vec<_> = ranges(10, 4, 4).collect();
        assert_eq!(r, [(0, 4), (4, 8), (8, 10)]);
        let r: Vec<_> = ranges(10, 1, 4).collect();
        assert_eq!(r, [(0, 1), (1, 5), (5, 9), (9, 10)]);
        assert_eq!(ranges(3, 8, 8).collect::<Vec<_>>(), [(0, 3)]);
        assert_eq!(ranges(0, 4, 4).count(), 0);
        assert_eq!(ranges(3, 0, 0).count(), 3);
        let mut huge = ranges(u64::MAX, 1 << 20, 8 << 20);
        assert_eq!(huge.next(), Some((0, 1 << 20)));
        assert_eq!(huge.next(), Some((1 << 20, 9 << 20)));
        let mut tail = ranges(u64::MAX, u64::MAX - 1, u64::MAX);
        assert_eq!(tail.next(), Some((0, u64::MAX - 1)));
        assert_eq!(tail.next(), Some((u64::MAX - 1, u64::MAX)));
        assert_eq!(tail.next(), None);
    }

    #[test]
    fn parts_stay_within_s3_limits() {
        assert_eq!(part_size(0, 8 * MIB), 8 * MIB);
        assert_eq!(part_size(0, MIB), MIN_PART_SIZE);
        // 1 TiB in 8 MiB parts would be 131 072 parts: grown to fit 10 000.
        let t = 1u64 << 40;
        let p = part_size(t, 8 * MIB);
        assert!(t.div_ceil(p) <= MAX_PARTS && p.is_multiple_of(MIB), "{p}");
        assert_eq!(part_size(u64::MAX, 8 * MIB), MAX_PART_SIZE);
        assert_eq!(is_single_put(Some(8 * MIB), 8 * MIB), Some(true));
        assert_eq!(is_single_put(Some(8 * MIB + 1), 8 * MIB), Some(false));
        assert_eq!(is_single_put(None, 8 * MIB), None);
    }

    #[test]
    fn planned_from_the_exact_message_length() {
        use cse_core::{EncryptConfig, Encryptor};
        let kr = cse_core::RawAesKeyring::new("ns", "n", &[7u8; 32]).expect("keyring");
        let enc = Encryptor::new(&kr, &EncryptConfig::default()).expect("encryptor");
        let n = enc.message_len(100 << 20);
        assert!(n > 100 << 20);
        assert_eq!(part_size(n, 8 * MIB), 8 * MIB);
        assert_eq!(is_single_put(Some(enc.message_len(0)), 8 * MIB), Some(true));
    }
}
