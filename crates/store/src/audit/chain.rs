//! The chain itself: the columns an entry's hash covers, and the walk that
//! finds the first break, whichever reader feeds it.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// The columns that make up an entry, in the order the hash covers them.
pub(super) struct Row_<'a> {
    pub(super) seq: i64,
    pub(super) at: i64,
    /// actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose and
    /// source_key (columns 2 to 9 of [`COLUMNS`]), as UTF-8 bytes.
    pub(super) texts: [&'a [u8]; 8],
    pub(super) source: &'a [u8],
}

impl Row_<'_> {
    pub(super) fn hash(&self, prev: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(prev);
        h.update(self.seq.to_be_bytes());
        h.update(self.at.to_be_bytes());
        for part in self.texts.into_iter().chain([self.source]) {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }
}

/// The columns of `audit_log`, in the order the INSERT and the verifying readers use.
pub(super) const COLUMNS: &str = "seq, at, actor_kind, actor_id, action, subject_kind, subject_id, fields, purpose, source_key, source, prev_hash, hash";

/// The outcome of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub entries: u64,
    pub problem: Option<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The first position where the chain is broken.
    pub seq: i64,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The entry's content does not match its hash.
    Altered,
    /// The entry does not follow the one before it: an entry before it was
    /// removed or the order was changed.
    Removed,
    /// Entries at and after this position were removed (the head says more exist).
    Truncated,
    /// The entry is out of sequence.
    Reordered,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            ProblemKind::Altered => "was altered",
            ProblemKind::Removed => "is missing: it or an entry before it was removed",
            ProblemKind::Truncated => "and every entry after it were removed",
            ProblemKind::Reordered => "is out of order",
        };
        write!(f, "audit entry {} {what}", self.seq)
    }
}

/// One stored entry as a reader hands it to [`Walk`]: borrowed from the reader's
/// buffer, so reading allocates nothing per entry.
pub(super) struct Stored<'a> {
    pub(super) row: Row_<'a>,
    pub(super) prev_hash: &'a [u8],
    pub(super) hash: &'a [u8],
}

/// The chain walk that every reader feeds, entry by entry in `seq` order: it
/// finds the first break. Readers differ only in how they get the columns.
///
/// A long chain can be read as consecutive `seq` ranges at once: the first range
/// is walked from the start of the chain, each later one from its own first
/// entry, which stays unchecked until [`Walk::join`] checks it against the end
/// of the range before. Joined in order, the ranges give exactly the outcome of
/// one walk over the whole chain.
pub(super) struct Walk {
    /// The seq the next entry must have.
    pub(super) expected: i64,
    /// The hash the next entry must follow.
    prev: Vec<u8>,
    /// Entries checked and found intact (or, in a later range, its first entry).
    entries: u64,
    problem: Option<Problem>,
    /// Whether this walks a later range: its first entry is taken as it is.
    later_range: bool,
    /// A later range's first entry, for [`Walk::join`].
    first: Option<Box<OwnedEntry>>,
}

impl Walk {
    pub(super) fn new() -> Walk {
        Walk { expected: 1, prev: vec![0; 32], entries: 0, problem: None, later_range: false, first: None }
    }

    /// A walk over a range that does not start the chain.
    pub(super) fn later_range() -> Walk {
        Walk { later_range: true, ..Walk::new() }
    }

    pub(super) fn broken(&self) -> bool {
        self.problem.is_some()
    }

    /// Checks the next entry. Once the chain is broken, later entries change
    /// nothing (the reader may stop).
    pub(super) fn feed(&mut self, e: &Stored) {
        if self.broken() {
            return;
        }
        if self.later_range && self.first.is_none() {
            self.first = Some(Box::new(OwnedEntry::of(e)));
            self.prev.clear();
            self.prev.extend_from_slice(e.hash);
            self.expected = e.row.seq.saturating_add(1);
            self.entries = 1;
            return;
        }
        self.problem = self.check(e);
        if !self.broken() {
            self.prev.clear();
            self.prev.extend_from_slice(e.hash);
            self.expected += 1;
            self.entries += 1;
        }
    }

