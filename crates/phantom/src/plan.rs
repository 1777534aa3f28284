//! Which studies a split holds: ids, categories, target severities, geometries and seeds.
//!
//! # Seed spaces
//!
//! Every random choice comes from a ChaCha12 generator whose 256-bit key is
//! `base seed (8 bytes LE) | slot (8 bytes LE) | 16 zero bytes` and whose 64-bit stream
//! number is the split (test 0, train 1, validation 2). A study's slot is its index in
//! the split; the plan itself uses slot `u64::MAX`, which no study can have.
//!
//! Two studies therefore share a (key, stream) pair only if they share split, base seed and
//! index. A training study and a test study always differ in the stream number, whatever
//! seeds and counts the two plans were given, so they consume distinct ChaCha keystreams:
//! a collision would be a distinguisher for ChaCha itself. Ids differ too (`study_0001`
//! versus `train_0001`). Ids are numbered after shuffling, so they never encode a category.

use crate::kinds::{Category, Profile, Split};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha12Rng;
use volume::Geometry;

/// The test set of the paper (sec. 3.5): 33 COVID-19 (Mosmed-20), 36 other pathologies
/// (Mosmed-Lung-Cancer-500, split here into pneumonia and nodules) and 32 normal studies.
pub const REFERENCE_COMPOSITION: [(Category, usize); 4] = [
    (Category::Covid, 33),
    (Category::Pneumonia, 18),
    (Category::Nodules, 18),
    (Category::Normal, 32),
];

/// The Mosmed-20 severity mix of the reference COVID-19 studies: CT1, CT2, CT3, CT4.
pub const REFERENCE_SEVERITY_MIX: [usize; 4] = [27, 2, 3, 1];

/// Training spreads severity more evenly so that models see every class. Validation keeps
/// the reference mix: model selection then favours what the board measures, mostly mild
/// COVID-19 (a validation split of the training mix, two thirds CT2-CT4, had chosen
/// multitask weights at AUC 0.980 that reached 0.832 on the test split).
const TRAINING_SEVERITY_MIX: [usize; 4] = [40, 25, 20, 15];

/// Slice spacings of clinical protocols; 8 mm is the public Mosmed-1110 spacing.
const SLICE_SPACINGS: [f64; 8] = [1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 5.0, 8.0];

/// Plan slot of the generator that shuffles categories and draws targets and geometries.
const PLAN_SLOT: u64 = u64::MAX;

/// The visual CT1-CT4 grading of COVID-19 by affected percentage of the more affected lung.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeverityClass {
    /// Up to 25 % affected.
    Ct1,
    /// 25-50 % affected.
    Ct2,
    /// 50-75 % affected.
    Ct3,
    /// Over 75 % affected.
    Ct4,
}

impl SeverityClass {
    /// All classes from mildest to most severe.
    pub const ALL: [SeverityClass; 4] = [Self::Ct1, Self::Ct2, Self::Ct3, Self::Ct4];

    /// The class of an affected percentage; `None` for 0 (no lesions) or less.
    pub fn of_percent(percent: f64) -> Option<Self> {
        metrics::severity::ct_grade(percent).map(|g| Self::ALL[g])
    }

    /// Draws a target severity inside the class with a margin, so that the two raters'
    /// contour differences cannot move a study into a neighbouring class.
    ///
    /// CT1 is a mixture, as mild COVID-19 is in practice: most CT1 studies show minimal
    /// involvement (a few small ground-glass foci, [`CT1_MINIMAL`]), the rest clear
    /// involvement ([`CT1_CLEAR`]), each log-uniform. Which CT1 studies are minimal is
    /// settled for the whole split ([`Drawn::resolve`]). CT2-CT4 are uniform.
    fn draw_target(self, rng: &mut ChaCha12Rng) -> Drawn {
        match self {
            Self::Ct1 => Drawn::Ct1 {
                key: rng.random(),
                unit: rng.random_range(0.0..1.0),
            },
            Self::Ct2 => Drawn::Done(rng.random_range(30.0..45.0)),
            Self::Ct3 => Drawn::Done(rng.random_range(55.0..70.0)),
            Self::Ct4 => Drawn::Done(rng.random_range(80.0..92.0)),
        }
    }
}

