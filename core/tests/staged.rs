//! `Encryptor::stage` / `commit`: frames laid out by core and sealed outside (here with core's
//! own `GcmKey` from `frame_key()`, as the page does with WebCrypto) give the same message as
//! `update`, whatever the pieces; a call while staged frames wait fails, for good.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a test failure")]

mod common;

use cse_core::crypto::{CryptoProvider, GcmKey, TAG_LEN};
use cse_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptConfig, Decryptor, EncryptConfig, Encryptor, Error,
    RawAesKeyring,
};

const FRAME: u32 = 4096;

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("MyAppKeys", "staged", &[0x5a; 32]).unwrap()
}

fn config(suite: AlgorithmSuite) -> EncryptConfig {
    common::writing(suite, FRAME)
}

fn decrypt(message: &[u8]) -> Result<Vec<u8>, Error> {
    let config = DecryptConfig {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        ..Default::default()
    };
    let mut dec = Decryptor::new(keyring(), config);
    let mut out = Vec::new();
    dec.update(message, &mut out)?;
    dec.finish()?;
    Ok(out)
}

/// Seals every staged frame in `out` as an outside AES-GCM would: from the IV, the AAD and
/// the range that `Staged` gives, nothing else.
fn seal_outside(key: &GcmKey, staged: &cse_core::Staged, out: &mut [u8]) {
    for i in 0..staged.count() {
        let r = staged.sealed_range(i);
        let (ct, tag) = out[r].split_at_mut(staged.frame_len());
        assert!(tag.iter().all(|b| *b == 0), "the tag place starts zeroed");
        let t = key.seal_in_place(&staged.iv(i), staged.aad(i).as_ref(), ct);
        tag.copy_from_slice(&t);
    }
}

fn by_update(mut enc: Encryptor, data: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for p in data.chunks(piece.max(1)) {
        enc.update(p, &mut out).unwrap();
    }
    enc.finish(&mut out).unwrap();
    out
}

fn by_stage(mut enc: Encryptor, provider: CryptoProvider, data: &[u8], piece: usize) -> Vec<u8> {
    let key = GcmKey::new(provider, &enc.frame_key()).unwrap();
    let mut out = Vec::new();
    let mut frames = 0;
    for p in data.chunks(piece.max(1)) {
        let staged = enc.stage(p, &mut out).unwrap();
        assert_eq!(staged.end(), out.len());
        assert_eq!(staged.first_seq() as usize, frames + 1);
        frames += staged.count();
        if frames % 2 == 1 {
            // The hash of the frames committed before, while these would be sealed.
            enc.catch_up_hash();
        }
        seal_outside(&key, &staged, &mut out);
        enc.commit(staged, &out).unwrap();
    }
    enc.finish(&mut out).unwrap();
    out
}

#[test]
fn staged_frames_sealed_outside_give_the_message_of_update() {
    let f = FRAME as usize;
    for &suite in AlgorithmSuite::ALL {
        for &provider in CryptoProvider::all() {
            let (_, secret) = Encryptor::new_resumable(&keyring(), &config(suite)).unwrap();
            for len in [0, 100, 3 * f, 3 * f + 100] {
                let data: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
                for piece in [len, 1, 7, 4096, 4097] {
                    let what = format!("{suite} {} len {len} piece {piece}", provider.name());
                    let normal =
                        by_update(Encryptor::resume(&secret, provider).unwrap(), &data, piece);
                    let staged = by_stage(
                        Encryptor::resume(&secret, provider).unwrap(),
                        provider,
                        &data,
                        piece,
                    );
                    common::assert_same_up_to_signature(&normal, &staged, suite, &what);
                    assert_eq!(decrypt(&staged).unwrap(), data, "{what}");
                    assert_eq!(decrypt(&normal).unwrap(), data, "{what}");
                }
            }
        }
    }
}

