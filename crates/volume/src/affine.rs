//! The qform quaternion of NIfTI-1, both ways: header fields to affine (reading) and
//! affine to header fields (writing).
//!
//! Both directions follow `nifti1_io.c` (`nifti_quatern_to_mat44`, `nifti_mat44_to_quatern`),
//! the reference implementation that nibabel, ITK and FSL agree with, so a qform read here
//! gives the same affine as in the tools participants use.

use crate::error::{Error, Result};

/// The qform fields of a NIfTI-1 header, in double precision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Qform {
    /// `quatern_b`, `quatern_c`, `quatern_d`: the rotation's quaternion without `a`.
    pub quatern: [f64; 3],
    /// `qoffset_x`, `qoffset_y`, `qoffset_z`: the millimetre position of voxel (0, 0, 0).
    pub offset: [f64; 3],
    /// `pixdim[1..=3]`: voxel spacing.
    pub pixdim: [f64; 3],
    /// `pixdim[0]`: -1 flips the third axis (a left-handed grid), anything else is 1.
    pub qfac: f64,
}

/// Makes a spacing usable: a negative one becomes its absolute value (nibabel's fix for
/// headers from buggy writers) and a zero one becomes 1, as `nifti1_io.c` does, so a
/// degenerate header gives a usable affine instead of a collapsed axis.
pub fn sane_spacing(pixdim: f64) -> f64 {
    if pixdim == 0.0 { 1.0 } else { pixdim.abs() }
}

/// The affine of a qform (NIfTI-1 "method 2").
pub fn qform_to_affine(q: &Qform) -> [[f64; 4]; 3] {
    let [mut b, mut c, mut d] = q.quatern;
    let norm2 = b * b + c * c + d * d;
    let a = if 1.0 - norm2 < 1e-7 {
        // The header's (b, c, d) has length ~1 or more: a 180 degree rotation. Normalising
        // keeps the matrix a rotation even when the stored values are slightly too long.
        let inv = 1.0 / norm2.sqrt();
        b *= inv;
        c *= inv;
        d *= inv;
        0.0
    } else {
        (1.0 - norm2).sqrt()
    };
    let [xd, yd, mut zd] = q.pixdim.map(sane_spacing);
    if q.qfac < 0.0 {
        zd = -zd;
    }
    [
        [
            (a * a + b * b - c * c - d * d) * xd,
            2.0 * (b * c - a * d) * yd,
            2.0 * (b * d + a * c) * zd,
            q.offset[0],
        ],
        [
            2.0 * (b * c + a * d) * xd,
            (a * a + c * c - b * b - d * d) * yd,
            2.0 * (c * d - a * b) * zd,
            q.offset[1],
        ],
        [
            2.0 * (b * d - a * c) * xd,
            2.0 * (c * d + a * b) * yd,
            (a * a + d * d - c * c - b * b) * zd,
            q.offset[2],
        ],
    ]
}

/// The qform that best represents `affine`: spacing from the column lengths, `qfac` from
/// the handedness, and the quaternion of the normalised rotation.
///
/// A sheared affine has no exact qform; its rotation part is then only approximated (the
/// sform, written beside it, stays exact). Errors on a zero or non-finite column.
pub fn affine_to_qform(affine: &[[f64; 4]; 3]) -> Result<Qform> {
    let mut r = [[0.0; 3]; 3];
    let mut pixdim = [0.0; 3];
    for col in 0..3 {
        let column = [affine[0][col], affine[1][col], affine[2][col]];
        let length = column.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !(length.is_finite() && length > 0.0) {
            return Err(Error::DegenerateAffine { axis: col, column });
        }
        pixdim[col] = length;
        for row in 0..3 {
            r[row][col] = column[row] / length;
        }
    }
    for (row, values) in affine.iter().enumerate() {
        if !values[3].is_finite() {
            return Err(Error::NonFiniteField {
                field: ["qoffset_x", "qoffset_y", "qoffset_z"][row],
                value: values[3],
            });
        }
    }
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
        - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det < 0.0 {
        // A left-handed grid: flip the third column so the rest is a proper rotation.
        for row in &mut r {
            row[2] = -row[2];
        }
        -1.0
    } else {
        1.0
    };
    Ok(Qform {
        quatern: rotation_to_quaternion(&r),
        offset: [affine[0][3], affine[1][3], affine[2][3]],
        pixdim,
        qfac,
    })
}

