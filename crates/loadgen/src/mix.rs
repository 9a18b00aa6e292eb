//! The traffic mix: which template each request uses.
//!
//! Requests are weighted by vendor (`--tencent-share`, the rest Volcengine), by traffic class
//! within a vendor (`--mix`, default `upload=40,transcode=30,delete=10,other=20`) and by a share
//! of bad bodies (`--bad-share`, default 0) taken from the fixtures the normalizer rejects.
//! A bucket with no fixture gives its weight to the others in proportion.
//!
//! The bucket weights are apportioned exactly (largest remainder) over a deck of [`DECK_SIZE`]
//! slots, each bucket's slots equally over its fixtures, and the deck is shuffled with a fixed
//! seed; request `seq` uses slot `seq % DECK_SIZE`. The template of a
//! request is therefore a pure function of its sequence number, which is what lets the verifier
//! recompute the canonical id of every acknowledged request afterwards without storing bodies.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rand::seq::SliceRandom as _;
use rand::SeedableRng as _;
use vodbridge_core::Provider;

use crate::payload::{Expect, Template};

/// Slots in a deck: weights resolve to 0.01 %.
pub(crate) const DECK_SIZE: usize = 10_000;

/// Traffic class of a canonical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Class {
    /// New media: `vod.media.uploaded`, `vod.material.uploaded`, `vod.media.pulled`.
    Upload,
    /// Processing results: `vod.media.transcoded`, `vod.workflow.completed` (procedures and
    /// workflows, which is how most transcodes report), `vod.media.processed`.
    Transcode,
    /// Deletions: every `*.deleted` type.
    Delete,
    /// Everything else (snapshots, AIGC, review, publishing, `vod.unmapped`, …).
    Other,
}

impl Class {
    /// Every class, in `--mix` order.
    pub(crate) const ALL: [Class; 4] =
        [Class::Upload, Class::Transcode, Class::Delete, Class::Other];

    /// The class of a canonical type.
    pub(crate) fn of(event_type: &str) -> Self {
        match event_type {
            "vod.media.uploaded" | "vod.material.uploaded" | "vod.media.pulled" => Class::Upload,
            "vod.media.transcoded" | "vod.workflow.completed" | "vod.media.processed" => {
                Class::Transcode
            }
            t if t.ends_with(".deleted") => Class::Delete,
            _ => Class::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Class::Upload => "upload",
            Class::Transcode => "transcode",
            Class::Delete => "delete",
            Class::Other => "other",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Relative class weights, parsed from `upload=40,transcode=30,delete=10,other=20` (classes left
/// out weigh 0).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClassWeights(pub(crate) [f64; 4]);

impl Default for ClassWeights {
    fn default() -> Self {
        ClassWeights([40.0, 30.0, 10.0, 20.0])
    }
}

impl FromStr for ClassWeights {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut w = [0.0; 4];
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected class=weight"))?;
            let i = Class::ALL
                .iter()
                .position(|c| c.name() == name.trim())
                .ok_or_else(|| {
                    format!("unknown class `{name}` (upload, transcode, delete, other)")
                })?;
            let v: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("`{value}` is not a number"))?;
            if !(v >= 0.0 && v.is_finite()) {
                return Err(format!("weight of {name} must be a non-negative number"));
            }
            w[i] = v;
        }
        if w.iter().sum::<f64>() <= 0.0 {
            return Err("at least one class needs a positive weight".into());
        }
        Ok(ClassWeights(w))
    }
}

/// The whole mix specification.
#[derive(Debug, Clone)]
pub(crate) struct MixSpec {
    /// Relative weight of each class (within a vendor).
    pub(crate) classes: ClassWeights,
    /// Share of requests for Tencent, in percent (the rest go to Volcengine).
    pub(crate) tencent_pct: f64,
    /// Share of requests with a body the normalizer rejects, in percent.
    pub(crate) bad_pct: f64,
}

/// Where requests go: a (vendor, class) bucket, or the bad bodies of a vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Bucket {
    /// Accepted events of one class.
    Good(ProviderKey, Class),
    /// Rejected bodies.
    Bad(ProviderKey),
}

/// [`Provider`] with an order, for bucket maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ProviderKey {
    /// Tencent Cloud VOD.
    Tencent,
    /// Volcengine VOD.
    Volcengine,
}

