//! Zip bombs: an entry that inflates to 4 GiB is refused (or read only as far as a mask
//! can need) within a second or two, with memory flat, whatever its headers claim.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{SHAPE, ToySet};
use scorer::{Annotations, ScoreError};
use volume::Mask;

/// 4 GiB less two bytes: the most a zip entry without zip64 fields can declare
/// (0xFFFFFFFF itself means "see the zip64 field").
const FOUR_GIB: u64 = 0xFFFF_FFFE;

/// LSB-first bit writer, as deflate packs its bits.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= value << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// Huffman codes are sent most significant bit first.
    fn code(&mut self, code: u64, len: u32) {
        let reversed = (0..len).fold(0, |acc, i| acc | (((code >> i) & 1) << (len - 1 - i)));
        self.put(reversed, len);
    }

    fn literal(&mut self, byte: u8) {
        match byte {
            0..=143 => self.code(0x30 + u64::from(byte), 8),
            _ => self.code(0x190 + u64::from(byte) - 144, 9),
        }
    }
}

/// A raw deflate stream (one fixed-Huffman block) of `prefix` then zeros up to `total`
/// bytes: each 258-byte run of zeros costs 13 bits, so 4 GiB fit in about 27 MB and take a
/// fraction of a second to build, where compressing 4 GiB would take many seconds.
fn deflate_bomb(prefix: &[u8], total: u64) -> Vec<u8> {
    let mut bits = Bits {
        out: Vec::with_capacity(28 << 20),
        acc: 0,
        n: 0,
    };
    bits.put(0b011, 3); // BFINAL = 1, BTYPE = 01 (fixed Huffman)
    for &byte in prefix {
        bits.literal(byte);
    }
    bits.literal(0);
    let mut written = prefix.len() as u64 + 1;
    while written + 258 <= total {
        bits.code(0b1100_0101, 8); // length symbol 285: 258 bytes
        bits.code(0, 5); // distance symbol 0: distance 1
        written += 258;
    }
    while written < total {
        bits.literal(0);
        written += 1;
    }
    bits.code(0, 7); // end of block
    bits.put(0, 7);
    bits.out
}