    fn check(&self, e: &Stored) -> Option<Problem> {
        let seq = e.row.seq;
        if seq != self.expected {
            let kind = if seq > self.expected { ProblemKind::Removed } else { ProblemKind::Reordered };
            return Some(Problem { seq: self.expected, kind });
        }
        let kind = if e.row.hash(&self.prev) != e.hash {
            ProblemKind::Altered
        } else if e.prev_hash != self.prev.as_slice() {
            ProblemKind::Removed
        } else {
            return None;
        };
        Some(Problem { seq, kind })
    }

    /// This walk, which starts the chain, continued by `next`, the walk over the
    /// range right after this one's.
    pub(super) fn join(mut self, next: Walk) -> Walk {
        debug_assert!(!self.later_range && next.later_range);
        let Some(first) = &next.first else { return self };
        self.feed(&first.stored());
        if self.broken() {
            return self;
        }
        // Found intact, `next`'s first entry leaves this walk exactly where `next`
        // stood after it (the seq after it, its hash), so from there on `next`
        // found what this walk would have.
        Walk { entries: self.entries + next.entries - 1, first: None, later_range: false, ..next }
    }

    /// The outcome, given the chain head read in the same snapshot as the entries.
    pub(super) fn finish(self, head_seq: i64, head_hash: &[u8]) -> Verification {
        debug_assert!(!self.later_range);
        let Walk { expected, prev, entries, problem, .. } = self;
        if problem.is_some() {
            return Verification { entries, problem };
        }
        if head_seq != expected - 1 || head_hash != prev.as_slice() {
            let kind = if head_seq > expected - 1 { ProblemKind::Truncated } else { ProblemKind::Altered };
            return Verification { entries, problem: Some(Problem { seq: expected.min(head_seq.max(1)), kind }) };
        }
        Verification { entries, problem: None }
    }
}

