//! An X-ray-like coronal projection of a study with its lesions coloured by local severity
//! (the paper's figure 1, right), as a PNG for the organizers' pages.

use crate::prep::Stack;
use anyhow::Result;

/// Renders the projection from working-grid stacks: `image` (windowed, [0, 1]), lesion and
/// lung probabilities; `dz / pixel` is the slice spacing over the in-plane pixel, used to
/// keep the anatomy's proportions. Superior is up and the patient's right on the left.
///
/// Grey levels are the mean windowed density along the anterior-posterior axis; a column
/// crossing lesions is tinted from yellow (a few percent of the lung along the ray
/// affected) to red (all of it).
pub fn render(
    image: &Stack,
    lesions: &Stack,
    lungs: &Stack,
    dz_over_pixel: f64,
) -> Result<Vec<u8>> {
    let (nx, ny, nz) = (image.nx, image.ny, image.nz);
    let rows = ((nz as f64 * dz_over_pixel).round() as usize).max(1);
    let mut grey = vec![0f32; nx * nz];
    let mut severity = vec![0f32; nx * nz];
    for k in 0..nz {
        for i in 0..nx {
            let (mut sum, mut lung, mut hit) = (0f32, 0u32, 0u32);
            for j in 0..ny {
                let v = (k * ny + j) * nx + i;
                sum += image.data[v];
                let in_lung = lungs.data[v] >= 0.5;
                lung += u32::from(in_lung);
                hit += u32::from(in_lung && lesions.data[v] >= 0.5);
            }
            grey[k * nx + i] = sum / ny as f32;
            severity[k * nx + i] = if lung == 0 {
                0.0
            } else {
                hit as f32 / lung as f32
            };
        }
    }
    let (lo, hi) = grey
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(1e-6);
    let mut rgb = Vec::with_capacity(nx * rows * 3);
    for r in 0..rows {
        let k = nz - 1 - ((r as f64 / dz_over_pixel) as usize).min(nz - 1);
        for i in 0..nx {
            let g = (grey[k * nx + i] - lo) / span;
            let s = severity[k * nx + i];
            let (mut red, mut green, mut blue) = (g, g, g);
            if s > 0.0 {
                let alpha = 0.35 + 0.55 * s;
                let (cr, cg, cb) = (1.0, 1.0 - s, 0.0);
                red = red * (1.0 - alpha) + cr * alpha;
                green = green * (1.0 - alpha) + cg * alpha;
                blue = blue * (1.0 - alpha) + cb * alpha;
            }
            rgb.extend([red, green, blue].map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8));
        }
    }
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, nx as u32, rows as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&rgb)?;
    }
    Ok(png)
}
