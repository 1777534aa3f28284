//! Stored voxel types: turning a chunk of raw bytes into typed values in either byte order,
//! monomorphised per type so the hot loops compile to plain loads.

use crate::header::ByteOrder;

/// A stored voxel type of NIfTI-1.
pub(crate) trait Sample: Copy + PartialEq + 'static {
    /// Bytes per value.
    const SIZE: usize;
    /// Whether the float foreground rule (`>= 0.5`) applies.
    const IS_FLOAT: bool;
    /// The stored zero, background for integer masks.
    const ZERO: Self;
    /// Appends the values of `bytes` (a whole number of values) to `out`.
    fn decode(bytes: &[u8], order: ByteOrder, out: &mut Vec<Self>);
    /// The value as a double (exact for all types up to 32 bits).
    fn to_f64(self) -> f64;
    /// The value as int16 when it is an integer type and fits exactly.
    fn to_i16(self) -> Option<i16>;
    /// The stored value equal to `label`, if this type can hold it exactly (integers only:
    /// float label maps are compared after conversion to double).
    fn from_label(label: i64) -> Option<Self>;
}

macro_rules! sample {
    ($t:ty, $n:literal, $float:literal, $zero:literal, $label:expr, $i16:expr) => {
        impl Sample for $t {
            const SIZE: usize = $n;
            const IS_FLOAT: bool = $float;
            const ZERO: Self = $zero;
            #[inline]
            fn decode(bytes: &[u8], order: ByteOrder, out: &mut Vec<Self>) {
                let (values, _) = bytes.as_chunks::<$n>();
                match order {
                    ByteOrder::Little => out.extend(values.iter().map(|b| <$t>::from_le_bytes(*b))),
                    ByteOrder::Big => out.extend(values.iter().map(|b| <$t>::from_be_bytes(*b))),
                }
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn to_i16(self) -> Option<i16> {
                $i16(self)
            }
            #[inline]
            fn from_label(label: i64) -> Option<Self> {
                $label(label)
            }
        }
    };
}

sample!(u8, 1, false, 0, |l| u8::try_from(l).ok(), |v| Some(
    i16::from(v)
));
sample!(i8, 1, false, 0, |l| i8::try_from(l).ok(), |v| Some(
    i16::from(v)
));
sample!(i16, 2, false, 0, |l| i16::try_from(l).ok(), Some);
sample!(u16, 2, false, 0, |l| u16::try_from(l).ok(), |v| {
    i16::try_from(v).ok()
});
sample!(i32, 4, false, 0, |l| i32::try_from(l).ok(), |v| {
    i16::try_from(v).ok()
});
sample!(u32, 4, false, 0, |l| u32::try_from(l).ok(), |v| {
    i16::try_from(v).ok()
});
sample!(i64, 8, false, 0, Some, |v| i16::try_from(v).ok());
sample!(u64, 8, false, 0, |l| u64::try_from(l).ok(), |v| {
    i16::try_from(v).ok()
});
sample!(f32, 4, true, 0.0, |_| None, |_| None);
sample!(f64, 8, true, 0.0, |_| None, |_| None);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_byte_orders_decode_to_the_same_values() {
        let mut little = Vec::new();
        let mut big = Vec::new();
        i16::decode(&[0x01, 0xff, 0x00, 0x02], ByteOrder::Little, &mut little);
        i16::decode(&[0xff, 0x01, 0x02, 0x00], ByteOrder::Big, &mut big);
        assert_eq!(little, vec![-255, 512]);
        assert_eq!(big, little);
    }

    #[test]
    fn labels_that_a_type_cannot_hold_match_nothing() {
        assert_eq!(u8::from_label(300), None);
        assert_eq!(u8::from_label(-1), None);
        assert_eq!(i16::from_label(2), Some(2));
    }
}