/// A [`Stored`] entry kept past its reader's buffer.
#[derive(Clone)]
struct OwnedEntry {
    seq: i64,
    at: i64,
    texts: [Vec<u8>; 8],
    source: Vec<u8>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl OwnedEntry {
    fn of(e: &Stored) -> OwnedEntry {
        OwnedEntry {
            seq: e.row.seq,
            at: e.row.at,
            texts: e.row.texts.map(<[u8]>::to_vec),
            source: e.row.source.to_vec(),
            prev_hash: e.prev_hash.to_vec(),
            hash: e.hash.to_vec(),
        }
    }

    fn stored(&self) -> Stored<'_> {
        Stored {
            row: Row_ {
                seq: self.seq,
                at: self.at,
                texts: self.texts.each_ref().map(Vec::as_slice),
                source: &self.source,
            },
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

pub(super) fn read_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Audit(format!("reading the audit trail: {e}"))
}

pub(super) fn bad_column(seq: i64, column: usize) -> StoreError {
    let name = COLUMNS.split(", ").nth(column).unwrap_or("?");
    StoreError::Audit(format!("audit entry {seq}: column {name} holds a value of the wrong type"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An intact chain of `n` entries, as stored, and its head.
    fn chain(n: i64) -> (Vec<OwnedEntry>, (i64, Vec<u8>)) {
        let mut prev = vec![0u8; 32];
        let mut entries = Vec::new();
        for seq in 1..=n {
            let subject_id = seq.to_string();
            let source = if seq % 3 == 0 { vec![seq as u8; 5] } else { vec![] };
            let source_key = if source.is_empty() { "" } else { "system" };
            let texts = ["staff", "u1", "customer.read", "customer", &subject_id, "email,phone", "support", source_key];
            let row = Row_ { seq, at: 1_700_000_000_000_000 + seq, texts: texts.map(str::as_bytes), source: &source };
            let hash = row.hash(&prev).to_vec();
            let e = Stored { row, prev_hash: &prev, hash: &hash };
            entries.push(OwnedEntry::of(&e));
            prev = hash;
        }
        (entries, (n, prev))
    }

    fn walk(entries: &[OwnedEntry], start: Walk) -> Walk {
        entries.iter().fold(start, |mut w, e| {
            w.feed(&e.stored());
            w
        })
    }

    /// Every way to cut `entries` into up to three consecutive ranges, walked
    /// apart and joined, gives what one walk over all of them gives.
    fn assert_ranges_agree(label: &str, entries: &[OwnedEntry], head: &(i64, Vec<u8>)) -> Verification {
        let whole = walk(entries, Walk::new()).finish(head.0, &head.1);
        for a in 0..=entries.len() {
            for b in a..=entries.len() {
                let joined = walk(&entries[..a], Walk::new())
                    .join(walk(&entries[a..b], Walk::later_range()))
                    .join(walk(&entries[b..], Walk::later_range()))
                    .finish(head.0, &head.1);
                assert_eq!(joined, whole, "{label}: ranges cut before positions {a} and {b}");
            }
        }
        whole
    }

    #[test]
    fn walking_in_ranges_finds_what_one_walk_finds() {
        let n = 9;
        let (intact, head) = chain(n);
        let found = |v: Verification| v.problem.map(|p| (p.seq, p.kind));
        assert_eq!(found(assert_ranges_agree("intact", &intact, &head)), None);
        for k in 0..n as usize {
            let seq = k as i64 + 1;
            let mut altered = intact.clone();
            altered[k].texts[6] = b"billing".to_vec();
            let v = assert_ranges_agree("altered", &altered, &head);
            assert_eq!(found(v), Some((seq, ProblemKind::Altered)));

            let mut relinked = intact.clone();
            relinked[k].prev_hash = vec![7; 32];
            let v = assert_ranges_agree("prev_hash replaced", &relinked, &head);
            assert_eq!(found(v), Some((seq, ProblemKind::Removed)));

            let mut short = intact.clone();
            short[k].hash.truncate(31);
            let v = assert_ranges_agree("hash shortened", &short, &head);
            assert_eq!(found(v), Some((seq, ProblemKind::Altered)));

            let mut removed = intact.clone();
            removed.remove(k);
            let v = assert_ranges_agree("removed", &removed, &head);
            let expect = if seq == n { ProblemKind::Truncated } else { ProblemKind::Removed };
            assert_eq!(found(v), Some((seq, expect)));

            if seq < n {
                let mut swapped = intact.clone();
                swapped.swap(k, k + 1);
                (swapped[k].seq, swapped[k + 1].seq) = (seq, seq + 1);
                let v = assert_ranges_agree("swapped", &swapped, &head);
                assert_eq!(found(v), Some((seq, ProblemKind::Altered)));
            }
        }
        let mut early = intact.clone();
        early[0].seq = 0;
        assert_eq!(found(assert_ranges_agree("seq 0", &early, &head)), Some((1, ProblemKind::Reordered)));
        let mut gap = intact.clone();
        gap[4].seq = 1_000;
        gap.sort_by_key(|e| e.seq);
        assert_eq!(found(assert_ranges_agree("moved to the end", &gap, &head)), Some((5, ProblemKind::Removed)));
        let beyond = (n + 3, head.1.clone());
        assert_eq!(found(assert_ranges_agree("head ahead", &intact, &beyond)), Some((n + 1, ProblemKind::Truncated)));
        let behind = (n - 2, head.1.clone());
        assert_eq!(found(assert_ranges_agree("head behind", &intact, &behind)), Some((n - 2, ProblemKind::Altered)));
        let wrong = (n, vec![1; 32]);
        assert_eq!(found(assert_ranges_agree("head hash", &intact, &wrong)), Some((n, ProblemKind::Altered)));
        let none = (0, vec![0; 32]);
        assert_eq!(found(assert_ranges_agree("empty", &[], &none)), None);
    }
}
