//! One set of defaults for the `cse` tool and the page.

use cse_core::RsaPadding;

const MIB: u64 = 1 << 20;

/// The defaults of every transfer, native or in the page.
#[derive(Clone, Copy, Debug)]
pub struct Defaults {
    /// Bytes of message per multipart part (grown to stay under 10 000 parts), and the size
    /// of each download range after the first.
    pub part_size: u64,
    /// A message of at most this many bytes is sent with one PUT.
    pub multipart_threshold: u64,
    /// Requests in flight, parts and objects together (each holds at most one part or range
    /// in memory, so memory ≈ concurrency × part size).
    pub concurrency: usize,
    /// The first range of a download, fetched alone: enough for any header within the
    /// default header limit (1 MiB), and whole for small objects.
    pub first_range: u64,
    /// The smallest range after the first.
    pub min_range: u64,
    /// The users' keyring: namespace, name and padding.
    pub key_namespace: &'static str,
    pub key_name: &'static str,
    pub padding: RsaPadding,
}

/// The defaults. Part size and threshold 8 MiB, as the AWS CLI and SDKs use. Concurrency 10,
/// the AWS CLI's `max_concurrent_requests`: on a 2-core login node ten requests keep the
/// network busy while one core decrypts, and memory stays near 10 × 8 MiB; the page takes
/// the same (a browser opens at most 6 HTTP/1.1 connections per origin and queues the rest,
/// with HTTP/2 all ten go at once; 80 MiB is fine for a tab). Ranges after the first are a
/// part long (8 MiB): fewer requests per object than the former 1 MiB of the page, the same
/// as the tool; the first is 1 MiB so a hostile header costs one small request.
pub const DEFAULTS: Defaults = Defaults {
    part_size: 8 * MIB,
    multipart_threshold: 8 * MIB,
    concurrency: 10,
    first_range: MIB,
    min_range: MIB,
    key_namespace: "MyAppKeys",
    key_name: "S3RSAKey",
    padding: RsaPadding::OaepSha256,
};

/// The settings of one command (the defaults, changed by flags or page options).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub part_size: u64,
    pub multipart_threshold: u64,
    pub concurrency: usize,
    pub first_range: u64,
    /// Size of each range after the first (at least [`Defaults::min_range`]).
    pub range_size: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            part_size: DEFAULTS.part_size,
            multipart_threshold: DEFAULTS.multipart_threshold,
            concurrency: DEFAULTS.concurrency,
            first_range: DEFAULTS.first_range,
            range_size: DEFAULTS.part_size,
        }
    }
}

impl Settings {
    /// These settings with `part_size` for parts and ranges.
    pub fn with_part_size(mut self, part_size: u64) -> Self {
        self.part_size = part_size;
        self.range_size = part_size.max(DEFAULTS.min_range);
        self
    }
}
