//! Robustness of the reader: fixtures mutated by random byte flips, truncations, appended
//! bytes and header fields overwritten with hostile values (huge dims, NaN, odd codes)
//! must give `Ok` or `Err`, never a panic, and never make the reader allocate more than a
//! small budget on top of what its [`Limits`] allow.
//!
//! The allocation bound is enforced by the global allocator: during each read it refuses
//! anything past the budget, which aborts the test binary. So an abort here is a failure
//! of the "check limits before allocating" rule, a panic is a failure of "never panic".
//!
//! It runs 256 cases by default (well under a second). To fuzz for longer:
//!
//! ```text
//! PROPTEST_CASES=200000 cargo test -p volume --release --test fuzz
//! ```

use std::alloc::System;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use cap::Cap;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use volume::{Limits, read_header, read_label_masks, read_mask, read_volume_f32, read_volume_i16};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// The voxel limit given to the reader: above every fixture (280 voxels), far below what
/// a mutated header can declare (32767^3).
const MAX_VOXELS: u64 = 4096;

/// What a read may allocate beyond its output: the 64 KiB chunk buffers, the gzip
/// decoder's input buffer and inflate state, error messages. Outputs are bounded by
/// `MAX_VOXELS` (at most 8 bytes per voxel for the decoded values).
const BUDGET: usize = (1 << 20) + 8 * MAX_VOXELS as usize;

/// Serialises the reads: the allocator's count is global to the process.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Every fixture, decompressed (so header mutations hit header fields).
fn fixtures() -> &'static [Vec<u8>] {
    static ALL: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(".nii"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|path| {
                let raw = fs::read(path).unwrap();
                if raw.starts_with(&[0x1f, 0x8b]) {
                    let mut out = Vec::new();
                    std::io::copy(&mut MultiGzDecoder::new(&raw[..]), &mut out).unwrap();
                    out
                } else {
                    raw
                }
            })
            .collect()
    })
}

/// Header fields worth overwriting: offset and kind (2 = int16, 4 = float32, 0 = magic).
const FIELDS: &[(usize, u8)] = &[
    (0, 5),
    (40, 2),
    (42, 2),
    (44, 2),
    (46, 2),
    (48, 2),
    (50, 2),
    (52, 2),
    (54, 2),
    (70, 2),
    (72, 2),
    (76, 4),
    (80, 4),
    (84, 4),
    (88, 4),
    (108, 4),
    (112, 4),
    (116, 4),
    (252, 2),
    (254, 2),
    (256, 4),
    (260, 4),
    (264, 4),
    (268, 4),
    (280, 4),
    (284, 4),
    (296, 4),
    (312, 4),
    (324, 4),
    (344, 0),
];

#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        at: usize,
        xor: u8,
    },
    Truncate {
        keep: usize,
    },
    Append {
        bytes: Vec<u8>,
    },
    Field {
        field: usize,
        int: i16,
        float: f32,
        big: i32,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let int = prop_oneof![
        Just(0i16),
        Just(-1),
        Just(1),
        Just(3),
        Just(4),
        Just(7),
        Just(8),
        Just(i16::MAX),
        Just(i16::MIN),
        Just(32),
        Just(128),
        Just(1536),
        Just(2304),
        any::<i16>()
    ];
    let float = prop_oneof![
        Just(0.0f32),
        Just(-0.0),
        Just(-1.0),
        Just(1.0),
        Just(0.5),
        Just(351.0),
        Just(352.0),
        Just(400.0),
        Just(1e30),
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(f32::MAX),
        any::<f32>()
    ];
    let big = prop_oneof![Just(348i32), Just(540), Just(0x5c01_0000), any::<i32>()];
    prop_oneof![
        3 => (any::<usize>(), 1u8..).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        1 => any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| Mutation::Append { bytes }),
        4 => (0..FIELDS.len(), int, float, big)
            .prop_map(|(field, int, float, big)| Mutation::Field { field, int, float, big }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let big_endian = bytes.len() >= 4 && bytes[..4] == 348i32.to_be_bytes();
    match mutation {
        Mutation::Flip { at, xor } => {
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] ^= xor;
            }
        }
        Mutation::Truncate { keep } => bytes.truncate(keep % (bytes.len() + 1)),
        Mutation::Append { bytes: more } => bytes.extend_from_slice(more),
        Mutation::Field {
            field,
            int,
            float,
            big,
        } => {
            let (offset, kind) = FIELDS[*field];
            let value = match (kind, big_endian) {
                (2, false) => int.to_le_bytes().to_vec(),
                (2, true) => int.to_be_bytes().to_vec(),
                (4, false) => float.to_le_bytes().to_vec(),
                (4, true) => float.to_be_bytes().to_vec(),
                (5, false) => big.to_le_bytes().to_vec(),
                (5, true) => big.to_be_bytes().to_vec(),
                _ => [b"ni1\0", b"n+1\0", b"n+2\0", b"\0\0\0\0"][*int as usize & 3].to_vec(),
            };
            if let Some(slot) = bytes.get_mut(offset..offset + value.len()) {
                slot.copy_from_slice(&value);
            }
        }
    }
}

/// Runs every reader on `bytes` under the allocation budget and says whether the mask
/// reader accepted it; panics propagate to proptest.
fn read_all_ways(bytes: &[u8]) -> bool {
    let limits = Limits {
        max_voxels: MAX_VOXELS,
        max_vox_offset: 1 << 16,
        expected_shape: None,
    };
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    ALLOCATOR.set_limit(ALLOCATOR.allocated() + BUDGET).unwrap();
    let results = [
        read_header(bytes, &limits).err(),
        read_mask(bytes, &limits).err(),
        read_label_masks(bytes, &limits, &[1, 2]).err(),
        read_volume_f32(bytes, &limits).err(),
        read_volume_i16(bytes, &limits).err(),
    ];
    ALLOCATOR.set_limit(usize::MAX).unwrap();
    let mask_ok = results[1].is_none();
    // Rendering every message exercises the Display code of every error that occurred.
    for err in results.into_iter().flatten() {
        assert!(!err.to_string().is_empty());
    }
    mask_ok
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixtures_never_panic_nor_allocate_past_the_limits(
        fixture in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
        gzip in any::<bool>(),
        gzip_flips in prop::collection::vec((any::<usize>(), 1u8..), 0..3),
    ) {
        let all = fixtures();
        let mut bytes = all[fixture.index(all.len())].clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if gzip {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
            encoder.write_all(&bytes).unwrap();
            bytes = encoder.finish().unwrap();
            for (at, xor) in &gzip_flips {
                apply(&mut bytes, &Mutation::Flip { at: *at, xor: *xor });
            }
        }
        read_all_ways(&bytes);
    }
}

#[test]
fn every_unmutated_fixture_reads_within_the_budget() {
    for bytes in fixtures() {
        assert!(read_all_ways(bytes));
    }
}