#[test]
fn the_frame_key_is_the_key_of_the_frames() {
    let suite = AlgorithmSuite::from_id(0x0478).unwrap();
    let mut enc = Encryptor::new(&keyring(), &config(suite)).unwrap();
    let key = enc.frame_key();
    assert_eq!(key.len(), 32);
    let mut out = Vec::new();
    enc.update(&[9u8; FRAME as usize], &mut out).unwrap();
    // The one regular frame: seq ‖ IV ‖ ciphertext ‖ tag after the header.
    let frame = &out[enc.header_len()..];
    let iv: [u8; 12] = frame[4..16].try_into().unwrap();
    let mut ct = frame[16..frame.len() - TAG_LEN].to_vec();
    let tag = &frame[frame.len() - TAG_LEN..];
    let mut aad = enc.header().message_id.clone();
    aad.extend_from_slice(b"AWSKMSEncryptionClient Frame");
    aad.extend_from_slice(&1u32.to_be_bytes());
    aad.extend_from_slice(&u64::from(FRAME).to_be_bytes());
    let gcm = GcmKey::new(CryptoProvider::PURE_RUST, &key).unwrap();
    gcm.open_in_place(&iv, &aad, &mut ct, tag).unwrap();
    assert_eq!(ct, vec![9u8; FRAME as usize]);
}

#[test]
fn a_call_while_frames_are_staged_fails_for_good() {
    let suite = AlgorithmSuite::from_id(0x0578).unwrap();
    let data = vec![1u8; 2 * FRAME as usize];
    type Call = fn(&mut Encryptor, &[u8], &mut Vec<u8>) -> Result<(), Error>;
    let calls: [(&str, Call); 2] = [
        ("update", |e, d, o| e.update(d, o)),
        ("stage", |e, d, o| e.stage(d, o).map(drop)),
    ];
    for (what, call) in calls {
        let mut enc = Encryptor::new(&keyring(), &config(suite)).unwrap();
        let mut out = Vec::new();
        let staged = enc.stage(&data, &mut out).unwrap();
        assert_eq!(staged.count(), 2);
        let before = out.len();
        assert!(
            matches!(call(&mut enc, &data, &mut out), Err(Error::Misuse(_))),
            "{what}"
        );
        assert_eq!(out.len(), before, "{what}: nothing more written");
        // Failed for good: committing now does not bring it back.
        assert!(
            matches!(enc.commit(staged, &out), Err(Error::Misuse(_))),
            "{what}"
        );
        assert!(
            matches!(enc.update(&data, &mut out), Err(Error::Misuse(_))),
            "{what}"
        );
        assert!(
            matches!(enc.finish(&mut out), Err(Error::Misuse(_))),
            "{what}"
        );
    }
    // finish while staged frames wait.
    let mut enc = Encryptor::new(&keyring(), &config(suite)).unwrap();
    let mut out = Vec::new();
    let _staged = enc.stage(&data, &mut out).unwrap();
    assert!(matches!(enc.finish(&mut out), Err(Error::Misuse(_))));
    // A Staged of another encryptor, or a buffer shorter than the frames, is refused.
    let mut a = Encryptor::new(&keyring(), &config(suite)).unwrap();
    let mut b = Encryptor::new(&keyring(), &config(suite)).unwrap();
    let (mut oa, mut ob) = (Vec::new(), Vec::new());
    let sa = a.stage(&data, &mut oa).unwrap();
    let _sb = b.stage(&data[..10], &mut ob).unwrap();
    assert!(matches!(b.commit(sa, &ob), Err(Error::Misuse(_))));
    let mut c = Encryptor::new(&keyring(), &config(suite)).unwrap();
    let mut oc = Vec::new();
    let sc = c.stage(&data, &mut oc).unwrap();
    assert!(matches!(
        c.commit(sc, &oc[..oc.len() - 1]),
        Err(Error::Misuse(_))
    ));
}

#[test]
fn a_long_message_staged_without_catching_up_the_hash_decrypts() {
    // More than the hash backlog's bound, in pieces of 1 MiB, the hash never caught up.
    let suite = AlgorithmSuite::from_id(0x0578).unwrap();
    let data: Vec<u8> = (0..10 << 20).map(|i: usize| (i % 241) as u8).collect();
    let mut enc = Encryptor::new(&keyring(), &config(suite)).unwrap();
    let key = GcmKey::new(CryptoProvider::PURE_RUST, &enc.frame_key()).unwrap();
    let mut out = Vec::new();
    for p in data.chunks(1 << 20) {
        let staged = enc.stage(p, &mut out).unwrap();
        seal_outside(&key, &staged, &mut out);
        enc.commit(staged, &out).unwrap();
    }
    enc.finish(&mut out).unwrap();
    assert_eq!(decrypt(&out).unwrap(), data);
}
