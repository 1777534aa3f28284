//! The reader against files written by nibabel and SimpleITK: every fixture in
//! `tests/fixtures/` must read to what nibabel itself reads (`expected.json`, written by
//! `make_fixtures.py` next to the files).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use volume::{
    AffineSource, ByteOrder, Limits, read_header, read_label_masks, read_mask, read_volume_f32,
    read_volume_i16,
};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected() -> serde_json::Map<String, Value> {
    let text = fs::read_to_string(dir().join("expected.json")).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Value::Object(map) => map,
        other => panic!("expected.json is not an object: {other}"),
    }
}

fn shape(v: &Value) -> [usize; 3] {
    let n = |i: usize| v[i].as_u64().unwrap() as usize;
    [n(0), n(1), n(2)]
}

#[test]
fn every_fixture_reads_to_what_nibabel_reads() {
    let all = expected();
    assert!(all.len() >= 20, "only {} fixtures", all.len());
    for (name, want) in &all {
        let bytes = fs::read(dir().join(name)).unwrap();
        let limits = Limits::default().with_expected_shape(shape(&want["shape"]));
        let (header, mask) =
            read_mask(&bytes[..], &limits).unwrap_or_else(|e| panic!("{name}: {e}"));

        assert_eq!(
            mask.count(),
            want["count"].as_u64().unwrap(),
            "{name}: count"
        );
        assert_eq!(
            header.datatype.name(),
            want["datatype"].as_str().unwrap(),
            "{name}"
        );
        let big = header.byte_order == ByteOrder::Big;
        assert_eq!(big, want["big_endian"].as_bool().unwrap(), "{name}");
        assert_eq!(
            header.vox_offset as f64,
            want["vox_offset"].as_f64().unwrap(),
            "{name}"
        );
        for (row, want_row) in header
            .geometry
            .affine
            .iter()
            .zip(want["affine"].as_array().unwrap())
        {
            for (got, want) in row.iter().zip(want_row.as_array().unwrap()) {
                let want = want.as_f64().unwrap();
                assert!((got - want).abs() < 1e-6, "{name}: affine {got} != {want}");
            }
        }
        match (
            want["sform_code"].as_i64().unwrap(),
            want["qform_code"].as_i64().unwrap(),
        ) {
            (s, _) if s > 0 => assert_eq!(header.affine_source, AffineSource::Sform(s as i16)),
            (_, q) if q > 0 => assert_eq!(header.affine_source, AffineSource::Qform(q as i16)),
            _ => assert_eq!(header.affine_source, AffineSource::Pixdim),
        }

        let (_, volume) = read_volume_f32(&bytes[..], &limits).unwrap();
        for sample in want["samples"].as_array().unwrap() {
            let [i, j, k] = shape(sample);
            let value = sample[3].as_f64().unwrap();
            let got = f64::from(volume.get(i, j, k).unwrap());
            assert!(
                (got - value).abs() < 1e-6,
                "{name}: voxel ({i},{j},{k}) {got} != {value}"
            );
            let is_float = header.datatype.is_float();
            assert_eq!(
                mask.get(i, j, k),
                if is_float { value >= 0.5 } else { value != 0.0 }
            );
        }
    }
}

#[test]
fn scaling_fields_are_read_as_nibabel_wrote_them() {
    for (name, want) in expected() {
        let header = read_header(
            &fs::read(dir().join(&name)).unwrap()[..],
            &Limits::default(),
        )
        .unwrap();
        let slope = want["scl_slope"].as_f64();
        match header.scaling {
            Some(s) => {
                assert_eq!(Some(s.slope), slope, "{name}");
                assert_eq!(s.inter, want["scl_inter"].as_f64().unwrap(), "{name}");
            }
            // No scaling: the slope was NaN (null in JSON) or zero.
            None => assert!(slope.is_none_or(|s| s == 0.0), "{name}"),
        }
    }
}

#[test]
fn the_label_map_splits_into_right_and_left_lung_masks() {
    let all = expected();
    let want = &all["u8_labels.nii.gz"]["label_counts"];
    let file = fs::File::open(dir().join("u8_labels.nii.gz")).unwrap();
    let (_, masks) = read_label_masks(file, &Limits::default(), &[1, 2]).unwrap();
    assert_eq!(masks[0].count(), want["1"].as_u64().unwrap());
    assert_eq!(masks[1].count(), want["2"].as_u64().unwrap());
    assert_eq!(masks[0].intersection_count(&masks[1]).unwrap(), 0);
}

#[test]
fn simpleitk_ct_reads_as_int16_hounsfield_units() {
    let all = expected();
    let want = &all["sitk_i16.nii.gz"];
    let file = fs::File::open(dir().join("sitk_i16.nii.gz")).unwrap();
    let (header, volume) = read_volume_i16(file, &Limits::default()).unwrap();
    assert_eq!(header.affine_source, AffineSource::Sform(1));
    for sample in want["samples"].as_array().unwrap() {
        let [i, j, k] = shape(sample);
        assert_eq!(
            f64::from(volume.get(i, j, k).unwrap()),
            sample[3].as_f64().unwrap()
        );
    }
}

#[test]
fn gzip_is_detected_by_content_whatever_the_name() {
    let plain = read_mask(
        fs::File::open(dir().join("u8_plain.nii")).unwrap(),
        &Limits::default(),
    );
    let named = read_mask(
        fs::File::open(dir().join("u8_gzip_named_nii.nii")).unwrap(),
        &Limits::default(),
    );
    let multi = read_mask(
        fs::File::open(dir().join("u8_multi_member.nii.gz")).unwrap(),
        &Limits::default(),
    );
    let plain = plain.unwrap().1;
    assert_eq!(named.unwrap().1, plain);
    assert_eq!(multi.unwrap().1, plain);
}

#[test]
fn fixtures_stay_small() {
    for entry in fs::read_dir(dir()).unwrap() {
        let entry = entry.unwrap();
        let size = entry.metadata().unwrap().len();
        let name = entry.file_name();
        let limit = if name == "expected.json" {
            64 << 10
        } else {
            16 << 10
        };
        assert!(size < limit, "{name:?} has {size} bytes");
    }
}