/// A one-entry zip whose deflated entry `name` holds `data`, with `claimed_size` as its
/// uncompressed size and a made-up CRC, as an attacker's would be.
fn one_entry_zip(name: &str, data: &[u8], claimed_size: u32) -> Vec<u8> {
    let mut zip = Vec::new();
    let local = |zip: &mut Vec<u8>| {
        zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        zip.extend_from_slice(&20u16.to_le_bytes()); // version needed
        zip.extend_from_slice(&0u16.to_le_bytes()); // flags
        zip.extend_from_slice(&8u16.to_le_bytes()); // deflate
        zip.extend_from_slice(&[0; 4]); // time, date
        zip.extend_from_slice(&0xdead_beefu32.to_le_bytes()); // crc
        zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
        zip.extend_from_slice(&claimed_size.to_le_bytes());
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip.extend_from_slice(name.as_bytes());
    };
    local(&mut zip);
    zip.extend_from_slice(data);
    let central = zip.len() as u32;
    zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    zip.extend_from_slice(&20u16.to_le_bytes()); // version made by
    zip.extend_from_slice(&20u16.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(&8u16.to_le_bytes());
    zip.extend_from_slice(&[0; 4]);
    zip.extend_from_slice(&0xdead_beefu32.to_le_bytes());
    zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
    zip.extend_from_slice(&claimed_size.to_le_bytes());
    zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
    zip.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
    zip.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    zip.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    zip.extend_from_slice(name.as_bytes());
    let central_len = zip.len() as u32 - central;
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[0; 4]);
    zip.extend_from_slice(&1u16.to_le_bytes());
    zip.extend_from_slice(&1u16.to_le_bytes());
    zip.extend_from_slice(&central_len.to_le_bytes());
    zip.extend_from_slice(&central.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

fn refused_quickly(
    set: &ToySet,
    name: &str,
    prefix: &[u8],
    claimed_size: u32,
) -> (Duration, Result<scorer::Evaluation, ScoreError>) {
    let path = set.path("bomb.zip");
    let zip = one_entry_zip(name, &deflate_bomb(prefix, FOUR_GIB), claimed_size);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&zip)
        .unwrap();
    let annotations = Annotations::load(&set.annotations()).unwrap();
    let peak_before = peak_memory_bytes();
    let started = Instant::now();
    let result = scorer::score(&annotations, &path, &());
    let elapsed = started.elapsed();
    // Memory stays flat: the peak grows by far less than the bomb (other tests of this
    // binary run in parallel and build their own 27 MB bombs, hence the margin).
    if let (Some(before), Some(after)) = (peak_before, peak_memory_bytes()) {
        assert!(
            after - before < 256 << 20,
            "peak memory grew by {} MiB",
            (after - before) >> 20
        );
    }
    (elapsed, result)
}

/// The process's peak resident memory (`VmHWM`), where `/proc` has it.
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[test]
fn the_bomb_builder_makes_a_valid_stream() {
    // A small bomb inflates to exactly what was asked, with the prefix first.
    let stream = deflate_bomb(b"head", 100_000);
    let mut out = Vec::new();
    let mut decoder = flate2::write::DeflateDecoder::new(&mut out);
    decoder.write_all(&stream).unwrap();
    decoder.finish().unwrap();
    assert_eq!(out.len(), 100_000);
    assert_eq!(&out[..4], b"head");
    assert!(out[4..].iter().all(|&b| b == 0));
}

#[test]
fn a_four_gib_bomb_of_zeros_is_refused_within_two_seconds() {
    let set = ToySet::new();
    let (elapsed, result) = refused_quickly(&set, "c0.nii", b"", FOUR_GIB as u32);
    let Err(ScoreError::Invalid(problems)) = result else {
        panic!("the bomb was not refused")
    };
    assert!(
        problems
            .lines()
            .iter()
            .any(|l| l.starts_with("c0.nii: sizeof_hdr is 0")),
        "{problems}"
    );
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[test]
fn a_bomb_whose_header_understates_its_size_is_refused() {
    let set = ToySet::new();
    let (elapsed, result) = refused_quickly(&set, "c0.nii", b"", 1000);
    let Err(ScoreError::Invalid(problems)) = result else {
        panic!("the bomb was not refused")
    };
    assert!(
        problems.lines().iter().any(|l| l.starts_with("c0.nii: ")),
        "{problems}"
    );
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[test]
fn a_four_gib_bomb_behind_a_valid_header_is_read_only_as_far_as_the_mask_needs() {
    let set = ToySet::new();
    let mut header = Vec::new();
    volume::write_mask(&mut header, &set.geometry, &Mask::zeros(SHAPE)).unwrap();
    header.truncate(352);
    let (elapsed, result) = refused_quickly(&set, "c0.nii", &header, FOUR_GIB as u32);
    // The entry itself is a valid (empty) mask; the other studies' masks are missing.
    let Err(ScoreError::Invalid(problems)) = result else {
        panic!("expected missing masks")
    };
    assert_eq!(problems.lines().len(), 1, "{problems}");
    assert!(
        problems.lines()[0].contains("every test study needs a mask; 10 missing"),
        "{problems}"
    );
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[test]
fn an_archive_with_too_many_entries_is_refused_before_reading_them() {
    let set = ToySet::new();
    let entries: Vec<(String, Vec<u8>)> = (0..200).map(|i| (format!("x{i}.nii"), vec![])).collect();
    let path = set.path("many.zip");
    common::write_zip(&path, &entries);
    let annotations = Annotations::load(&set.annotations()).unwrap();
    let Err(ScoreError::Invalid(problems)) = scorer::score(&annotations, &path, &()) else {
        panic!()
    };
    assert_eq!(problems.lines().len(), 1);
    assert!(
        problems.lines()[0].contains("has 200 entries"),
        "{problems}"
    );
}