/// The `(b, c, d)` of the unit quaternion with `a >= 0` of a rotation matrix, choosing the
/// numerically stable formula as `nifti_mat44_to_quatern` does.
fn rotation_to_quaternion(r: &[[f64; 3]; 3]) -> [f64; 3] {
    let trace = r[0][0] + r[1][1] + r[2][2] + 1.0;
    let (a, b, c, d);
    if trace > 0.5 {
        a = 0.5 * trace.sqrt();
        b = 0.25 * (r[2][1] - r[1][2]) / a;
        c = 0.25 * (r[0][2] - r[2][0]) / a;
        d = 0.25 * (r[1][0] - r[0][1]) / a;
    } else {
        let xd = 1.0 + r[0][0] - (r[1][1] + r[2][2]);
        let yd = 1.0 + r[1][1] - (r[0][0] + r[2][2]);
        let zd = 1.0 + r[2][2] - (r[0][0] + r[1][1]);
        if xd > 1.0 {
            b = 0.5 * xd.sqrt();
            c = 0.25 * (r[0][1] + r[1][0]) / b;
            d = 0.25 * (r[0][2] + r[2][0]) / b;
            a = 0.25 * (r[2][1] - r[1][2]) / b;
        } else if yd > 1.0 {
            c = 0.5 * yd.sqrt();
            b = 0.25 * (r[0][1] + r[1][0]) / c;
            d = 0.25 * (r[1][2] + r[2][1]) / c;
            a = 0.25 * (r[0][2] - r[2][0]) / c;
        } else {
            d = 0.5 * zd.sqrt();
            b = 0.25 * (r[0][2] + r[2][0]) / d;
            c = 0.25 * (r[1][2] + r[2][1]) / d;
            a = 0.25 * (r[1][0] - r[0][1]) / d;
        }
    }
    if a < 0.0 { [-b, -c, -d] } else { [b, c, d] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(got: &[[f64; 4]; 3], want: &[[f64; 4]; 3]) {
        for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
            assert!((g - w).abs() < 1e-9, "{got:?} != {want:?}");
        }
    }

    #[test]
    fn an_identity_quaternion_gives_a_scaled_grid() {
        let q = Qform {
            quatern: [0.0; 3],
            offset: [1.0, 2.0, 3.0],
            pixdim: [0.5, 0.6, 2.0],
            qfac: 1.0,
        };
        let want = [
            [0.5, 0.0, 0.0, 1.0],
            [0.0, 0.6, 0.0, 2.0],
            [0.0, 0.0, 2.0, 3.0],
        ];
        assert_close(&qform_to_affine(&q), &want);
    }

    #[test]
    fn negative_qfac_flips_the_third_axis_and_negative_pixdim_is_made_positive() {
        let q = Qform {
            quatern: [0.0; 3],
            offset: [0.0; 3],
            pixdim: [-0.5, 0.0, 2.0],
            qfac: -1.0,
        };
        let want = [
            [0.5, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, -2.0, 0.0],
        ];
        assert_close(&qform_to_affine(&q), &want);
    }

    #[test]
    fn affines_with_flips_and_rotations_survive_a_round_trip_through_the_qform() {
        let (s, c) = 0.3f64.sin_cos();
        let affines = [
            [
                [-0.7, 0.0, 0.0, 10.0],
                [0.0, -0.7, 0.0, 20.0],
                [0.0, 0.0, 2.5, -30.0],
            ],
            [
                [0.7, 0.0, 0.0, 0.0],
                [0.0, 0.8, 0.0, 0.0],
                [0.0, 0.0, -2.5, 0.0],
            ],
            [[c, -s, 0.0, 1.0], [s, c, 0.0, 2.0], [0.0, 0.0, 3.0, 3.0]],
            [
                [0.0, 0.0, 1.5, 0.0],
                [1.0, 0.0, 0.0, 0.0],
                [0.0, -2.0, 0.0, 0.0],
            ],
            [
                [-1.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, 0.0, 0.0],
                [0.0, 0.0, -1.0, 0.0],
            ],
        ];
        for affine in affines {
            let q = affine_to_qform(&affine).unwrap();
            assert_close(&qform_to_affine(&q), &affine);
        }
    }

    #[test]
    fn a_collapsed_axis_cannot_be_written_as_a_qform() {
        let affine = [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
        ];
        assert!(matches!(
            affine_to_qform(&affine),
            Err(Error::DegenerateAffine { axis: 1, .. })
        ));
    }
}
