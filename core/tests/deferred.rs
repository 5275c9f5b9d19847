//! `Decryptor::update_deferred` / `complete`: runs of regular frames opened outside (here by
//! core's own `GcmKey` from `frame_key()`, as the page does with WebCrypto) release exactly
//! what the normal path releases, in any pieces; a tampered or truncated message releases no
//! more than the normal path and fails the same way; an outside failure at frame i releases
//! nothing from frame i on; a signed message is never out whole before its footer verified.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a test failure")]

mod common;

use cse_core::crypto::{CryptoProvider, GcmKey, TAG_LEN};
use cse_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptConfig, Decryptor, Deferred, Encryptor, Error, Opened,
    RawAesKeyring,
};

const FRAME: u32 = 64;

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("MyAppKeys", "deferred", &[0x33; 32]).unwrap()
}

fn encrypt(suite: AlgorithmSuite, data: &[u8]) -> Vec<u8> {
    let config = common::writing(suite, FRAME);
    let mut enc = Encryptor::new(&keyring(), &config).unwrap();
    let mut out = Vec::new();
    enc.update(data, &mut out).unwrap();
    enc.finish(&mut out).unwrap();
    out
}

fn config(provider: CryptoProvider) -> DecryptConfig {
    DecryptConfig {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        provider,
        ..Default::default()
    }
}

/// What one decryption gave: the plaintext released and how it ended.
struct Run {
    released: Vec<u8>,
    result: Result<(), Error>,
    /// Frames handed out to the outside opener.
    handed_out: Vec<u32>,
}

fn shown(r: &Result<(), Error>) -> String {
    format!("{r:?}")
}

fn normal(message: &[u8], piece: usize, provider: CryptoProvider) -> Run {
    let mut dec = Decryptor::new(keyring(), config(provider));
    let mut out = Vec::new();
    let mut result = Ok(());
    for p in message.chunks(piece.max(1)) {
        result = dec.update(p, &mut out);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = dec.finish();
    }
    Run {
        released: out,
        result,
        handed_out: Vec::new(),
    }
}

/// Opens every frame of `d` with `key`, as an outside AES-GCM would, failing frame `bad`
/// (a sequence number) whatever its tag.
fn open_outside(key: &GcmKey, d: &Deferred, bad: Option<u32>) -> (Vec<u8>, Option<usize>) {
    let mut plain = Vec::new();
    for i in 0..d.count() {
        let sealed = d.sealed(i);
        let (ct, tag) = sealed.split_at(sealed.len() - TAG_LEN);
        let mut buf = ct.to_vec();
        let ok = key
            .open_in_place(&d.iv(i), d.aad(i).as_ref(), &mut buf, tag)
            .is_ok();
        if !ok || bad == Some(d.first_seq() + i as u32) {
            return (plain, Some(i));
        }
        plain.extend_from_slice(&buf);
    }
    (plain, None)
}

fn deferred(
    message: &[u8],
    piece: usize,
    max_frames: usize,
    bad: Option<u32>,
    provider: CryptoProvider,
) -> Run {
    let mut dec = Decryptor::new(keyring(), config(provider));
    let mut d = Deferred::new(max_frames);
    let mut out = Vec::new();
    let mut handed_out = Vec::new();
    let mut go = || -> Result<(), Error> {
        for p in message.chunks(piece.max(1)) {
            let mut input = p;
            loop {
                let n = dec.update_deferred(input, &mut out, &mut d)?;
                input = &input[n..];
                if d.count() == 0 {
                    assert!(input.is_empty(), "no run handed out: all of the input used");
                    break;
                }
                assert!(d.count() >= 2 && d.count() <= max_frames.max(2));
                handed_out.extend((0..d.count()).map(|i| d.first_seq() + i as u32));
                if bad.is_none() && d.first_seq() % 3 == 2 {
                    // Some runs opened by core itself, as when the outside cannot take the key.
                    dec.open_deferred(&mut d, &mut out)?;
                    continue;
                }
                let key = GcmKey::new(provider, &dec.frame_key().unwrap()).unwrap();
                if d.first_seq() % 2 == 1 {
                    // The run's hash while it would be opened outside.
                    dec.catch_up_hash();
                }
                let (plain, failed) = open_outside(&key, &d, bad);
                let opened = match failed {
                    None => Opened::All(&plain),
                    Some(index) => Opened::FailedAt {
                        index,
                        before: &plain,
                    },
                };
                dec.complete(&mut d, opened, &mut out)?;
            }
        }
        dec.finish()
    };
    let result = go();
    Run {
        released: out,
        result,
        handed_out,
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 253) as u8).collect()
}

const PIECES: [usize; 6] = [usize::MAX, 1, 7, 64, 93, 1000];