/// A COVID-19 study's target severity as the plan draws it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Drawn {
    /// A CT2-CT4 target.
    Done(f64),
    /// A CT1 study: `key` ranks it among the split's CT1 studies (the lowest keys are
    /// minimal), `unit` places its target within its part of the mixture.
    Ct1 { key: u64, unit: f64 },
}

impl Drawn {
    /// The targets of a split's draws. Exactly [`CT1_MINIMAL_SHARE`] of its CT1 studies
    /// (rounded to the nearest study) show minimal involvement: those with the lowest keys.
    ///
    /// The share is fixed per split, as its categories and CT grades are: drawn study by
    /// study, the number of minimal studies in a test split's 27 CT1 studies varied by
    /// about 2.5 from seed to seed, and moved the threshold baseline's AUC against normal
    /// studies and its Spearman together (`docs/dataset.md`). A key is the very draw with
    /// which each study once chose its part (`minimal` where below the share of 2^64), so
    /// the two ways agree on every study but those nearest the share.
    fn resolve(drawn: &[Option<Drawn>]) -> Vec<Option<f64>> {
        let mut ct1: Vec<(u64, usize)> = drawn
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match d {
                Some(Drawn::Ct1 { key, .. }) => Some((*key, i)),
                _ => None,
            })
            .collect();
        ct1.sort_unstable();
        let minimal = (CT1_MINIMAL_SHARE * ct1.len() as f64).round() as usize;
        let mut is_minimal = vec![false; drawn.len()];
        ct1.iter()
            .take(minimal)
            .for_each(|&(_, i)| is_minimal[i] = true);
        drawn
            .iter()
            .zip(is_minimal)
            .map(|(d, minimal)| {
                d.map(|d| match d {
                    Drawn::Done(t) => t,
                    Drawn::Ct1 { unit, .. } if minimal => CT1_MINIMAL.at(unit),
                    Drawn::Ct1 { unit, .. } => CT1_CLEAR.at(unit),
                })
            })
            .collect()
    }
}

/// Share of CT1 studies with minimal involvement ([`CT1_MINIMAL`]): a count in every split,
/// this share of its CT1 studies rounded to the nearest study (17 of the test split's 27).
pub const CT1_MINIMAL_SHARE: f64 = 0.62;

/// Minimal involvement: 0.02-0.3 % of the more affected lung (one focus of 1 cm in a
/// 3-litre lung is about 0.02 %).
pub const CT1_MINIMAL: LogRange = LogRange {
    lo: 0.02,
    hi: 0.3,
    log2_ratio: 3.906_890_595_608_519, // log2(15)
};

/// Clear involvement within CT1: 3-21 % of the more affected lung.
pub const CT1_CLEAR: LogRange = LogRange {
    lo: 3.0,
    hi: 21.0,
    log2_ratio: 2.807_354_922_057_604, // log2(7)
};

/// A range of percentages drawn log-uniformly, with `log2(hi / lo)` written out so that the
/// draw needs no platform logarithm (the bytes must not depend on the machine).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogRange {
    /// Smallest value.
    pub lo: f64,
    /// Largest value.
    pub hi: f64,
    /// `log2(hi / lo)`.
    pub log2_ratio: f64,
}

impl LogRange {
    /// The value a fraction `u` in [0, 1) of the way along the range's logarithm.
    fn at(self, u: f64) -> f64 {
        let v = self.lo * f64::from(crate::geom::exp2((u * self.log2_ratio) as f32));
        v.clamp(self.lo, self.hi)
    }
}

/// Where a study's randomness comes from; see the module docs for why splits never collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StudySeed {
    /// The split, used as the ChaCha stream number.
    pub split: Split,
    /// The seed given to [`plan`].
    pub base: u64,
    /// The study's index in its split.
    pub index: u64,
}

impl StudySeed {
    pub(crate) fn rng(&self) -> ChaCha12Rng {
        chacha(self.split, self.base, self.index)
    }
}

/// One study to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct StudySpec {
    /// Public identifier, e.g. `study_0007`; it says nothing about the category.
    pub id: String,
    /// What the study shows.
    pub category: Category,
    /// For COVID-19 studies, the intended affected percentage of the more affected lung
    /// (a COVID-19 spec without one gets 10 %); ignored for other categories.
    pub target_severity: Option<f64>,
    /// Voxel grid of the image and of all its masks.
    pub geometry: Geometry,
    /// Seed of everything [`generate`](crate::generate) draws for this study.
    pub seed: StudySeed,
}