impl From<Provider> for ProviderKey {
    fn from(p: Provider) -> Self {
        match p {
            Provider::Volcengine => ProviderKey::Volcengine,
            _ => ProviderKey::Tencent,
        }
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vendor = |p: &ProviderKey| match p {
            ProviderKey::Tencent => "tencent",
            ProviderKey::Volcengine => "volcengine",
        };
        match self {
            Bucket::Good(p, c) => write!(f, "{}/{c}", vendor(p)),
            Bucket::Bad(p) => write!(f, "{}/bad", vendor(p)),
        }
    }
}

fn bucket_of(t: &Template) -> Bucket {
    match &t.expect {
        Expect::Accepted { class, .. } => Bucket::Good(t.provider.into(), *class),
        Expect::Rejected { .. } => Bucket::Bad(t.provider.into()),
    }
}

/// A shuffled deck of template indices and the share each bucket actually got.
#[derive(Debug, Clone)]
pub(crate) struct Deck {
    /// Template index per slot.
    pub(crate) slots: Vec<u32>,
    /// Slots per bucket (for the start-up printout and the tests).
    pub(crate) per_bucket: BTreeMap<Bucket, usize>,
}

impl Deck {
    /// The template index of request `seq`.
    pub(crate) fn pick(&self, seq: u64) -> usize {
        self.slots[(seq % self.slots.len() as u64) as usize] as usize
    }
}

