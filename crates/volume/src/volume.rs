//! An image held in memory: its grid and one value per voxel in memory order, as read
//! for the reference model's pipeline and written by the synthetic data generator.

use crate::error::{Error, Result};
use crate::geometry::Geometry;

/// A volume of voxel values of type `T` on a [`Geometry`], in memory order (the first
/// index varies fastest, as in NIfTI).
#[derive(Clone, Debug, PartialEq)]
pub struct Volume<T> {
    geometry: Geometry,
    data: Vec<T>,
}

impl<T: Copy> Volume<T> {
    /// A volume from its grid and data; errors unless there is exactly one value per voxel.
    pub fn new(geometry: Geometry, data: Vec<T>) -> Result<Self> {
        if data.len() != geometry.voxel_count() {
            return Err(Error::DataLength {
                got: data.len(),
                want: geometry.voxel_count(),
                shape: geometry.shape,
            });
        }
        Ok(Self { geometry, data })
    }

    /// The voxel grid.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The values in memory order.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The value of voxel `(i, j, k)`, or `None` outside the grid.
    pub fn get(&self, i: usize, j: usize, k: usize) -> Option<T> {
        self.geometry
            .index(i, j, k)
            .and_then(|n| self.data.get(n).copied())
    }

    /// The grid and the data, taken apart.
    pub fn into_parts(self) -> (Geometry, Vec<T>) {
        (self.geometry, self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_needs_one_value_per_voxel() {
        let grid = Geometry::axis_aligned([2, 3, 4], [1.0; 3]);
        assert!(Volume::new(grid.clone(), vec![0i16; 23]).is_err());
        let volume = Volume::new(grid, (0..24).collect::<Vec<i16>>()).unwrap();
        assert_eq!(volume.get(1, 2, 3), Some(1 + 2 * (2 + 3 * 3)));
        assert_eq!(volume.get(2, 0, 0), None);
    }
}
