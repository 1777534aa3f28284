//! An exponential moving average of the weights (Polyak averaging): validation scores the
//! average instead of the weights of the last step, and the kept weights are the average.
//! A classifier's validation scores then move less between checkpoints, so that the best
//! of them says more about the model and less about the last few draws of studies.

use anyhow::Result;
use candle_core::{Tensor, Var};
use candle_nn::VarMap;

/// The average of every tensor of a parameter map, batch norm's running statistics
/// included (they belong to the averaged weights).
pub(super) struct Average {
    decay: f64,
    updates: usize,
    /// Each variable with its average, in the map's name order.
    pairs: Vec<(Var, Tensor)>,
}

impl Average {
    /// Starts the average at the map's current values.
    pub(super) fn new(map: &VarMap, decay: f64) -> Result<Self> {
        let pairs = super::named_vars(map)?
            .into_iter()
            .map(|(_, var)| {
                let copy = var.as_tensor().copy()?;
                Ok((var, copy))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            decay,
            updates: 0,
            pairs,
        })
    }

    /// The decay of the next update: `(1 + n) / (10 + n)` after `n` updates until that
    /// exceeds the recipe's, so that the first weights, the random initialisation, do not
    /// linger in the average of a short run.
    fn next_decay(&self) -> f64 {
        let n = self.updates as f64;
        self.decay.min((1.0 + n) / (10.0 + n))
    }

    /// Moves the average towards the current weights.
    pub(super) fn update(&mut self) -> Result<()> {
        let d = self.next_decay();
        for (var, avg) in &mut self.pairs {
            *avg = ((&*avg * d)? + (var.as_tensor() * (1.0 - d))?)?;
        }
        self.updates += 1;
        Ok(())
    }

    /// Exchanges the weights with their average: call it once to score or save the
    /// average, and once more to train on.
    pub(super) fn swap(&mut self) -> Result<()> {
        for (var, avg) in &mut self.pairs {
            let live = var.as_tensor().copy()?;
            var.set(avg)?;
            *avg = live;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::Init;

    fn map_with(value: f32) -> (VarMap, Var) {
        let map = VarMap::new();
        let t = map
            .get(
                (2,),
                "w",
                Init::Const(f64::from(value)),
                DType::F32,
                &Device::Cpu,
            )
            .unwrap();
        let var = map.data().lock().unwrap()["w"].clone();
        assert_eq!(t.to_vec1::<f32>().unwrap(), vec![value; 2]);
        (map, var)
    }

    #[test]
    fn the_average_follows_the_weights_with_the_warm_up_decay() {
        let (map, var) = map_with(0.0);
        let mut avg = Average::new(&map, 0.5).unwrap();
        var.set(&Tensor::new(&[10f32, 10.0], &Device::Cpu).unwrap())
            .unwrap();
        // First update: decay min(0.5, 1 / 10) = 0.1, so 0.1 * 0 + 0.9 * 10.
        avg.update().unwrap();
        // Second: decay min(0.5, 2 / 11) = 2 / 11.
        var.set(&Tensor::new(&[20f32, 20.0], &Device::Cpu).unwrap())
            .unwrap();
        avg.update().unwrap();
        let want = 9.0 * 2.0 / 11.0 + 20.0 * 9.0 / 11.0;
        avg.swap().unwrap();
        let got = var.as_tensor().to_vec1::<f32>().unwrap();
        assert!((got[0] - want).abs() < 1e-4, "{got:?} vs {want}");
        // Swapping back restores the trained weights exactly.
        avg.swap().unwrap();
        assert_eq!(var.as_tensor().to_vec1::<f32>().unwrap(), vec![20.0, 20.0]);
    }

    #[test]
    fn the_decay_reaches_the_recipes_and_stays() {
        let (map, _) = map_with(1.0);
        let mut avg = Average::new(&map, 0.99).unwrap();
        for _ in 0..2000 {
            avg.update().unwrap();
        }
        assert_eq!(avg.next_decay(), 0.99);
    }
}
