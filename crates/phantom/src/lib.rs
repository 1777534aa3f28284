//! Deterministic synthetic chest CT studies with ground truth, shaped like the hidden test
//! set of `EVALUATION.md` section 1: CT images in Hounsfield units, lung label maps
//! (1 right lung, 2 left lung) and, for COVID-19 studies, one lesion mask per rater.
//!
//! [`plan()`] lists the studies of a split (ids, categories, target severities, grids, seeds);
//! [`generate`] renders one study in memory. The crate does no IO.
//!
//! # Orientation
//!
//! Voxel `(i, j, k)` lives at `i + nx * (j + ny * k)`. The affine is axis aligned, written
//! as DICOM-to-NIfTI converters write axial CT: in RAS+ (NIfTI) world coordinates `i` grows
//! towards the patient's left (the first column is `-dx`), `j` towards anterior and `k`
//! towards the head (`nibabel.aff2axcodes`: `L A S`). The right lung (label 1) therefore
//! lies at small `i`, at positive world `x`; the heart leans to large `i`, the patient's
//! left; the spine lies at small `j` and the lung apices at large `k`.
//!
//! # What a study contains
//!
//! A body with skin, subcutaneous fat and muscle, ribs with cortical bone around marrow,
//! sternum and spine, a mediastinum with heart, aorta, great vessels, oesophagus, trachea
//! and main bronchi, two lungs near -850 HU whose vessel and airway trees thin towards the
//! periphery, diaphragm domes over liver, stomach and spleen, the scanner table and
//! correlated scanner noise. Air around the body is -1000 HU; voxels outside the scanner's
//! circular reconstruction field hold the padding value -1024, as on real scanners.
//! Categories add pathology:
//! - `covid`: bilateral peripheral ground glass with consolidation and crazy paving, sized
//!   to hit the target severity, annotated by two raters whose contours differ slightly;
//! - `pneumonia`: mostly unilateral lobar or segmental consolidation with air bronchograms,
//!   dependent atelectasis, an elevated hemidiaphragm and sometimes a pleural effusion;
//! - `nodules`: 1-10 solid nodules and masses of 5-40 mm, some spiculated or calcified, in
//!   older lungs with dependent density;
//! - `normal`: no disease.
//!
//! Every category, normal included, also shows what real chest CTs show without disease
//! (`confounders`): inspiration levels that shift the lung density, a gravity gradient,
//! dependent subsegmental atelectasis, breathing motion at the bases, partial volume at
//! the diaphragm domes, calcified granulomas and, in some, upper-lobe emphysema.
//!
//! The non-COVID pathologies are dense, so a Hounsfield-threshold segmenter finds "affected"
//! lung in them as it does in the paper's test set. [`Study::affected_percent`] gives the
//! ground-truth severity by the formula of `EVALUATION.md`.
//!
//! `cargo run --release -p phantom --example measure` prints timings, densities, achieved
//! severities, inter-rater Dice and the threshold baseline's AUCs for a seed.

mod anatomy;
mod confounders;
mod geom;
mod kinds;
mod lesions;
mod noise;
mod pathology;
mod plan;
mod render;
mod slice;
mod splat;
mod trees;
mod wall;

pub use kinds::{Category, ParseError, Profile, Split};
pub use plan::{
    CT1_CLEAR, CT1_MINIMAL, CT1_MINIMAL_SHARE, LogRange, REFERENCE_COMPOSITION,
    REFERENCE_SEVERITY_MIX, SeverityClass, StudySeed, StudySpec, plan,
};
pub use render::{Study, generate};
