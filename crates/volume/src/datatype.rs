//! NIfTI-1 datatype codes: the ten integer and float types this crate decodes, and the
//! names of the ones it refuses (complex, RGB, 128-bit float, 1-bit), so that a refusal
//! can say what the file holds.

use crate::error::{Error, Result};

/// A voxel type this crate can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Datatype {
    /// `DT_UINT8` (2).
    U8,
    /// `DT_INT8` (256).
    I8,
    /// `DT_INT16` (4).
    I16,
    /// `DT_UINT16` (512).
    U16,
    /// `DT_INT32` (8).
    I32,
    /// `DT_UINT32` (768).
    U32,
    /// `DT_INT64` (1024).
    I64,
    /// `DT_UINT64` (1280).
    U64,
    /// `DT_FLOAT32` (16).
    F32,
    /// `DT_FLOAT64` (64).
    F64,
}

impl Datatype {
    /// Every supported datatype, for tests and documentation.
    pub const ALL: [Datatype; 10] = [
        Datatype::U8,
        Datatype::I8,
        Datatype::I16,
        Datatype::U16,
        Datatype::I32,
        Datatype::U32,
        Datatype::I64,
        Datatype::U64,
        Datatype::F32,
        Datatype::F64,
    ];

    /// Looks up a header's `datatype` code, naming unsupported NIfTI-1 types in the error.
    pub fn from_code(code: i16) -> Result<Self> {
        let unsupported = |name| Err(Error::UnsupportedDatatype { code, name });
        match code {
            2 => Ok(Datatype::U8),
            256 => Ok(Datatype::I8),
            4 => Ok(Datatype::I16),
            512 => Ok(Datatype::U16),
            8 => Ok(Datatype::I32),
            768 => Ok(Datatype::U32),
            1024 => Ok(Datatype::I64),
            1280 => Ok(Datatype::U64),
            16 => Ok(Datatype::F32),
            64 => Ok(Datatype::F64),
            0 => unsupported("DT_UNKNOWN"),
            1 => unsupported("BINARY, 1 bit per voxel"),
            32 => unsupported("COMPLEX64"),
            128 => unsupported("RGB24"),
            1536 => unsupported("FLOAT128"),
            1792 => unsupported("COMPLEX128"),
            2048 => unsupported("COMPLEX256"),
            2304 => unsupported("RGBA32"),
            _ => Err(Error::UnknownDatatype(code)),
        }
    }

    /// The code written in a header's `datatype` field.
    pub fn code(self) -> i16 {
        match self {
            Datatype::U8 => 2,
            Datatype::I8 => 256,
            Datatype::I16 => 4,
            Datatype::U16 => 512,
            Datatype::I32 => 8,
            Datatype::U32 => 768,
            Datatype::I64 => 1024,
            Datatype::U64 => 1280,
            Datatype::F32 => 16,
            Datatype::F64 => 64,
        }
    }

    /// Bytes per voxel.
    pub fn size(self) -> usize {
        match self {
            Datatype::U8 | Datatype::I8 => 1,
            Datatype::I16 | Datatype::U16 => 2,
            Datatype::I32 | Datatype::U32 | Datatype::F32 => 4,
            Datatype::I64 | Datatype::U64 | Datatype::F64 => 8,
        }
    }

    /// Bits per voxel, the value `bitpix` must hold.
    pub fn bitpix(self) -> u32 {
        8 * self.size() as u32
    }

    /// Whether voxels are floating point, which decides the mask foreground rule.
    pub fn is_float(self) -> bool {
        matches!(self, Datatype::F32 | Datatype::F64)
    }

    /// The name participants know from numpy and nibabel (`uint8`, `float32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Datatype::U8 => "uint8",
            Datatype::I8 => "int8",
            Datatype::I16 => "int16",
            Datatype::U16 => "uint16",
            Datatype::I32 => "int32",
            Datatype::U32 => "uint32",
            Datatype::I64 => "int64",
            Datatype::U64 => "uint64",
            Datatype::F32 => "float32",
            Datatype::F64 => "float64",
        }
    }
}

impl std::fmt::Display for Datatype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_code_round_trips() {
        for datatype in Datatype::ALL {
            assert_eq!(Datatype::from_code(datatype.code()).ok(), Some(datatype));
        }
    }

    #[test]
    fn rgb_is_refused_with_its_name_and_the_types_to_use_instead() {
        let message = Datatype::from_code(128)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "datatype 128 (RGB24) is not supported: write the mask as uint8, int16 or float32"
        );
    }

    #[test]
    fn complex_and_unknown_codes_are_refused() {
        assert!(matches!(
            Datatype::from_code(32),
            Err(Error::UnsupportedDatatype { code: 32, .. })
        ));
        assert!(matches!(
            Datatype::from_code(3),
            Err(Error::UnknownDatatype(3))
        ));
    }
}
