//! The parts a patient is assembled from: outlines, domes, organs, bones, tubes and the
//! tissue densities of one patient on one scanner.

use crate::geom::{Segment, V3};

/// Outer body outline: an ellipse in front, a flatter (squarer) back lying on the table.
pub(crate) struct Body {
    pub y0: f32,
    pub a: f32,
    pub b_ant: f32,
    pub b_post: f32,
    pub fat: f32,
}

/// Inner outline of the rib cage (the thoracic and upper abdominal cavity) at mid-chest.
pub(crate) struct Cavity {
    pub y: f32,
    pub a: f32,
    pub b: f32,
}

/// One hemidiaphragm: a dome whose height falls off towards the costophrenic recesses.
pub(crate) struct Dome {
    pub x: f32,
    pub y: f32,
    pub z: f32,
    pub wx: f32,
    pub wy: f32,
    pub drop: f32,
}

impl Dome {
    pub(crate) fn z_at(&self, x: f32, y: f32) -> f32 {
        let (u, v) = ((x - self.x) / self.wx, (y - self.y) / self.wy);
        let t = u * u + v * v;
        // Saturating fall-off: a paraboloid near the top that levels out at `z - 1.3 drop`,
        // so the deepest recess, beside the spine, stays inside the scanned range.
        self.z - self.drop * 1.3 * t / (0.53 + t)
    }
}

/// The paraboloid cap that rounds a lung's apex, from height `z0` up to `z0 + rz`.
pub(crate) struct Cap {
    pub x: f32,
    pub y: f32,
    pub z0: f32,
    pub rx: f32,
    pub ry: f32,
    pub rz: f32,
}

/// The heart: an ellipsoid rotated about z so that its long axis points left and anterior.
pub(crate) struct Heart {
    pub c: V3,
    pub r: [f32; 3],
    pub cos: f32,
    pub sin: f32,
    pub fat: f32,
}

/// Vertebral column: body, canal and posterior elements repeating with the disc period.
pub(crate) struct Spine {
    pub y_body: f32,
    pub r: f32,
    pub y_canal: f32,
    pub r_canal: f32,
    pub period: f32,
    pub disc: f32,
    pub phase: f32,
}

/// Twelve rib pairs, highest at the spine and sloping down towards the sternum.
pub(crate) struct Ribs {
    pub z0: f32,
    pub pitch: f32,
    pub drop: f32,
    pub height: f32,
}

/// Upper abdomen under the diaphragm: stomach (gas anterior in a supine patient) and spleen.
pub(crate) struct Abdomen {
    pub stomach: V3,
    pub stomach_r: f32,
    pub air_y: f32,
    pub spleen: V3,
    pub spleen_r: [f32; 3],
}

/// Oblique fissure `z = z0 - slope * (y - y0)` (bent anterolaterally, see
/// [`super::Anatomy::lobe`]) and, for the right lung, the horizontal one.
pub(crate) struct Fissure {
    pub y0: f32,
    pub z0: f32,
    pub slope: f32,
    pub horizontal: Option<f32>,
}

/// Pleural fluid lying posteriorly, deepest at the base.
pub(crate) struct Effusion {
    pub side: usize,
    pub depth: f32,
}

/// Tissue densities of this patient and scanner.
pub(crate) struct Hu {
    pub fat: f32,
    pub muscle: f32,
    pub skin: f32,
    pub blood: f32,
    pub cortical: f32,
    pub marrow: f32,
    pub liver: f32,
    pub cartilage: f32,
    pub disc: f32,
    pub lung: f32,
    pub gradient: f32,
    pub texture: f32,
    pub noise: f32,
}

/// What fills a mediastinal tube.
#[derive(Clone, Copy)]
pub(crate) enum TubeKind {
    Blood,
    Airway { wall: f32 },
    Esophagus { lumen: f32 },
}

/// A mediastinal structure: a capsule surrounded by `margin` millimetres of fat.
pub(crate) struct Tube {
    pub seg: Segment,
    pub r: f32,
    pub margin: f32,
    pub kind: TubeKind,
}

/// Where the lung trees start: pulmonary artery and main bronchus ends at each hilum,
/// and the superior and inferior pulmonary veins.
pub(crate) struct Roots {
    pub artery: [V3; 2],
    pub bronchus: [V3; 2],
    pub veins: [[V3; 2]; 2],
}