#[test]
fn the_deferred_path_gives_the_plaintext_of_the_normal_path() {
    let f = FRAME as usize;
    for &suite in AlgorithmSuite::ALL {
        for &provider in CryptoProvider::all() {
            for len in [0, 10, 7 * f, 7 * f + 10, 40 * f + 3] {
                let plain = data(len);
                let message = encrypt(suite, &plain);
                for piece in PIECES {
                    for max in [2, 3, 256] {
                        let what = format!(
                            "{suite} {} len {len} piece {piece} max {max}",
                            provider.name()
                        );
                        let n = normal(&message, piece, provider);
                        let d = deferred(&message, piece, max, None, provider);
                        assert!(n.result.is_ok(), "{what}: {:?}", n.result);
                        assert!(d.result.is_ok(), "{what}: {:?}", d.result);
                        assert_eq!(d.released, plain, "{what}");
                        if piece == usize::MAX && len >= 3 * f {
                            assert!(!d.handed_out.is_empty(), "{what}: runs went outside");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn tampered_and_truncated_messages_release_no_more_and_fail_the_same() {
    let f = FRAME as usize;
    let provider = CryptoProvider::PURE_RUST;
    for id in [0x0478u16, 0x0578, 0x0178] {
        let suite = AlgorithmSuite::from_id(id).unwrap();
        let plain = data(9 * f + 5);
        let message = encrypt(suite, &plain);
        let check = |m: &[u8], what: &str| {
            for piece in [usize::MAX, 7, 200] {
                let n = normal(m, piece, provider);
                let d = deferred(m, piece, 4, None, provider);
                assert!(d.released.len() <= n.released.len(), "{what} piece {piece}");
                assert_eq!(
                    d.released[..],
                    n.released[..d.released.len()],
                    "{what} piece {piece}"
                );
                assert_eq!(shown(&d.result), shown(&n.result), "{what} piece {piece}");
            }
        };
        for at in 0..message.len() {
            let mut m = message.clone();
            m[at] ^= 0x40;
            let what = format!("{suite}: byte {at} flipped");
            check(&m, &what);
        }
        for cut in 0..message.len() {
            check(&message[..cut], &format!("{suite}: cut at {cut}"));
        }
    }
}

#[test]
fn an_outside_failure_at_frame_i_releases_nothing_from_frame_i_on() {
    let f = FRAME as usize;
    let provider = CryptoProvider::PURE_RUST;
    for id in [0x0478u16, 0x0578] {
        let suite = AlgorithmSuite::from_id(id).unwrap();
        let plain = data(12 * f + 5);
        let message = encrypt(suite, &plain);
        for max in [2, 5, 256] {
            let all = deferred(&message, usize::MAX, max, None, provider).handed_out;
            assert!(all.len() >= 10, "{suite} max {max}: {all:?}");
            for &bad in &all {
                let d = deferred(&message, usize::MAX, max, Some(bad), provider);
                let what = format!("{suite} max {max} frame {bad}");
                assert!(
                    matches!(d.result, Err(Error::FrameAuthentication { sequence }) if sequence == bad),
                    "{what}: {:?}",
                    d.result
                );
                assert!(d.released.len() <= (bad as usize - 1) * f, "{what}");
                assert_eq!(d.released[..], plain[..d.released.len()], "{what}");
            }
        }
    }
}

#[test]
fn a_signed_message_is_never_out_whole_before_its_footer_verifies() {
    let f = FRAME as usize;
    let provider = CryptoProvider::PURE_RUST;
    for id in [0x0578u16, 0x0378, 0x0214] {
        let suite = AlgorithmSuite::from_id(id).unwrap();
        // Ending on a full frame (an empty final frame) too.
        for len in [f * 8, f * 8 + 1, 3] {
            let plain = data(len);
            let message = encrypt(suite, &plain);
            let footer = 2 + suite.signature().unwrap().fixed_signature_len();
            let body_end = message.len() - footer;
            for piece in PIECES {
                for max in [2, 256] {
                    // Everything but the footer, and a footer whose signature does not verify.
                    let d = deferred(&message[..body_end], piece, max, None, provider);
                    assert!(
                        matches!(d.result, Err(Error::Truncated)),
                        "{suite} {:?}",
                        d.result
                    );
                    assert!(d.released.len() < len, "{suite} len {len} piece {piece}");
                    let mut m = message.clone();
                    let last = m.len() - 1;
                    m[last] ^= 1;
                    let d = deferred(&m, piece, max, None, provider);
                    assert!(d.result.is_err(), "{suite}");
                    assert!(d.released.len() < len, "{suite} len {len} piece {piece}");
                }
            }
        }
    }
}

#[test]
fn a_call_while_a_run_is_out_fails_for_good() {
    let suite = AlgorithmSuite::from_id(0x0578).unwrap();
    let message = encrypt(suite, &data(10 * FRAME as usize));
    let provider = CryptoProvider::PURE_RUST;
    // update, update_deferred and finish before complete.
    for call in 0..3 {
        let mut dec = Decryptor::new(keyring(), config(provider));
        let mut d = Deferred::new(4);
        let mut out = Vec::new();
        let n = dec.update_deferred(&message, &mut out, &mut d).unwrap();
        assert_eq!(d.count(), 4);
        let r = match call {
            0 => dec.update(&message[n..], &mut out),
            1 => dec
                .update_deferred(&message[n..], &mut out, &mut Deferred::new(4))
                .map(drop),
            _ => dec.finish(),
        };
        assert!(matches!(r, Err(Error::Misuse(_))), "call {call}: {r:?}");
        assert!(dec.frame_key().is_none(), "call {call}");
        let plain = vec![0u8; 4 * FRAME as usize];
        let r = dec.complete(&mut d, Opened::All(&plain), &mut out);
        assert!(matches!(r, Err(Error::Misuse(_))), "call {call}");
        assert!(out.is_empty(), "call {call}");
    }
    // An outcome that does not fit the run releases nothing.
    for bad in [
        Opened::All(&[0u8; 3]),
        Opened::FailedAt {
            index: 4,
            before: &[0u8; 4 * FRAME as usize],
        },
        Opened::FailedAt {
            index: 1,
            before: &[],
        },
    ] {
        let mut dec = Decryptor::new(keyring(), config(provider));
        let mut d = Deferred::new(4);
        let mut out = Vec::new();
        dec.update_deferred(&message, &mut out, &mut d).unwrap();
        let before = out.len();
        assert!(matches!(
            dec.complete(&mut d, bad, &mut out),
            Err(Error::Misuse(_))
        ));
        assert_eq!(out.len(), before);
        assert_eq!(dec.released(), before as u64);
    }
}