impl StudySpec {
    /// The CT1-CT4 class of the target severity (`None` for non-COVID studies).
    pub fn severity_class(&self) -> Option<SeverityClass> {
        self.target_severity.and_then(SeverityClass::of_percent)
    }
}

/// Lists the studies of a split, sorted by id.
///
/// `Test` holds the 101 studies of [`REFERENCE_COMPOSITION`] with the
/// [`REFERENCE_SEVERITY_MIX`]; `Val` defaults to 100 studies of the same composition and
/// mix, `Train` to 400 in the same category proportions with a more even severity mix.
/// `count` overrides the size of any split, keeping the proportions (largest remainders).
/// In every split [`CT1_MINIMAL_SHARE`] of the CT1 studies show minimal involvement.
/// The same arguments always give the same plan, and `Demo` and `Realistic` plans share
/// categories and targets.
pub fn plan(split: Split, profile: Profile, seed: u64, count: Option<usize>) -> Vec<StudySpec> {
    let prefix = match split {
        Split::Test => "study",
        Split::Train => "train",
        Split::Val => "val",
    };
    let (entries, mut rng) = shuffled_entries(split, seed, count);
    let width = entries.len().to_string().len().max(4);
    let (drawn, geometries): (Vec<Option<Drawn>>, Vec<Geometry>) = entries
        .iter()
        .map(|(_, class)| {
            let target = class.map(|c| c.draw_target(&mut rng));
            (target, sample_geometry(profile, &mut rng))
        })
        .unzip();
    let targets = Drawn::resolve(&drawn);
    entries
        .into_iter()
        .zip(targets.into_iter().zip(geometries))
        .enumerate()
        .map(
            |(index, ((category, _), (target_severity, geometry)))| StudySpec {
                id: format!("{prefix}_{:0width$}", index + 1),
                category,
                target_severity,
                geometry,
                seed: StudySeed {
                    split,
                    base: seed,
                    index: index as u64,
                },
            },
        )
        .collect()
}

/// A split's categories and CT grades in study order, and the plan's generator after the
/// shuffle that set that order (it goes on to draw targets and geometries).
fn shuffled_entries(
    split: Split,
    seed: u64,
    count: Option<usize>,
) -> (Vec<(Category, Option<SeverityClass>)>, ChaCha12Rng) {
    let (default, mix) = match split {
        Split::Test => (101, REFERENCE_SEVERITY_MIX),
        Split::Train => (400, TRAINING_SEVERITY_MIX),
        Split::Val => (100, REFERENCE_SEVERITY_MIX),
    };
    let n = count.unwrap_or(default);
    let counts = apportion(n, &REFERENCE_COMPOSITION.map(|(_, c)| c));
    let severities = apportion(counts[0], &mix);
    let mut entries: Vec<(Category, Option<SeverityClass>)> = Vec::with_capacity(n);
    for (class, &k) in SeverityClass::ALL.iter().zip(&severities) {
        entries.extend(std::iter::repeat_n((Category::Covid, Some(*class)), k));
    }
    for ((category, _), &k) in REFERENCE_COMPOSITION.iter().zip(&counts).skip(1) {
        entries.extend(std::iter::repeat_n((*category, None), k));
    }
    let mut rng = chacha(split, seed, PLAN_SLOT);
    entries.shuffle(&mut rng);
    (entries, rng)
}

fn chacha(split: Split, base: u64, slot: u64) -> ChaCha12Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&base.to_le_bytes());
    key[8..16].copy_from_slice(&slot.to_le_bytes());
    let mut rng = ChaCha12Rng::from_seed(key);
    rng.set_stream(match split {
        Split::Test => 0,
        Split::Train => 1,
        Split::Val => 2,
    });
    rng
}

/// Splits `n` in proportion to `weights` by largest remainders (ties to the earlier entry).
fn apportion(n: usize, weights: &[usize]) -> Vec<usize> {
    let total: usize = weights.iter().sum();
    let mut out: Vec<usize> = weights.iter().map(|w| n * w / total).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(n * weights[i] % total));
    let missing = n - out.iter().sum::<usize>();
    for &i in order.iter().take(missing) {
        out[i] += 1;
    }
    out
}

