//! The label-recovery attacks of issue 9, replayed against the real server with its
//! default settings on the 101-study demo test set (EVALUATION.md section 5).
//!
//! The attacker holds one account and uses only what the API returns to a participant,
//! plus what is public: the study ids, the category counts of the manifest and the
//! documented split rule (each category's public share is `round(0.5 n)`). The tests know
//! the hidden labels only to grade the attacker.
//!
//! - Live probes at the full daily quota for 30 simulated days decode the public split's
//!   labels and which studies are private (the live board leaks what it must: its own
//!   split); then every final the limit allows probes the private split. The attacker must
//!   do no better on the private split than the best blind guess plus 10 points.
//! - A zip with one valid mask and every other entry broken fails validation without the
//!   worker opening a hidden file, so its timing cannot tell COVID-19 studies apart.
//!
//! Simulated days: after each day the test moves the attacker's rows one day into the
//! past (their upload, quota day and final times), which is what the quota and the finals
//! limit read; the server runs unmodified.

mod helpers;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant};

use helpers::{Backend, TestApp, demo_testset, labels_of, spawn_app_with};
use serde_json::Value;
use sqlx::Executor;

const CATEGORIES: [&str; 3] = ["nodules", "normal", "pneumonia"];

/// What the attacker believes of one study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Label {
    Private,
    Public(&'static str),
}

const ALL_CATEGORIES: [&str; 4] = ["covid", "nodules", "normal", "pneumonia"];

fn hypotheses_of(group: usize) -> Vec<Vec<Label>> {
    let labels: Vec<Label> = std::iter::once(Label::Private)
        .chain(ALL_CATEGORIES.iter().copied().map(Label::Public))
        .collect();
    let mut out = vec![Vec::new()];
    for _ in 0..group {
        out = out
            .into_iter()
            .flat_map(|h| {
                labels.iter().map(move |l| {
                    let mut next = h.clone();
                    next.push(*l);
                    next
                })
            })
            .collect();
    }
    out
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// ROC AUC of `positives` over `negatives`, both as `(score, multiplicity)`.
fn auc(positives: &[(f64, f64)], negatives: &[(f64, f64)]) -> Option<f64> {
    let (np, nn): (f64, f64) = (
        positives.iter().map(|p| p.1).sum(),
        negatives.iter().map(|n| n.1).sum(),
    );
    if np == 0.0 || nn == 0.0 {
        return None;
    }
    let mut u = 0.0;
    for (p, wp) in positives {
        for (n, wn) in negatives {
            u += wp
                * wn
                * if p > n {
                    1.0
                } else if p == n {
                    0.5
                } else {
                    0.0
                };
        }
    }
    Some(u / (np * nn))
}

/// Predicted rounded AUCs (vs all, then each category) of one split, when `items` are the
/// split's studies whose score differs from `rest_score`, and `rest` counts the split's
/// other studies per category (all at `rest_score`).
fn predicted(
    items: &[(f64, &'static str)],
    rest: &BTreeMap<&'static str, f64>,
    rest_score: f64,
) -> Vec<Option<f64>> {
    let side = |keep: &dyn Fn(&str) -> bool| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = items
            .iter()
            .filter(|(_, c)| keep(c))
            .map(|(s, _)| (*s, 1.0))
            .collect();
        let n: f64 = rest.iter().filter(|(c, _)| keep(c)).map(|(_, n)| *n).sum();
        if n > 0.0 {
            v.push((rest_score, n));
        }
        v
    };
    let positives = side(&|c| c == "covid");
    let mut out = vec![auc(&positives, &side(&|c| c != "covid")).map(round3)];
    for category in CATEGORIES {
        out.push(auc(&positives, &side(&|c| c == category)).map(round3));
    }
    out
}

/// The rounded AUCs a participant reads, in the order of [`predicted`].
fn observed(scores: &Value) -> Vec<Option<f64>> {
    let mut out = vec![scores["auc_vs_all"].as_f64()];
    for category in CATEGORIES {
        out.push(scores[format!("auc_vs_{category}")].as_f64());
    }
    out
}

fn matches(a: &[Option<f64>], b: &[Option<f64>]) -> bool {
    a.iter().zip(b).all(|(x, y)| match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() < 5e-4,
        (None, None) => true,
        _ => false,
    })
}

/// One table submission with the given identification score per study.
fn table(ids: &[String], scores: &[f64]) -> String {
    let mut text = String::from("study_id,covid_probability\n");
    for (id, s) in ids.iter().zip(scores) {
        text.push_str(&format!("{id},{s}\n"));
    }
    text
}

struct Attacker<'a> {
    app: &'a TestApp,
    token: String,
    ids: Vec<String>,
    /// The day's submissions left (the attacker counts what the server allows).
    left_today: u32,
    submissions: usize,
}