/// Apportion `total` slots to `weights` by largest remainder (the result sums to `total` when
/// any weight is positive).
pub(crate) fn apportion(weights: &[f64], total: usize) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    if sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| w / sum * total as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Largest fractional part first; ties by index so the result is deterministic.
    order.sort_by(|&a, &b| {
        let (fa, fb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    let short = total.saturating_sub(counts.iter().sum());
    for &i in order.iter().take(short) {
        counts[i] += 1;
    }
    counts
}

/// Build the deck for `templates` under `spec`, shuffled with `seed`.
pub(crate) fn build_deck(
    templates: &[Template],
    spec: &MixSpec,
    seed: u64,
) -> Result<Deck, String> {
    if !(0.0..=100.0).contains(&spec.tencent_pct) || !(0.0..=100.0).contains(&spec.bad_pct) {
        return Err("shares are percentages between 0 and 100".into());
    }
    let class_sum: f64 = spec.classes.0.iter().sum();
    let vendor_share = |p: ProviderKey| match p {
        ProviderKey::Tencent => spec.tencent_pct / 100.0,
        ProviderKey::Volcengine => 1.0 - spec.tencent_pct / 100.0,
    };
    let bad = spec.bad_pct / 100.0;
    let weight_of = |b: Bucket| match b {
        Bucket::Good(p, c) => {
            (1.0 - bad) * vendor_share(p) * spec.classes.0[c as usize] / class_sum
        }
        Bucket::Bad(p) => bad * vendor_share(p),
    };
    let mut members: BTreeMap<Bucket, Vec<usize>> = BTreeMap::new();
    for (i, t) in templates.iter().enumerate() {
        members.entry(bucket_of(t)).or_default().push(i);
    }
    // Slots go to buckets first, so each bucket's share is exact to one slot, then equally to
    // the bucket's templates. Empty buckets have no entry, so apportioning over the present ones
    // redistributes their weight in proportion.
    let buckets: Vec<(Bucket, &Vec<usize>)> = members.iter().map(|(b, m)| (*b, m)).collect();
    let weights: Vec<f64> = buckets.iter().map(|(b, _)| weight_of(*b)).collect();
    if weights.iter().sum::<f64>() <= 0.0 {
        return Err("no fixture matches the requested mix".into());
    }
    let mut slots = Vec::with_capacity(DECK_SIZE);
    let mut per_bucket = BTreeMap::new();
    for ((bucket, idx), n) in buckets.iter().zip(apportion(&weights, DECK_SIZE)) {
        if n == 0 {
            continue;
        }
        per_bucket.insert(*bucket, n);
        for (&i, k) in idx.iter().zip(apportion(&vec![1.0; idx.len()], n)) {
            slots.extend(std::iter::repeat_n(i as u32, k));
        }
    }
    slots.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    Ok(Deck { slots, per_bucket })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good(name: &str, provider: Provider, ty: &str) -> Template {
        Template::accepted(name.into(), provider, b"{\"Id\":\"x\"}", "x", ty.into())
    }

    fn sample() -> Vec<Template> {
        vec![
            good("t/up1", Provider::Tencent, "vod.media.uploaded"),
            good("t/up2", Provider::Tencent, "vod.media.pulled"),
            good("t/tr", Provider::Tencent, "vod.workflow.completed"),
            good("t/del", Provider::Tencent, "vod.media.deleted"),
            good("t/snap", Provider::Tencent, "vod.media.snapshots.generated"),
            good("v/up", Provider::Volcengine, "vod.media.uploaded"),
            good("v/tr", Provider::Volcengine, "vod.media.transcoded"),
            good("v/del", Provider::Volcengine, "vod.material.deleted"),
            good("v/other", Provider::Volcengine, "vod.unmapped"),
            Template::rejected("t/bad".into(), Provider::Tencent, b"x", "not_json"),
            Template::rejected("v/bad".into(), Provider::Volcengine, b"[]", "not_object"),
        ]
    }

    fn spec(bad_pct: f64) -> MixSpec {
        MixSpec {
            classes: ClassWeights::default(),
            tencent_pct: 50.0,
            bad_pct,
        }
    }

    #[test]
    fn classes_follow_the_canonical_type() {
        assert_eq!(Class::of("vod.material.uploaded"), Class::Upload);
        assert_eq!(Class::of("vod.workflow.completed"), Class::Transcode);
        assert_eq!(Class::of("vod.media.outputs.deleted"), Class::Delete);
        assert_eq!(Class::of("vod.aigc.image.generated"), Class::Other);
    }

    #[test]
    fn weights_parse_and_refuse_nonsense() {
        let w: ClassWeights = "upload=1, delete=3".parse().expect("valid");
        assert_eq!(w.0, [1.0, 0.0, 3.0, 0.0]);
        assert!("upload".parse::<ClassWeights>().is_err());
        assert!("uploads=1".parse::<ClassWeights>().is_err());
        assert!("upload=-1".parse::<ClassWeights>().is_err());
        assert!("upload=0".parse::<ClassWeights>().is_err());
    }

    #[test]
    fn apportioning_is_exact_and_sums_to_the_total() {
        assert_eq!(apportion(&[1.0, 1.0, 1.0], 10), vec![4, 3, 3]);
        assert_eq!(apportion(&[0.5, 0.25, 0.25], 8), vec![4, 2, 2]);
        assert_eq!(apportion(&[2.0, 0.0], 5), vec![5, 0]);
        assert_eq!(apportion(&[0.0, 0.0], 5), vec![0, 0]);
    }

    #[test]
    fn the_deck_has_the_requested_shares() {
        let t = sample();
        let deck = build_deck(&t, &spec(2.0), 1).expect("deck");
        assert_eq!(deck.slots.len(), DECK_SIZE);
        let share = |b: Bucket| deck.per_bucket.get(&b).copied().unwrap_or(0);
        let (tc, vc) = (ProviderKey::Tencent, ProviderKey::Volcengine);
        // 98 % good, half per vendor, 40/30/10/20 per class: Tencent uploads 19.6 %.
        assert_eq!(share(Bucket::Good(tc, Class::Upload)), 1960);
        assert_eq!(share(Bucket::Good(vc, Class::Transcode)), 1470);
        assert_eq!(share(Bucket::Good(tc, Class::Delete)), 490);
        assert_eq!(share(Bucket::Good(vc, Class::Other)), 980);
        assert_eq!(share(Bucket::Bad(tc)) + share(Bucket::Bad(vc)), 200);
        // The two Tencent upload fixtures split their bucket equally, and the counts per slot
        // agree with the summary.
        let count = |i: u32| deck.slots.iter().filter(|&&s| s == i).count();
        assert_eq!(count(0), 980);
        assert_eq!(count(1), 980);
        // Slot order is shuffled (not all of template 0 first) and reproducible from the seed.
        assert!(deck.slots[..980].iter().any(|&s| s != 0));
        assert_eq!(
            deck.slots,
            build_deck(&t, &spec(2.0), 1).expect("deck").slots
        );
        assert_ne!(
            deck.slots,
            build_deck(&t, &spec(2.0), 2).expect("deck").slots
        );
    }

    #[test]
    fn no_bad_share_means_no_bad_body_and_empty_buckets_redistribute() {
        let t: Vec<_> = sample().into_iter().filter(|t| t.name != "v/del").collect();
        let deck = build_deck(&t, &spec(0.0), 1).expect("deck");
        assert!(deck.slots.iter().all(|&i| t[i as usize].is_accepted()));
        assert_eq!(deck.per_bucket.values().sum::<usize>(), DECK_SIZE);
        assert!(!deck
            .per_bucket
            .contains_key(&Bucket::Good(ProviderKey::Volcengine, Class::Delete)));
        // Request i always takes the same slot.
        assert_eq!(deck.pick(3), deck.pick(3 + DECK_SIZE as u64));
    }
}