/// Draws a scanner protocol. The draws are the same for both profiles; only the mapping to
/// a grid differs, so a demo plan is a downsampled twin of the realistic plan.
fn sample_geometry(profile: Profile, rng: &mut ChaCha12Rng) -> Geometry {
    // Display field of view in whole millimetres, chosen to fit the patient as scanners do.
    let fov = (512.0 * rng.random_range(0.6..0.9f64)).round();
    let extent = rng.random_range(280.0..340.0f64);
    let dz = SLICE_SPACINGS[rng.random_range(0..SLICE_SPACINGS.len())];
    let (n, dz, max_slices) = match profile {
        Profile::Realistic => (512, dz, 300),
        Profile::Demo => (128, dz.max(extent / 63.0), 64),
    };
    let nz = ((extent / dz).round() as usize + 1).min(max_slices);
    let pixel = fov / n as f64;
    lps_columns(Geometry::axis_aligned([n, n, nz], [pixel, pixel, dz]))
}

/// The grid with its first axis towards the patient's left, as DICOM-to-NIfTI converters
/// write axial CT (DICOM's rows run from the patient's right to left): `i` grows towards
/// the left (`-x` in RAS+ world coordinates), `j` towards anterior, `k` towards the head
/// (`nibabel.aff2axcodes` gives `L A S`). The volume stays centred on the world origin.
pub(crate) fn lps_columns(mut g: Geometry) -> Geometry {
    g.affine[0][0] = -g.affine[0][0];
    g.affine[0][3] = -g.affine[0][3];
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportioning_keeps_the_total_and_the_reference_counts() {
        let reference = REFERENCE_COMPOSITION.map(|(_, c)| c);
        assert_eq!(apportion(101, &reference), reference);
        assert_eq!(
            apportion(33, &REFERENCE_SEVERITY_MIX),
            REFERENCE_SEVERITY_MIX
        );
        let train = apportion(120, &reference);
        assert_eq!(train.iter().sum::<usize>(), 120);
        assert_eq!(train, [39, 22, 21, 38]);
        assert_eq!(apportion(0, &reference), [0, 0, 0, 0]);
    }

    #[test]
    fn the_test_plan_has_the_reference_composition() {
        let specs = plan(Split::Test, Profile::Demo, 42, None);
        assert_eq!(specs.len(), 101);
        for (category, count) in REFERENCE_COMPOSITION {
            assert_eq!(
                specs.iter().filter(|s| s.category == category).count(),
                count
            );
        }
        for (class, count) in SeverityClass::ALL.iter().zip(REFERENCE_SEVERITY_MIX) {
            let n = specs
                .iter()
                .filter(|s| s.severity_class() == Some(*class))
                .count();
            assert_eq!(n, count, "{class:?}");
        }
        assert!(
            specs
                .iter()
                .all(|s| s.target_severity.is_some() == (s.category == Category::Covid))
        );
    }

    #[test]
    fn ct1_targets_mix_minimal_and_clear_involvement_log_uniformly() {
        for range in [CT1_MINIMAL, CT1_CLEAR] {
            assert!((range.log2_ratio - (range.hi / range.lo).log2()).abs() < 1e-12);
        }
        let ct1: Vec<f64> = plan(Split::Train, Profile::Demo, 7, Some(10_000))
            .iter()
            .filter(|s| s.severity_class() == Some(SeverityClass::Ct1))
            .filter_map(|s| s.target_severity)
            .collect();
        let inside = |r: LogRange| ct1.iter().filter(|&&t| r.lo <= t && t <= r.hi).count();
        let (minimal, clear) = (inside(CT1_MINIMAL), inside(CT1_CLEAR));
        assert_eq!(
            minimal + clear,
            ct1.len(),
            "a CT1 target outside both ranges"
        );
        // The share is exact, not drawn.
        let want = (CT1_MINIMAL_SHARE * ct1.len() as f64).round() as usize;
        assert_eq!(minimal, want, "minimal CT1 studies of {}", ct1.len());
        // Log-uniform: the geometric midpoint splits each part in half.
        for r in [CT1_MINIMAL, CT1_CLEAR] {
            let mid = (r.lo * r.hi).sqrt();
            let below = ct1.iter().filter(|&&t| r.lo <= t && t < mid).count();
            let half = below as f64 / inside(r) as f64;
            assert!(
                (half - 0.5).abs() < 0.05,
                "{r:?}: {half} below the midpoint"
            );
        }
    }

    #[test]
    fn the_lowest_keys_are_minimal_and_other_targets_pass_through() {
        let ct1 = |key: u64, unit: f64| Some(Drawn::Ct1 { key, unit });
        // Five CT1 studies: 62% of 5 is 3.1, so the three lowest keys are minimal.
        let drawn = [
            ct1(900, 0.0),
            None,
            ct1(5, 0.999),
            Some(Drawn::Done(37.5)),
            ct1(u64::MAX, 0.5),
            ct1(40, 0.25),
            ct1(7, 0.75),
        ];
        let t = Drawn::resolve(&drawn);
        assert_eq!(t.len(), drawn.len());
        assert_eq!((t[1], t[3]), (None, Some(37.5)));
        let inside = |r: LogRange, v: Option<f64>| v.is_some_and(|v| r.lo <= v && v <= r.hi);
        for i in [2, 5, 6] {
            assert!(inside(CT1_MINIMAL, t[i]), "study {i}: {:?}", t[i]);
        }
        for i in [0, 4] {
            assert!(inside(CT1_CLEAR, t[i]), "study {i}: {:?}", t[i]);
        }
        // `unit` places a target along the part's logarithm.
        assert_eq!(t[0], Some(CT1_CLEAR.lo));
        assert!(t[5] < t[6] && t[6] < t[2]);
        assert_eq!(Drawn::resolve(&[None, None]), [None, None]);
    }

    /// The targets and geometries of a plan as it was drawn until 2026-12-06, when each CT1
    /// study drew its part of the mixture with `random_bool`, and how many were minimal.
    fn plan_drawn_per_study(
        split: Split,
        seed: u64,
        count: Option<usize>,
    ) -> (Vec<(Option<f64>, Geometry)>, usize) {
        let (entries, mut rng) = shuffled_entries(split, seed, count);
        let mut minimal = 0;
        let drawn = entries
            .iter()
            .map(|(_, class)| {
                let target = class.map(|c| match c {
                    SeverityClass::Ct1 if rng.random_bool(CT1_MINIMAL_SHARE) => {
                        minimal += 1;
                        CT1_MINIMAL.at(rng.random_range(0.0..1.0))
                    }
                    SeverityClass::Ct1 => CT1_CLEAR.at(rng.random_range(0.0..1.0)),
                    SeverityClass::Ct2 => rng.random_range(30.0..45.0),
                    SeverityClass::Ct3 => rng.random_range(55.0..70.0),
                    SeverityClass::Ct4 => rng.random_range(80.0..92.0),
                });
                (target, sample_geometry(Profile::Demo, &mut rng))
            })
            .collect();
        (drawn, minimal)
    }

    #[test]
    fn fixing_the_ct1_count_changes_only_the_ct1_studies_nearest_the_share() {
        for (split, count) in [
            (Split::Test, None),
            (Split::Val, None),
            (Split::Train, None),
            (Split::Train, Some(2400)),
        ] {
            for seed in [1, 2, 3, 2020] {
                let (old, old_minimal) = plan_drawn_per_study(split, seed, count);
                let new = plan(split, Profile::Demo, seed, count);
                let ct1 = new
                    .iter()
                    .filter(|s| s.severity_class() == Some(SeverityClass::Ct1))
                    .count();
                let minimal = (CT1_MINIMAL_SHARE * ct1 as f64).round() as usize;
                let mut changed = 0;
                for (s, (target, geometry)) in new.iter().zip(&old) {
                    // Every geometry, and every target but a flipped CT1 study's, is the same.
                    assert_eq!(&s.geometry, geometry, "{split:?} {seed} {}", s.id);
                    if s.target_severity != *target {
                        assert_eq!(s.severity_class(), Some(SeverityClass::Ct1));
                        changed += 1;
                    }
                }
                assert_eq!(changed, old_minimal.abs_diff(minimal), "{split:?} {seed}");
            }
        }
    }

    #[test]
    fn every_test_split_has_the_same_number_of_minimal_ct1_studies() {
        for seed in 1..=30 {
            let minimal = plan(Split::Test, Profile::Demo, seed, None)
                .iter()
                .filter(|s| s.severity_class() == Some(SeverityClass::Ct1))
                .filter(|s| s.target_severity.is_some_and(|t| t <= CT1_MINIMAL.hi))
                .count();
            // 62% of 27, rounded.
            assert_eq!(minimal, 17, "seed {seed}");
        }
    }

    #[test]
    fn ids_are_sequential_and_do_not_follow_categories() {
        let specs = plan(Split::Test, Profile::Demo, 42, None);
        for (i, s) in specs.iter().enumerate() {
            assert_eq!(s.id, format!("study_{:04}", i + 1));
            assert!(!s.id.contains(s.category.as_str()));
        }
        // Sorted ids would be sorted categories if the plan did not shuffle; demand many runs.
        let changes = specs
            .windows(2)
            .filter(|w| w[0].category != w[1].category)
            .count();
        assert!(
            changes > 40,
            "only {changes} category changes along the ids"
        );
        let other = plan(Split::Test, Profile::Demo, 43, None);
        assert!(
            specs
                .iter()
                .zip(&other)
                .any(|(a, b)| a.category != b.category)
        );
    }

    #[test]
    fn splits_use_distinct_ids_and_seed_streams() {
        let test = plan(Split::Test, Profile::Demo, 1, None);
        let train = plan(Split::Train, Profile::Demo, 1, None);
        let val = plan(Split::Val, Profile::Demo, 1, Some(7));
        assert_eq!((train.len(), val.len()), (400, 7));
        assert_eq!(train[0].id, "train_0001");
        assert_eq!(val[6].id, "val_0007");
        assert!(
            train
                .iter()
                .all(|t| test.iter().all(|s| s.id != t.id && s.seed != t.seed))
        );
        let (mut a, mut b) = (test[0].seed.rng(), train[0].seed.rng());
        assert_ne!(a.random::<[u64; 4]>(), b.random::<[u64; 4]>());
    }

    #[test]
    fn validation_keeps_the_reference_severity_mix_and_training_spreads_it() {
        let classes = |split| {
            let mut n = [0usize; 4];
            for s in plan(split, Profile::Demo, 3, None) {
                if let Some(c) = s.severity_class() {
                    n[SeverityClass::ALL.iter().position(|&k| k == c).unwrap()] += 1;
                }
            }
            n
        };
        // 32 COVID-19 studies in 100 (33 in the test split's 101), apportioned alike.
        assert_eq!(classes(Split::Val), [26, 2, 3, 1]);
        assert_eq!(classes(Split::Test), REFERENCE_SEVERITY_MIX);
        // 131 in 400, spread 40/25/20/15.
        assert_eq!(classes(Split::Train), [52, 33, 26, 20]);
    }

    #[test]
    fn plans_are_deterministic_and_profiles_share_categories() {
        let a = plan(Split::Train, Profile::Demo, 5, Some(20));
        assert_eq!(a, plan(Split::Train, Profile::Demo, 5, Some(20)));
        let r = plan(Split::Train, Profile::Realistic, 5, Some(20));
        assert!(
            a.iter()
                .zip(&r)
                .all(|(d, r)| d.category == r.category && d.target_severity == r.target_severity)
        );
    }

    #[test]
    fn geometries_stay_within_the_profile_bounds() {
        for s in plan(Split::Test, Profile::Demo, 3, None) {
            let [nx, ny, nz] = s.geometry.shape;
            let sp = s.geometry.spacing();
            assert!(
                nx == 128 && ny == 128 && (30..=64).contains(&nz),
                "{:?}",
                s.geometry
            );
            assert!((2.3..3.7).contains(&sp[0]));
            assert!((270.0..=345.0).contains(&(sp[2] * (nz - 1) as f64)));
        }
        for s in plan(Split::Test, Profile::Realistic, 3, None) {
            let [nx, ny, nz] = s.geometry.shape;
            let sp = s.geometry.spacing();
            assert!(
                nx == 512 && ny == 512 && (35..=300).contains(&nz),
                "{:?}",
                s.geometry
            );
            assert!((0.6..=0.9).contains(&sp[0]) && (1.0..=8.0).contains(&sp[2]));
            assert!((270.0..=345.0).contains(&(sp[2] * (nz - 1) as f64)));
        }
    }
}