impl Attacker<'_> {
    /// Submits a probe and returns its scored view, or `None` when today's quota is used.
    async fn probe(&mut self, scores: &[f64]) -> Option<Value> {
        if self.left_today == 0 {
            return None;
        }
        let response = self
            .app
            .upload(
                &self.token,
                "predictions.csv",
                table(&self.ids, scores).into_bytes(),
                &[("method", "probe")],
            )
            .await;
        if response.status() == 429 {
            self.left_today = 0;
            return None;
        }
        assert_eq!(response.status(), 202);
        let id = response.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
        self.left_today -= 1;
        self.submissions += 1;
        let done = self.app.wait_done(&self.token, id).await;
        assert_eq!(done["status"], "scored", "{done}");
        Some(done)
    }

    /// A day passes: the attacker's rows move one day into the past.
    async fn next_day(&mut self, daily_quota: u32) {
        let sql = "update submissions
             set created_at = created_at - 86400000, created_day = created_day - 1,
                 final_at = case when final_at is null then null else final_at - 86400000 end
             where user_id = (select id from users where name = 'eve')";
        self.app.state.db.pool().execute(sql).await.unwrap();
        self.left_today = daily_quota;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_days_of_probing_learn_the_private_split_no_better_than_a_blind_guess() {
    let dir = demo_testset();
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.annotations = Some(dir.join("annotations"));
        config.images = Some(dir.join("images"));
    })
    .await;
    let defaults = triageboard::config::Config::new(".");
    let daily_quota = defaults.daily_quota;
    assert_eq!(app.state.config.daily_quota, daily_quota);
    assert_eq!(
        app.state.config.finals_per_30_days,
        defaults.finals_per_30_days
    );
    let truth = labels_of(dir);
    let ids: Vec<String> = truth.iter().map(|(id, _)| id.clone()).collect();
    // Public knowledge: the manifest's counts and the documented split rule.
    let mut totals: BTreeMap<&'static str, f64> = BTreeMap::new();
    for (_, c) in &truth {
        let c: &'static str = ALL_CATEGORIES
            .iter()
            .find(|k| **k == c.as_str())
            .copied()
            .expect("a category of the reference composition");
        *totals.entry(c).or_default() += 1.0;
    }
    let public_counts: BTreeMap<&'static str, f64> = totals
        .iter()
        .map(|(c, n)| (*c, (0.5 * n).round()))
        .collect();

    let mut eve = Attacker {
        app: &app,
        token: app.participant("eve").await,
        ids: ids.clone(),
        left_today: daily_quota,
        submissions: 0,
    };

    // Live phase: groups of unknown studies at distinct levels, everything else at 0.5;
    // every labelling of the group that predicts the rounded live AUCs exactly survives,
    // and a study is decoded once all survivors agree on it.
    let mut known: HashMap<usize, Label> = HashMap::new();
    let mut queue: Vec<usize> = (0..ids.len()).collect();
    let mut group_size = 3;
    let mut day = 0;
    let levels = [1.0, 0.0, 0.75];
    while !queue.is_empty() && day < 30 {
        if eve.left_today == 0 {
            day += 1;
            eve.next_day(daily_quota).await;
            continue;
        }
        let group: Vec<usize> = queue.iter().take(group_size).copied().collect();
        let mut scores = vec![0.5; ids.len()];
        for (member, level) in group.iter().zip(levels) {
            scores[*member] = level;
        }
        let Some(done) = eve.probe(&scores).await else {
            continue;
        };
        let seen = observed(&done["live_scores"]);
        // What is already decoded bounds what the group can be.
        let mut undecoded = public_counts.clone();
        let mut private_left = ids.len() as f64 - public_counts.values().sum::<f64>();
        for label in known.values() {
            match label {
                Label::Public(c) => *undecoded.get_mut(c).unwrap() -= 1.0,
                Label::Private => private_left -= 1.0,
            }
        }
        let mut survivors = Vec::new();
        for hypothesis in hypotheses_of(group.len()) {
            let mut rest = public_counts.clone();
            let mut capacity = undecoded.clone();
            let mut items = Vec::new();
            let mut possible = true;
            let privates = hypothesis.iter().filter(|l| **l == Label::Private).count();
            possible &= privates as f64 <= private_left;
            for (member, label) in group.iter().zip(&hypothesis) {
                if let Label::Public(c) = label {
                    *rest.get_mut(c).unwrap() -= 1.0;
                    let n = capacity.get_mut(c).unwrap();
                    *n -= 1.0;
                    possible &= *n >= 0.0;
                    items.push((scores[*member], *c));
                }
            }
            // Studies decoded as public keep their 0.5 among the rest.
            if possible && matches(&predicted(&items, &rest, 0.5), &seen) {
                survivors.push(hypothesis);
            }
        }
        let mut decoded_any = false;
        for (k, member) in group.iter().enumerate() {
            let first = survivors.first().map(|h| h[k]);
            if let Some(label) = first.filter(|l| survivors.iter().all(|h| h[k] == *l)) {
                known.insert(*member, label);
                queue.retain(|m| m != member);
                decoded_any = true;
            }
        }
        if !decoded_any {
            // Ambiguous together: probe the first of them alone next.
            group_size = 1;
        } else if group_size == 1 {
            group_size = 3;
        }
    }

    let mut public_right = 0;
    let mut split_right = 0;
    let private: Vec<usize> = (0..ids.len())
        .filter(|i| known.get(i) == Some(&Label::Private))
        .collect();
    let public_of = |id: usize| app.state.testset.in_split(id, scorer::Split::Public);
    let n_public = (0..ids.len()).filter(|i| public_of(*i)).count();
    for (i, (_, category)) in truth.iter().enumerate() {
        match known.get(&i) {
            Some(Label::Public(c)) if public_of(i) => {
                split_right += 1;
                public_right += usize::from(c == category);
            }
            Some(Label::Private) if !public_of(i) => split_right += 1,
            _ => {}
        }
    }
    eprintln!(
        "live phase: {} submissions over {} days; split membership right for {split_right} of {}; public categories right for {public_right} of {n_public}",
        eve.submissions,
        day + 1,
        ids.len()
    );
    assert!(
        public_right as f64 >= 0.9 * n_public as f64,
        "the live attack must be real: it recovers the public split ({public_right} of {n_public})"
    );

    // Final phase: the private composition is the totals minus the public counts. Probe
    // k private studies at distinct high levels, the others low, mark it final, and decode
    // the rounded private AUCs by enumerating every labelling of the probes, weighted by
    // the prior the counts give.
    let private_counts: BTreeMap<&'static str, f64> = totals
        .iter()
        .map(|(c, n)| (*c, n - public_counts[c]))
        .collect();
    let k = 6.min(private.len());
    let probes: Vec<usize> = private.iter().take(k).copied().collect();
    let mut scores = vec![0.0; ids.len()];
    for (rank, p) in probes.iter().enumerate() {
        scores[*p] = 0.5 + 0.5 * (rank + 1) as f64 / k as f64;
    }
    while eve.left_today == 0 {
        day += 1;
        eve.next_day(daily_quota).await;
    }
    let done = eve.probe(&scores).await.expect("a submission left today");
    let id = done["id"].as_i64().unwrap();
    let (status, marked) = app
        .post_json(&format!("/api/v1/submissions/{id}/final"), &eve.token)
        .await;
    assert_eq!(status, 200, "{marked}");
    let seen = observed(&marked["final_scores"]);
    let mut posterior: Vec<BTreeMap<&'static str, f64>> = vec![BTreeMap::new(); k];
    let mut assignments: Vec<Vec<&'static str>> = vec![Vec::new()];
    for _ in 0..k {
        assignments = assignments
            .into_iter()
            .flat_map(|a| {
                ALL_CATEGORIES.iter().map(move |c| {
                    let mut next = a.clone();
                    next.push(*c);
                    next
                })
            })
            .collect();
    }
    for assignment in assignments {
        let mut rest = private_counts.clone();
        let mut weight = 1.0;
        let mut items = Vec::new();
        for (p, c) in probes.iter().zip(&assignment) {
            let n = rest.get_mut(c).unwrap();
            weight *= n.max(0.0);
            *n -= 1.0;
            items.push((scores[*p], *c));
        }
        if weight == 0.0 || !matches(&predicted(&items, &rest, 0.0), &seen) {
            continue;
        }
        for (slot, c) in assignment.iter().enumerate() {
            *posterior[slot].entry(c).or_default() += weight;
        }
    }
    let mut guesses: HashMap<usize, &'static str> = HashMap::new();
    let mut expected_left = private_counts.clone();
    for (slot, p) in probes.iter().enumerate() {
        let best = posterior[slot]
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or("covid", |(c, _)| *c);
        guesses.insert(*p, best);
        *expected_left.get_mut(best).unwrap() -= 1.0;
    }
    let fallback = expected_left
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(c, _)| *c)
        .unwrap();
    let private_truth: Vec<(usize, &str)> = truth
        .iter()
        .enumerate()
        .filter(|(i, _)| !public_of(*i))
        .map(|(i, (_, c))| (i, c.as_str()))
        .collect();
    let right = private_truth
        .iter()
        .filter(|(i, c)| guesses.get(i).copied().unwrap_or(fallback) == *c)
        .count();
    let accuracy = right as f64 / private_truth.len() as f64;
    let blind = private_counts.values().cloned().fold(0.0, f64::max) / private_truth.len() as f64;
    eprintln!(
        "final phase on day {}: {k} probes; private categories right for {right} of {} ({:.1}%), best blind guess {:.1}%",
        day + 1,
        private_truth.len(),
        100.0 * accuracy,
        100.0 * blind
    );

    // The limit allows one final in 30 days: a second is refused, and says until when.
    let another = eve.probe(&vec![0.5; ids.len()]).await;
    if let Some(another) = another {
        let (status, body) = app
            .post_json(
                &format!("/api/v1/submissions/{}/final", another["id"]),
                &eve.token,
            )
            .await;
        assert_eq!(status, 429, "{body}");
    }
    assert!(
        accuracy <= blind + 0.10,
        "the attack learned the private split: {:.1}% right against a blind {:.1}%",
        100.0 * accuracy,
        100.0 * blind
    );
}

