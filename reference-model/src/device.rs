//! Choosing where tensors live.

use anyhow::{Result, bail};
use candle_core::Device;

/// Parses `cpu`, `cuda` or `cuda:N` into a device, with an error that says what is missing.
pub fn parse(spec: &str) -> Result<Device> {
    let ordinal = match spec {
        "cpu" => return Ok(Device::Cpu),
        "cuda" => 0,
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => n,
            _ => bail!("unknown device {spec:?}: expected cpu, cuda or cuda:N"),
        },
    };
    if !cfg!(feature = "cuda") {
        bail!(
            "device {spec:?}: this binary was built without CUDA; rebuild with `--features cuda` (docs/reference-models.md)"
        );
    }
    match Device::new_cuda(ordinal) {
        Ok(d) => Ok(d),
        Err(e) => bail!("device {spec:?}: no usable CUDA device {ordinal} ({e})"),
    }
}