/// A zip with a valid mask for study `id` and a broken entry for every other study.
fn one_valid_mask(dir: &std::path::Path, ids: &[String], id: &str) -> Vec<u8> {
    let image = dir.join("images").join(format!("{id}.nii.gz"));
    let (geometry, _) = scorer::masks::read_geometry(&image).expect("an image header");
    let mut mask = Vec::new();
    volume::write_mask(&mut mask, &geometry, &volume::Mask::zeros(geometry.shape)).expect("a mask");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for other in ids {
        zip.start_file(format!("{other}.nii"), options).unwrap();
        if other == id {
            zip.write_all(&mask).unwrap();
        } else {
            zip.write_all(b"not a NIfTI file").unwrap();
        }
    }
    zip.finish().unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_probes_read_nothing_hidden_and_their_timing_tells_nothing() {
    let dir = demo_testset();
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.annotations = Some(dir.join("annotations"));
        config.images = Some(dir.join("images"));
    })
    .await;
    let truth = labels_of(dir);
    let ids: Vec<String> = truth.iter().map(|(id, _)| id.clone()).collect();
    let token = app.participant("timer").await;
    let probes: Vec<Vec<u8>> = ids.iter().map(|id| one_valid_mask(dir, &ids, id)).collect();
    let decoded_before = app.state.testset.annotations.volumes_decoded();
    let rounds = 3;
    let mut aucs = Vec::new();
    for round in 0..rounds {
        let mut times = Vec::with_capacity(ids.len());
        for (i, bytes) in probes.iter().enumerate() {
            let started = Instant::now();
            let response = app
                .upload(&token, "masks.zip", bytes.clone(), &[("method", "timing")])
                .await;
            assert_eq!(response.status(), 202, "round {round}, study {i}");
            let id = response.json::<Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap();
            let done = loop {
                let (_, body) = app
                    .get_json(&format!("/api/v1/submissions/{id}"), Some(&token))
                    .await;
                if body["status"] == "failed" || body["status"] == "scored" {
                    break body;
                }
                assert!(started.elapsed() < Duration::from_secs(60));
                tokio::time::sleep(Duration::from_millis(2)).await;
            };
            assert_eq!(done["status"], "failed", "{done}");
            assert!(!done["details"].as_array().unwrap().is_empty(), "{done}");
            times.push(started.elapsed().as_secs_f64());
        }
        let positives: Vec<(f64, f64)> = truth
            .iter()
            .zip(&times)
            .filter(|((_, c), _)| c == "covid")
            .map(|(_, t)| (*t, 1.0))
            .collect();
        let negatives: Vec<(f64, f64)> = truth
            .iter()
            .zip(&times)
            .filter(|((_, c), _)| c != "covid")
            .map(|(_, t)| (*t, 1.0))
            .collect();
        aucs.push(auc(&positives, &negatives).unwrap());
    }
    let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
    eprintln!("timing probe: AUC of COVID-19 vs time per round {aucs:.3?}, mean {mean:.3}");
    assert_eq!(
        app.state.testset.annotations.volumes_decoded(),
        decoded_before,
        "an invalid submission opened a hidden volume"
    );
    let (_, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["used_today"], 0, "failed probes cost no quota");
    // Under no signal the AUC of one round is 0.5 with a standard deviation of about 0.06
    // for 33 against 68 studies; the mean of three rounds is held to the 0.6.
    assert!(
        mean <= 0.6,
        "the timing of broken probes separates COVID-19 studies: {aucs:?}"
    );
}
