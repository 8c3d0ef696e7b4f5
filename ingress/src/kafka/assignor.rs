//! Client-side partition assignors of Kafka's classic consumer group protocol: `range`,
//! `roundrobin` and `cooperative-sticky`. Pure functions, no I/O.
//!
//! The group leader runs the assignor the coordinator picked over every member's subscription
//! and sends the result in SyncGroup; members take whatever the leader computed. We share groups
//! with the Java client and librdkafka, so `range` and `roundrobin` produce exactly what those
//! clients produce, and `cooperative-sticky` follows the same rules.
//!
//! Member order (`range`, `roundrobin`): the Java client's `MemberInfo` order — static members
//! (with a `group.instance.id`) first, sorted by instance id, then dynamic members sorted by
//! member id, strings compared as Java does (UTF-16 code units). librdkafka compares two static
//! members by instance id and any other pair by member id (bytes); the two agree when the group
//! is all static or all dynamic and ids are ASCII (librdkafka's comparator is not a total order
//! for mixed groups, so Java's is the only well-defined choice there). Topics are sorted by
//! name; all clients agree since topic names are ASCII. Rack-aware assignment is not done: it
//! needs each partition's replica racks, and without them Java and librdkafka also fall back to
//! the plain algorithms implemented here.
//!
//! `cooperative-sticky`: claims on owned partitions are validated first (the claimant must
//! still subscribe to the topic and the partition must exist; between claimants the highest
//! generation wins and a tie at the highest generation invalidates every claim — Java's rules).
//! With identical subscriptions, quotas `q`/`q + 1` are computed, the `q + 1` quotas go to the
//! members owning most (ties by member order), each member keeps as much as its quota allows —
//! the most that can be kept — and the rest is dealt round-robin. Otherwise members keep what
//! they own, free partitions go to the least-loaded subscriber, and partitions are shifted along
//! shortest chains until no subscriber could take a partition from a member holding two more.
//! Java's own choice between equally good results depends on `HashMap` order, so no client
//! expects a particular one; ours is deterministic. Finally (cooperative protocol) a partition
//! is withheld from its new member while any other member still claims it and the new member
//! is not its validated owner: the claimant revokes it and the follow-up rebalance assigns it.
//! This is Java's rule, slightly stricter for stale claimants (Java's general path would hand a
//! partition back to a stale lower-generation claimant at once).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Protocol name of the range assignor.
pub const RANGE: &str = "range";
/// Protocol name of the round-robin assignor.
pub const ROUND_ROBIN: &str = "roundrobin";
/// Protocol name of the cooperative sticky assignor.
pub const COOPERATIVE_STICKY: &str = "cooperative-sticky";

/// The generation a member without one is treated as having (Java's `DEFAULT_GENERATION`).
const DEFAULT_GENERATION: i32 = -1;

/// A topic name and a partition index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// Builds a topic-partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

/// One member's subscription as the leader sees it (decoded ConsumerProtocolSubscription).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member id the coordinator gave the member.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Partitions the member owns now (subscription v1+ field).
    pub owned_partitions: Vec<TopicPartition>,
    /// Generation the owned partitions belong to: the v2+ field, else the cooperative-sticky
    /// user data's generation.
    pub generation: Option<i32>,
    /// `client.rack` (carried, not used: see the module docs).
    pub rack_id: Option<String>,
}

/// How a group moves partitions between members during a rebalance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebalanceProtocol {
    /// Every member revokes everything before each rebalance.
    Eager,
    /// Members keep their partitions; only moved ones are revoked, then assigned next round.
    Cooperative,
}

/// A group assignment: member id to its partitions (every member present, lists sorted).
pub type GroupAssignment = BTreeMap<String, Vec<TopicPartition>>;

/// A client-side partition assignor.
pub trait Assignor: Send + Sync {
    /// The protocol name sent in JoinGroup.
    fn name(&self) -> &'static str;
    /// The rebalance protocol this assignor uses.
    fn protocol(&self) -> RebalanceProtocol;
    /// Computes the group assignment from all members' subscriptions and partition counts.
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment;
}

/// Returns the assignor with Kafka protocol name `name`.
pub fn assignor_by_name(name: &str) -> Option<Box<dyn Assignor>> {
    match name {
        RANGE => Some(Box::new(RangeAssignor)),
        ROUND_ROBIN => Some(Box::new(RoundRobinAssignor)),
        COOPERATIVE_STICKY => Some(Box::new(CooperativeStickyAssignor)),
        _ => None,
    }
}

/// Member side of a cooperative rebalance: `(revoked, added)` = `(owned - assigned, assigned - owned)`, sorted.
pub fn diff(
    owned: &[TopicPartition],
    assigned: &[TopicPartition],
) -> (Vec<TopicPartition>, Vec<TopicPartition>) {
    let owned: BTreeSet<&TopicPartition> = owned.iter().collect();
    let assigned: BTreeSet<&TopicPartition> = assigned.iter().collect();
    let revoked = owned
        .difference(&assigned)
        .map(|tp| (*tp).clone())
        .collect();
    let added = assigned
        .difference(&owned)
        .map(|tp| (*tp).clone())
        .collect();
    (revoked, added)
}

/// The `range` assignor: per topic, contiguous ranges of partitions to the subscribed members.
#[derive(Clone, Copy, Debug, Default)]
pub struct RangeAssignor;

/// The `roundrobin` assignor: all partitions dealt one by one to the members in turn.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundRobinAssignor;

/// The `cooperative-sticky` assignor: balanced, keeps owned partitions, cooperative protocol.
#[derive(Clone, Copy, Debug, Default)]
pub struct CooperativeStickyAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        RANGE
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment {
        let group = Group::new(members, partitions_per_topic);
        let mut out = vec![Vec::new(); group.members.len()];
        for (t, topic) in group.topics.iter().enumerate() {
            // `group.members` is already in Java member order.
            let subscribers: Vec<usize> = (0..group.members.len())
                .filter(|&m| group.members[m].subscribes[t])
                .collect();
            if subscribers.is_empty() {
                continue;
            }
            let n = topic.partitions as usize;
            let per = n / subscribers.len();
            let extra = n % subscribers.len();
            for (i, &m) in subscribers.iter().enumerate() {
                let start = per * i + i.min(extra);
                let len = per + usize::from(i < extra);
                for p in start..start + len {
                    out[m].push(TopicPartition::new(topic.name.clone(), p as i32));
                }
            }
        }
        group.into_assignment(out)
    }
}

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &'static str {
        ROUND_ROBIN
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment {
        let group = Group::new(members, partitions_per_topic);
        let mut out = vec![Vec::new(); group.members.len()];
        let count = group.members.len();
        // The member to consider first for the next partition (a circular iterator).
        let mut next = 0;
        for (t, topic) in group.topics.iter().enumerate() {
            // Every topic in `group.topics` has at least one subscriber, so this terminates.
            for p in 0..topic.partitions {
                while !group.members[next].subscribes[t] {
                    next = (next + 1) % count;
                }
                out[next].push(TopicPartition::new(topic.name.clone(), p));
                next = (next + 1) % count;
            }
        }
        group.into_assignment(out)
    }
}

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &'static str {
        COOPERATIVE_STICKY
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Cooperative
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment {
        sticky_assign(members, partitions_per_topic, true)
    }
}

/// The sticky assignment, with the cooperative adjustment when `cooperative`.
fn sticky_assign(
    members: &[MemberSubscription],
    partitions_per_topic: &BTreeMap<String, i32>,
    cooperative: bool,
) -> GroupAssignment {
    let group = Group::new(members, partitions_per_topic);
    let owners = group.resolve_owners();
    let mut assignment = if group.all_subscriptions_equal() {
        group.constrained_assign(&owners)
    } else {
        group.general_assign(&owners)
    };
    if cooperative {
        group.withhold_transfers(&owners, &mut assignment);
    }
    group.into_assignment(assignment)
}

/// Compares two strings the way Java's `String.compareTo` does (UTF-16 code units).
fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Java's `MemberInfo` order: static members by instance id first, then dynamic by member id.
fn member_cmp(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => java_cmp(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java_cmp(&a.member_id, &b.member_id),
    }
    .then_with(|| java_cmp(&a.member_id, &b.member_id))
}

/// A subscribed topic with at least one partition.
#[derive(Debug)]
struct Topic {
    name: String,
    partitions: i32,
}

/// A member, indexed into [`Group::topics`].
#[derive(Debug)]
struct Member<'a> {
    sub: &'a MemberSubscription,
    /// `subscribes[t]`: whether the member subscribes to topic `t`.
    subscribes: Vec<bool>,
}

/// The assignor input in index form: members in Java member order, topics sorted by name.
#[derive(Debug)]
struct Group<'a> {
    members: Vec<Member<'a>>,
    topics: Vec<Topic>,
    topic_index: HashMap<String, usize>,
}

/// A partition as `(topic index, partition)`; sorts as (topic name, partition).
type Part = (usize, i32);

impl<'a> Group<'a> {
    /// Normalises the input: drops duplicate member ids (first wins), keeps only topics that
    /// someone subscribes to and that have partitions, sorts members and topics.
    fn new(
        members: &'a [MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> Self {
        let mut seen = BTreeSet::new();
        let mut subs: Vec<&MemberSubscription> = members
            .iter()
            .filter(|m| seen.insert(m.member_id.as_str()))
            .collect();
        subs.sort_by(|a, b| member_cmp(a, b));
        let subscribed: BTreeSet<&str> = subs
            .iter()
            .flat_map(|m| m.topics.iter().map(String::as_str))
            .collect();
        // BTreeMap order is byte order, which is Java's order for valid (ASCII) topic names.
        let topics: Vec<Topic> = partitions_per_topic
            .iter()
            .filter(|(name, &n)| n > 0 && subscribed.contains(name.as_str()))
            .map(|(name, &n)| Topic {
                name: name.clone(),
                partitions: n,
            })
            .collect();
        let topic_index: HashMap<String, usize> = topics
            .iter()
            .enumerate()
            .map(|(t, topic)| (topic.name.clone(), t))
            .collect();
        let members = subs
            .into_iter()
            .map(|sub| {
                let mut subscribes = vec![false; topics.len()];
                for name in &sub.topics {
                    if let Some(&t) = topic_index.get(name.as_str()) {
                        subscribes[t] = true;
                    }
                }
                Member { sub, subscribes }
            })
            .collect();
        Group {
            members,
            topics,
            topic_index,
        }
    }

    /// Builds the output map from per-member partition lists (sorted, deduplicated).
    fn into_assignment(self, per_member: Vec<Vec<TopicPartition>>) -> GroupAssignment {
        self.members
            .iter()
            .zip(per_member)
            .map(|(m, mut parts)| {
                parts.sort();
                parts.dedup();
                (m.sub.member_id.clone(), parts)
            })
            .collect()
    }

    /// Total number of partitions of the subscribed topics.
    fn partition_count(&self) -> usize {
        self.topics.iter().map(|t| t.partitions as usize).sum()
    }

    /// All partitions, sorted by topic then partition.
    fn all_partitions(&self) -> impl Iterator<Item = Part> + '_ {
        self.topics
            .iter()
            .enumerate()
            .flat_map(|(t, topic)| (0..topic.partitions).map(move |p| (t, p)))
    }

    /// Maps a claimed partition to index form if it exists and the member subscribes to it.
    fn part_of(&self, member: usize, tp: &TopicPartition) -> Option<Part> {
        let &t = self.topic_index.get(tp.topic.as_str())?;
        let valid = self.members[member].subscribes[t]
            && tp.partition >= 0
            && tp.partition < self.topics[t].partitions;
        valid.then_some((t, tp.partition))
    }

    /// Converts a partition back to the public form.
    fn tp(&self, (t, p): Part) -> TopicPartition {
        TopicPartition::new(self.topics[t].name.clone(), p)
    }

    /// The valid previous owner of each claimed partition. Claims on topics a member no longer
    /// subscribes to are ignored; between conflicting claims the highest generation wins, and
    /// a tie at the highest generation invalidates every claim (as Java does).
    fn resolve_owners(&self) -> HashMap<Part, Owner> {
        let mut owners: HashMap<Part, Owner> = HashMap::new();
        for (m, member) in self.members.iter().enumerate() {
            let generation = member.sub.generation.unwrap_or(DEFAULT_GENERATION);
            for tp in &member.sub.owned_partitions {
                let Some(part) = self.part_of(m, tp) else {
                    continue;
                };
                owners
                    .entry(part)
                    .and_modify(|owner| match owner {
                        Owner::Member {
                            member: o,
                            generation: g,
                        } if *o != m => match generation.cmp(g) {
                            Ordering::Greater => {
                                *owner = Owner::Member {
                                    member: m,
                                    generation,
                                }
                            }
                            Ordering::Equal => *owner = Owner::Conflict { generation },
                            Ordering::Less => {}
                        },
                        Owner::Conflict { generation: g } if generation > *g => {
                            *owner = Owner::Member {
                                member: m,
                                generation,
                            }
                        }
                        _ => {}
                    })
                    .or_insert(Owner::Member {
                        member: m,
                        generation,
                    });
            }
        }
        owners
    }

    /// Each member's validly owned partitions, sorted.
    fn owned_by_member(&self, owners: &HashMap<Part, Owner>) -> Vec<Vec<Part>> {
        let mut owned = vec![Vec::new(); self.members.len()];
        for (&part, owner) in owners {
            if let Owner::Member { member, .. } = *owner {
                owned[member].push(part);
            }
        }
        for parts in &mut owned {
            parts.sort_unstable();
        }
        owned
    }

    /// Whether every member subscribes to the same (non-empty) set of topics.
    fn all_subscriptions_equal(&self) -> bool {
        match self.members.split_first() {
            Some((first, rest)) => rest.iter().all(|m| m.subscribes == first.subscribes),
            None => true,
        }
    }

    /// Sticky assignment when all subscriptions are equal: quotas `q` / `q + 1`, the `q + 1`
    /// quotas go to the members owning the most, every member keeps `min(owned, quota)` of its
    /// partitions (the most that can be kept), the rest are dealt round-robin.
    fn constrained_assign(&self, owners: &HashMap<Part, Owner>) -> Vec<Vec<TopicPartition>> {
        let n = self.members.len();
        if n == 0 {
            return Vec::new();
        }
        let total = self.partition_count();
        let (min_quota, extra) = (total / n, total % n);
        let mut owned = self.owned_by_member(owners);
        // Keep lower partition indices first, mixing topics (Java sorts by partition, topic).
        for parts in &mut owned {
            parts.sort_unstable_by_key(|a| (a.1, a.0));
        }
        let mut by_owned: Vec<usize> = (0..n).collect();
        by_owned.sort_by(|&a, &b| owned[b].len().cmp(&owned[a].len()).then(a.cmp(&b)));
        let mut quota = vec![min_quota; n];
        for &m in by_owned.iter().take(extra) {
            quota[m] += 1;
        }
        let mut assigned: Vec<Vec<Part>> = vec![Vec::new(); n];
        let mut taken = BTreeSet::new();
        for m in 0..n {
            for &part in owned[m].iter().take(quota[m]) {
                assigned[m].push(part);
                taken.insert(part);
            }
        }
        let mut unfilled: VecDeque<usize> =
            (0..n).filter(|&m| assigned[m].len() < quota[m]).collect();
        for part in self.all_partitions().filter(|p| !taken.contains(p)) {
            let Some(m) = unfilled.pop_front() else {
                break; // unreachable: the quotas add up to the partition count
            };
            assigned[m].push(part);
            if assigned[m].len() < quota[m] {
                unfilled.push_back(m);
            }
        }
        self.to_public(assigned)
    }

    /// Sticky assignment for differing subscriptions: every member keeps what it validly owns,
    /// unowned partitions go (least-subscribed topics first) to the eligible member with the
    /// fewest partitions, then partitions are shifted along shortest "can take from" chains
    /// until no chain from a member with `k + 2` or more partitions to one with `k` exists —
    /// an optimal (max-min balanced) assignment for the given subscriptions.
    fn general_assign(&self, owners: &HashMap<Part, Owner>) -> Vec<Vec<TopicPartition>> {
        let mut state = Balancer::new(self, owners);
        state.assign_unowned();
        state.balance();
        let assigned = state
            .held
            .into_iter()
            .map(|set| set.into_iter().collect())
            .collect();
        self.to_public(assigned)
    }

    /// Converts index-form assignment lists to public ones.
    fn to_public(&self, assigned: Vec<Vec<Part>>) -> Vec<Vec<TopicPartition>> {
        assigned
            .into_iter()
            .map(|parts| parts.into_iter().map(|p| self.tp(p)).collect())
            .collect()
    }

    /// The cooperative adjustment: a partition assigned to a member that is not its valid
    /// previous owner, while some other member still claims it, is withheld this round (the
    /// claimant revokes it; the follow-up rebalance assigns it).
    fn withhold_transfers(
        &self,
        owners: &HashMap<Part, Owner>,
        assignment: &mut [Vec<TopicPartition>],
    ) {
        let mut claimants: HashMap<&TopicPartition, Vec<usize>> = HashMap::new();
        for (m, member) in self.members.iter().enumerate() {
            for tp in &member.sub.owned_partitions {
                claimants.entry(tp).or_default().push(m);
            }
        }
        for (m, parts) in assignment.iter_mut().enumerate() {
            parts.retain(|tp| {
                let is_owner = self
                    .topic_index
                    .get(tp.topic.as_str())
                    .and_then(|&t| owners.get(&(t, tp.partition)))
                    .is_some_and(|o| matches!(*o, Owner::Member { member, .. } if member == m));
                is_owner
                    || !claimants
                        .get(tp)
                        .is_some_and(|c| c.iter().any(|&other| other != m))
            });
        }
    }
}

/// Who validly owned a partition before this rebalance.
#[derive(Clone, Copy, Debug)]
enum Owner {
    /// One member, with the generation of its claim.
    Member { member: usize, generation: i32 },
    /// Several members claimed it in the same, highest, generation: nobody keeps it.
    Conflict { generation: i32 },
}

/// Mutable state of the general sticky balancer.
#[derive(Debug)]
struct Balancer<'g, 'a> {
    group: &'g Group<'a>,
    /// Partitions each member holds.
    held: Vec<BTreeSet<Part>>,
    /// `held_in_topic[m][t]`: how many partitions of topic `t` member `m` holds.
    held_in_topic: Vec<Vec<usize>>,
    /// The valid previous owner of each partition.
    prev_owner: HashMap<Part, usize>,
    /// Subscribers of each topic, in member order.
    subscribers: Vec<Vec<usize>>,
    /// Topics each member subscribes to.
    topics_of: Vec<Vec<usize>>,
}

impl<'g, 'a> Balancer<'g, 'a> {
    /// Starts from every member keeping its validly owned partitions.
    fn new(group: &'g Group<'a>, owners: &HashMap<Part, Owner>) -> Self {
        let n = group.members.len();
        let mut state = Balancer {
            group,
            held: vec![BTreeSet::new(); n],
            held_in_topic: vec![vec![0; group.topics.len()]; n],
            prev_owner: HashMap::new(),
            subscribers: (0..group.topics.len())
                .map(|t| (0..n).filter(|&m| group.members[m].subscribes[t]).collect())
                .collect(),
            topics_of: group
                .members
                .iter()
                .map(|m| {
                    (0..group.topics.len())
                        .filter(|&t| m.subscribes[t])
                        .collect()
                })
                .collect(),
        };
        for (&part, owner) in owners {
            if let Owner::Member { member, .. } = *owner {
                state.prev_owner.insert(part, member);
                state.give(member, part);
            }
        }
        state
    }

    /// Adds `part` to member `m`.
    fn give(&mut self, m: usize, part: Part) {
        self.held[m].insert(part);
        self.held_in_topic[m][part.0] += 1;
    }

    /// Removes `part` from member `m`.
    fn take(&mut self, m: usize, part: Part) {
        self.held[m].remove(&part);
        self.held_in_topic[m][part.0] -= 1;
    }

    /// Assigns every partition nobody holds to its least-loaded subscriber, topics with the
    /// fewest subscribers first.
    fn assign_unowned(&mut self) {
        let held: BTreeSet<Part> = self.held.iter().flatten().copied().collect();
        let mut unowned: Vec<Part> = self
            .group
            .all_partitions()
            .filter(|p| !held.contains(p))
            .collect();
        unowned.sort_by_key(|&(t, p)| (self.subscribers[t].len(), t, p));
        for part in unowned {
            let best = self.subscribers[part.0]
                .iter()
                .copied()
                .min_by_key(|&m| (self.held[m].len(), m));
            if let Some(m) = best {
                self.give(m, part);
            }
        }
    }

    /// Shifts partitions along chains until no member with `k + 2` partitions can (directly or
    /// through others) hand one to a member with `k`.
    fn balance(&mut self) {
        let n = self.group.members.len();
        loop {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by_key(|&m| (self.held[m].len(), m));
            let mut improved = false;
            for m in order {
                while self.held[m].len() + 2 <= self.max_held() && self.augment(m) {
                    improved = true;
                }
            }
            if !improved {
                return;
            }
        }
    }

    /// The largest number of partitions any member holds.
    fn max_held(&self) -> usize {
        self.held.iter().map(BTreeSet::len).max().unwrap_or(0)
    }

    /// Finds the shortest chain ending at `receiver` that starts at a member holding at least
    /// two more partitions, and shifts one partition along each link. Returns whether it did.
    fn augment(&mut self, receiver: usize) -> bool {
        let n = self.group.members.len();
        let target = self.held[receiver].len() + 2;
        // parent[x] = the member x would give a partition to.
        let mut parent: Vec<Option<usize>> = vec![None; n];
        let mut visited = vec![false; n];
        visited[receiver] = true;
        let mut queue = VecDeque::from([receiver]);
        let mut giver = None;
        'bfs: while let Some(y) = queue.pop_front() {
            for x in 0..n {
                if visited[x] || !self.can_give(x, y) {
                    continue;
                }
                visited[x] = true;
                parent[x] = Some(y);
                if self.held[x].len() >= target {
                    giver = Some(x);
                    break 'bfs;
                }
                queue.push_back(x);
            }
        }
        let Some(mut x) = giver else {
            return false;
        };
        while let Some(y) = parent[x] {
            if let Some(part) = self.pick_partition(x, y) {
                self.take(x, part);
                self.give(y, part);
            }
            x = y;
        }
        true
    }

    /// Whether member `x` holds a partition of a topic member `y` subscribes to.
    fn can_give(&self, x: usize, y: usize) -> bool {
        x != y
            && self.topics_of[y]
                .iter()
                .any(|&t| self.held_in_topic[x][t] > 0)
    }

    /// The partition `x` should hand to `y`: one `y` owned before, else one `x` did not own
    /// before (moving it costs no stickiness), else the lowest.
    fn pick_partition(&self, x: usize, y: usize) -> Option<Part> {
        let candidates = || {
            self.topics_of[y]
                .iter()
                .filter(|&&t| self.held_in_topic[x][t] > 0)
                .flat_map(|&t| self.held[x].range((t, 0)..=(t, i32::MAX)).copied())
        };
        candidates()
            .find(|p| self.prev_owner.get(p) == Some(&y))
            .or_else(|| candidates().find(|p| self.prev_owner.get(p) != Some(&x)))
            .or_else(|| candidates().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    fn member(id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.to_string(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            ..MemberSubscription::default()
        }
    }

    fn owning(
        mut m: MemberSubscription,
        owned: &[TopicPartition],
        generation: i32,
    ) -> MemberSubscription {
        m.owned_partitions = owned.to_vec();
        m.generation = Some(generation);
        m
    }

    fn topics(spec: &[(&str, i32)]) -> BTreeMap<String, i32> {
        spec.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn expect(spec: &[(&str, &[TopicPartition])]) -> GroupAssignment {
        spec.iter()
            .map(|(m, parts)| (m.to_string(), parts.to_vec()))
            .collect()
    }

    fn range(members: &[MemberSubscription], ppt: &BTreeMap<String, i32>) -> GroupAssignment {
        RangeAssignor.assign(members, ppt)
    }

    fn round_robin(members: &[MemberSubscription], ppt: &BTreeMap<String, i32>) -> GroupAssignment {
        RoundRobinAssignor.assign(members, ppt)
    }

    fn sticky(members: &[MemberSubscription], ppt: &BTreeMap<String, i32>) -> GroupAssignment {
        CooperativeStickyAssignor.assign(members, ppt)
    }

    fn counts(a: &GroupAssignment) -> Vec<usize> {
        a.values().map(Vec::len).collect()
    }

    #[test]
    fn names_and_protocols() {
        for (name, protocol) in [
            ("range", RebalanceProtocol::Eager),
            ("roundrobin", RebalanceProtocol::Eager),
            ("cooperative-sticky", RebalanceProtocol::Cooperative),
        ] {
            let a = assignor_by_name(name).unwrap();
            assert_eq!(a.name(), name);
            assert_eq!(a.protocol(), protocol);
        }
        assert!(assignor_by_name("sticky").is_none());
        assert!(assignor_by_name("Range").is_none());
    }

    #[test]
    fn range_java_docs_example() {
        let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let got = range(&members, &topics(&[("t0", 3), ("t1", 3)]));
        let want = expect(&[
            ("C0", &[tp("t0", 0), tp("t0", 1), tp("t1", 0), tp("t1", 1)]),
            ("C1", &[tp("t0", 2), tp("t1", 2)]),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn round_robin_java_docs_example() {
        let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let got = round_robin(&members, &topics(&[("t0", 3), ("t1", 3)]));
        let want = expect(&[
            ("C0", &[tp("t0", 0), tp("t0", 2), tp("t1", 1)]),
            ("C1", &[tp("t0", 1), tp("t1", 0), tp("t1", 2)]),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn round_robin_java_docs_uneven_example() {
        // RoundRobinAssignor javadoc: C0 [t0], C1 [t0, t1], C2 [t0, t1, t2]; t0 1, t1 2, t2 3.
        let members = [
            member("C0", &["t0"]),
            member("C1", &["t0", "t1"]),
            member("C2", &["t0", "t1", "t2"]),
        ];
        let got = round_robin(&members, &topics(&[("t0", 1), ("t1", 2), ("t2", 3)]));
        let want = expect(&[
            ("C0", &[tp("t0", 0)]),
            ("C1", &[tp("t1", 0)]),
            ("C2", &[tp("t1", 1), tp("t2", 0), tp("t2", 1), tp("t2", 2)]),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn range_uneven_subscriptions() {
        let members = [
            member("C0", &["t0"]),
            member("C1", &["t0", "t1"]),
            member("C2", &["t1"]),
        ];
        let got = range(&members, &topics(&[("t0", 3), ("t1", 5)]));
        let want = expect(&[
            ("C0", &[tp("t0", 0), tp("t0", 1)]),
            ("C1", &[tp("t0", 2), tp("t1", 0), tp("t1", 1), tp("t1", 2)]),
            ("C2", &[tp("t1", 3), tp("t1", 4)]),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn range_more_members_than_partitions() {
        let members = [
            member("a", &["t"]),
            member("b", &["t"]),
            member("c", &["t"]),
        ];
        let got = range(&members, &topics(&[("t", 2)]));
        let want = expect(&[("a", &[tp("t", 0)]), ("b", &[tp("t", 1)]), ("c", &[])]);
        assert_eq!(got, want);
    }

    #[test]
    fn member_subscribed_to_nothing_gets_an_empty_assignment() {
        let members = [member("a", &["t"]), member("b", &[]), member("c", &["t"])];
        let ppt = topics(&[("t", 4)]);
        for got in [
            range(&members, &ppt),
            round_robin(&members, &ppt),
            sticky(&members, &ppt),
        ] {
            assert_eq!(got.len(), 3);
            assert_eq!(got["b"], vec![]);
            assert_eq!(counts(&got), vec![2, 0, 2]);
        }
        let rr = round_robin(&members, &ppt);
        assert_eq!(rr["a"], vec![tp("t", 0), tp("t", 2)]);
        assert_eq!(rr["c"], vec![tp("t", 1), tp("t", 3)]);
    }

    #[test]
    fn unknown_and_unsubscribed_topics_are_ignored() {
        let members = [member("a", &["t", "missing"]), member("b", &["t"])];
        let ppt = topics(&[("t", 2), ("other", 5), ("empty", 0)]);
        for got in [
            range(&members, &ppt),
            round_robin(&members, &ppt),
            sticky(&members, &ppt),
        ] {
            assert_eq!(got, expect(&[("a", &[tp("t", 0)]), ("b", &[tp("t", 1)])]));
        }
    }

    #[test]
    fn no_members_gives_an_empty_assignment() {
        let ppt = topics(&[("t", 3)]);
        assert!(range(&[], &ppt).is_empty());
        assert!(round_robin(&[], &ppt).is_empty());
        assert!(sticky(&[], &ppt).is_empty());
    }

    #[test]
    fn static_members_sort_first_by_instance_id() {
        // Java MemberInfo order: static by group.instance.id, then dynamic by member id.
        let mut a = member("a", &["t"]);
        a.group_instance_id = Some("z".into());
        let b = member("b", &["t"]);
        let mut c = member("c", &["t"]);
        c.group_instance_id = Some("y".into());
        let members = [a, b, c];
        let ppt = topics(&[("t", 3)]);
        let want = expect(&[
            ("a", &[tp("t", 1)]),
            ("b", &[tp("t", 2)]),
            ("c", &[tp("t", 0)]),
        ]);
        assert_eq!(range(&members, &ppt), want);
        assert_eq!(round_robin(&members, &ppt), want);
    }

    #[test]
    fn member_ids_compare_like_java_strings() {
        // U+FF21 (one UTF-16 unit 0xFF21) sorts after U+1F600 (surrogates 0xD83D..) in Java,
        // before it in UTF-8 byte order.
        let members = [member("\u{FF21}", &["t"]), member("\u{1F600}", &["t"])];
        let got = range(&members, &topics(&[("t", 2)]));
        assert_eq!(got["\u{1F600}"], vec![tp("t", 0)]);
        assert_eq!(got["\u{FF21}"], vec![tp("t", 1)]);
    }

    #[test]
    fn diff_splits_revoked_and_added() {
        let owned = [tp("t", 0), tp("t", 1), tp("u", 0)];
        let assigned = [tp("u", 0), tp("t", 2), tp("t", 1)];
        let (revoked, added) = diff(&owned, &assigned);
        assert_eq!(revoked, vec![tp("t", 0)]);
        assert_eq!(added, vec![tp("t", 2)]);
        assert_eq!(diff(&[], &[]), (vec![], vec![]));
    }

    /// Feeds an assignment back as the members' owned partitions at `generation`.
    fn next_round(
        members: &[MemberSubscription],
        assignment: &GroupAssignment,
        generation: i32,
    ) -> Vec<MemberSubscription> {
        members
            .iter()
            .map(|m| owning(m.clone(), &assignment[&m.member_id], generation))
            .collect()
    }

    fn three_stable_members() -> (
        Vec<MemberSubscription>,
        BTreeMap<String, i32>,
        GroupAssignment,
    ) {
        let members = vec![
            member("A", &["t"]),
            member("B", &["t"]),
            member("C", &["t"]),
        ];
        let ppt = topics(&[("t", 12)]);
        let first = sticky(&members, &ppt);
        (members, ppt, first)
    }

    #[test]
    fn sticky_three_members_twelve_partitions_is_balanced() {
        let (members, ppt, first) = three_stable_members();
        assert_eq!(counts(&first), vec![4, 4, 4]);
        // Stable: rerunning with the same ownership changes nothing.
        let again = sticky(&next_round(&members, &first, 1), &ppt);
        assert_eq!(again, first);
    }

    #[test]
    fn sticky_member_leaves_its_partitions_are_spread() {
        let (members, ppt, first) = three_stable_members();
        let remaining: Vec<_> = next_round(&members, &first, 1)
            .into_iter()
            .filter(|m| m.member_id != "C")
            .collect();
        let got = sticky(&remaining, &ppt);
        assert_eq!(counts(&got), vec![6, 6]);
        for m in ["A", "B"] {
            assert!(
                first[m].iter().all(|p| got[m].contains(p)),
                "{m} lost a partition"
            );
        }
        let c_parts: BTreeSet<_> = first["C"].iter().collect();
        let spread: BTreeSet<_> = got
            .values()
            .flatten()
            .filter(|p| c_parts.contains(p))
            .collect();
        assert_eq!(spread, c_parts);
    }

    #[test]
    fn sticky_member_joins_moves_are_withheld_then_converge() {
        let (members, _, first) = three_stable_members();
        // The topic also grew by one partition (t-12, owned by nobody).
        let ppt = topics(&[("t", 13)]);
        let mut joined = next_round(&members, &first, 1);
        joined.push(member("D", &["t"]));
        let round1 = sticky(&joined, &ppt);
        // D only gets the partition nobody owned; others only lose.
        assert_eq!(round1["D"], vec![tp("t", 12)]);
        for m in ["A", "B", "C"] {
            assert!(round1[m].iter().all(|p| first[m].contains(p)));
        }
        assert_eq!(round1.values().map(Vec::len).sum::<usize>(), 13 - 2);
        assert_eq!(counts(&round1).iter().filter(|&&n| n == 4).count(), 1);

        // Round 2: members report what they now own.
        let round2 = sticky(&next_round(&joined, &round1, 2), &ppt);
        let mut c = counts(&round2);
        c.sort_unstable();
        assert_eq!(c, vec![3, 3, 3, 4]);
        assert_eq!(round2.values().map(Vec::len).sum::<usize>(), 13);
        for (m, parts) in &round1 {
            assert!(
                parts.iter().all(|p| round2[m].contains(p)),
                "{m} lost a partition"
            );
        }
        // Round 3: stable.
        let round3 = sticky(&next_round(&joined, &round2, 3), &ppt);
        assert_eq!(round3, round2);
    }

    #[test]
    fn sticky_conflicting_claims_higher_generation_wins() {
        let ppt = topics(&[("t", 2)]);
        let members = [
            owning(member("A", &["t"]), &[tp("t", 0)], 5),
            owning(member("B", &["t"]), &[tp("t", 0)], 3),
        ];
        let got = sticky(&members, &ppt);
        assert_eq!(got, expect(&[("A", &[tp("t", 0)]), ("B", &[tp("t", 1)])]));
        // Order of the members in the input does not matter.
        let reversed = [members[1].clone(), members[0].clone()];
        assert_eq!(sticky(&reversed, &ppt), got);

        // B claims at the higher generation: B keeps it, A gets the free one.
        let members = [
            owning(member("A", &["t"]), &[tp("t", 0)], 3),
            owning(member("B", &["t"]), &[tp("t", 0)], 5),
        ];
        let got = sticky(&members, &ppt);
        assert_eq!(got, expect(&[("A", &[tp("t", 1)]), ("B", &[tp("t", 0)])]));
    }

    #[test]
    fn sticky_same_generation_conflict_invalidates_and_withholds() {
        let ppt = topics(&[("t", 2)]);
        let members = [
            owning(member("A", &["t"]), &[tp("t", 0)], 5),
            owning(member("B", &["t"]), &[tp("t", 0)], 5),
        ];
        let eager = sticky_assign(&members, &ppt, false);
        assert_eq!(counts(&eager), vec![1, 1]);
        let got = sticky(&members, &ppt);
        // t-0 is withheld from whoever gets it (the other claimant must revoke it first).
        assert!(got.values().flatten().all(|p| *p != tp("t", 0)));
        assert_eq!(
            got.values().flatten().cloned().collect::<Vec<_>>(),
            vec![tp("t", 1)]
        );
    }

    #[test]
    fn sticky_general_case_conflict_and_stickiness() {
        // Unequal subscriptions take the general path.
        let ppt = topics(&[("t", 4), ("u", 2)]);
        let members = [
            owning(
                member("A", &["t", "u"]),
                &[tp("t", 0), tp("t", 1), tp("u", 0)],
                7,
            ),
            owning(member("B", &["t"]), &[tp("t", 1), tp("t", 2)], 6),
            member("C", &["u"]),
        ];
        let eager = sticky_assign(&members, &ppt, false);
        // A wins t-1 (generation 7); 6 partitions over 3 members: 2 each.
        assert_eq!(counts(&eager), vec![2, 2, 2]);
        assert!(eager["B"].contains(&tp("t", 2)));
        assert!(eager["A"].contains(&tp("t", 0)) && eager["A"].contains(&tp("t", 1)));
        assert_eq!(eager["C"], vec![tp("u", 0), tp("u", 1)]);
        // Cooperative: u-0 moves from A to C and is withheld; u-1 and t-3 are free.
        let got = sticky(&members, &ppt);
        assert_eq!(got["C"], vec![tp("u", 1)]);
        assert_eq!(got["A"], vec![tp("t", 0), tp("t", 1)]);
        assert_eq!(got["B"], vec![tp("t", 2), tp("t", 3)]);
    }

    #[test]
    fn sticky_drops_claims_on_unsubscribed_topics() {
        let ppt = topics(&[("t", 2), ("u", 2)]);
        let members = [
            owning(
                member("A", &["t"]),
                &[tp("u", 0), tp("u", 1), tp("t", 0)],
                1,
            ),
            owning(member("B", &["t", "u"]), &[tp("t", 1)], 1),
        ];
        let eager = sticky_assign(&members, &ppt, false);
        // A's claims on u are invalid; balancing then moves t-1 from B to A.
        assert_eq!(eager["A"], vec![tp("t", 0), tp("t", 1)]);
        assert_eq!(eager["B"], vec![tp("u", 0), tp("u", 1)]);
        // A still claims u-0/u-1 and B still owns t-1: all three wait for the revocations.
        let got = sticky(&members, &ppt);
        assert_eq!(got, expect(&[("A", &[tp("t", 0)]), ("B", &[])]));
    }

    /// A small deterministic PRNG (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    /// A random group: members, partition counts and whether subscriptions are identical.
    fn random_group(rng: &mut Rng) -> (Vec<MemberSubscription>, BTreeMap<String, i32>, bool) {
        let topic_count = 1 + rng.below(5);
        let names: Vec<String> = (0..topic_count).map(|t| format!("topic-{t}")).collect();
        let ppt: BTreeMap<String, i32> = names
            .iter()
            .map(|n| (n.clone(), rng.below(13) as i32))
            .collect();
        let member_count = 1 + rng.below(8);
        let identical = rng.chance(50);
        let shared: Vec<String> = names.iter().filter(|_| rng.chance(70)).cloned().collect();
        let mut members = Vec::new();
        for i in 0..member_count {
            let topics = if identical {
                shared.clone()
            } else {
                names.iter().filter(|_| rng.chance(50)).cloned().collect()
            };
            let mut m = MemberSubscription {
                member_id: format!("member-{:02}", rng.below(100) * 10 + i),
                topics,
                ..MemberSubscription::default()
            };
            if rng.chance(20) {
                m.group_instance_id = Some(format!("instance-{}", rng.below(1000) * 10 + i));
            }
            members.push(m);
        }
        // Random (possibly conflicting, possibly stale) previous ownership.
        for m in &mut members {
            m.generation = if rng.chance(20) {
                None
            } else {
                Some(rng.below(4) as i32)
            };
            for (name, &n) in &ppt {
                for p in 0..n + 1 {
                    if rng.chance(15) {
                        m.owned_partitions.push(tp(name, p));
                    }
                }
            }
        }
        (members, ppt, identical)
    }

    /// All partitions a member may get, per member id.
    fn eligible(
        members: &[MemberSubscription],
        ppt: &BTreeMap<String, i32>,
    ) -> BTreeSet<TopicPartition> {
        members
            .iter()
            .flat_map(|m| m.topics.iter())
            .filter_map(|t| ppt.get(t).map(|&n| (t, n)))
            .flat_map(|(t, n)| (0..n).map(move |p| tp(t, p)))
            .collect()
    }

    /// Every eligible partition is assigned exactly once, to a subscriber.
    fn check_exactly_once(
        members: &[MemberSubscription],
        ppt: &BTreeMap<String, i32>,
        got: &GroupAssignment,
    ) {
        let mut seen = BTreeSet::new();
        for m in members {
            for p in &got[&m.member_id] {
                assert!(m.topics.contains(&p.topic), "{p:?} given to non-subscriber");
                assert!(seen.insert(p.clone()), "{p:?} assigned twice");
            }
        }
        assert_eq!(seen, eligible(members, ppt));
        assert_eq!(got.len(), members.len());
    }

    /// No member holds a partition another subscriber with two fewer partitions could take.
    fn check_balanced(members: &[MemberSubscription], got: &GroupAssignment, identical: bool) {
        let count = |id: &str| got[id].len();
        if identical {
            let c = counts(got);
            let (min, max) = (c.iter().min().copied(), c.iter().max().copied());
            if let (Some(min), Some(max)) = (min, max) {
                assert!(max - min <= 1, "unbalanced {c:?}");
            }
        }
        for x in members {
            for p in &got[&x.member_id] {
                for y in members.iter().filter(|y| y.topics.contains(&p.topic)) {
                    assert!(
                        count(&x.member_id) <= count(&y.member_id) + 1,
                        "{} ({}) could give {p:?} to {} ({})",
                        x.member_id,
                        count(&x.member_id),
                        y.member_id,
                        count(&y.member_id)
                    );
                }
            }
        }
    }

    #[test]
    fn sticky_large_skewed_group_is_fast_enough() {
        // 100 members, 50 topics x 40 partitions; one member owns everything it subscribes to.
        let mut rng = Rng(42);
        let names: Vec<String> = (0..50).map(|t| format!("t{t:02}")).collect();
        let ppt: BTreeMap<String, i32> = names.iter().map(|n| (n.clone(), 40)).collect();
        let mut members: Vec<MemberSubscription> = (0..100)
            .map(|i| MemberSubscription {
                member_id: format!("m{i:03}"),
                topics: names.iter().filter(|_| rng.chance(30)).cloned().collect(),
                generation: Some(1),
                ..MemberSubscription::default()
            })
            .collect();
        members[0].topics = names.clone();
        members[0].owned_partitions = eligible(&members, &ppt).into_iter().collect();
        let start = std::time::Instant::now();
        let got = sticky_assign(&members, &ppt, false);
        let elapsed = start.elapsed();
        check_exactly_once(&members, &ppt, &got);
        check_balanced(&members, &got, false);
        assert!(
            elapsed < std::time::Duration::from_secs(20),
            "took {elapsed:?}"
        );
        eprintln!("large sticky assignment took {elapsed:?}");
    }

    #[test]
    fn range_and_round_robin_property() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..300 {
            let (members, ppt, identical) = random_group(&mut rng);
            for got in [range(&members, &ppt), round_robin(&members, &ppt)] {
                check_exactly_once(&members, &ppt, &got);
            }
            if identical {
                check_balanced(&members, &round_robin(&members, &ppt), true);
            }
        }
    }

    #[test]
    fn sticky_property() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        for _ in 0..500 {
            let (members, ppt, identical) = random_group(&mut rng);
            let eager = sticky_assign(&members, &ppt, false);
            check_exactly_once(&members, &ppt, &eager);
            check_balanced(&members, &eager, identical);
            // Deterministic and independent of the input order.
            let mut reversed = members.clone();
            reversed.reverse();
            assert_eq!(sticky_assign(&reversed, &ppt, false), eager);

            // The cooperative result is the eager one minus partitions moving between members.
            let coop = sticky(&members, &ppt);
            for m in &members {
                let (withheld, extra) = diff(&eager[&m.member_id], &coop[&m.member_id]);
                assert!(extra.is_empty(), "cooperative added {extra:?}");
                for p in withheld {
                    let claimed_elsewhere = members
                        .iter()
                        .any(|o| o.member_id != m.member_id && o.owned_partitions.contains(&p));
                    assert!(
                        claimed_elsewhere,
                        "{p:?} withheld from {} needlessly",
                        m.member_id
                    );
                }
            }

            // Safety: nobody gets a partition another member validly claims, unless its own
            // claim wins (valid and of a strictly higher generation).
            let gen = |m: &MemberSubscription| m.generation.unwrap_or(-1);
            for m in &members {
                for p in &coop[&m.member_id] {
                    let others = members.iter().filter(|o| {
                        o.member_id != m.member_id
                            && o.topics.contains(&p.topic)
                            && o.owned_partitions.contains(p)
                    });
                    for o in others {
                        assert!(
                            m.owned_partitions.contains(p) && gen(m) > gen(o),
                            "{p:?} given to {} while {} still owns it",
                            m.member_id,
                            o.member_id
                        );
                    }
                }
            }

            // Rounds converge: once everyone reports its assignment, the next is complete and
            // keeps everything (with identical subscriptions, nobody owns twice its share).
            let mut current = next_round(&members, &coop, 10);
            let mut last = coop;
            for round in 0..3 {
                let got = sticky(&current, &ppt);
                for (m, parts) in &last {
                    assert!(
                        parts.iter().all(|p| got[m].contains(p) || !identical),
                        "{m} lost {parts:?} in round {round}"
                    );
                }
                current = next_round(&current, &got, 11 + round);
                last = got;
            }
            check_exactly_once(&members, &ppt, &last);
            check_balanced(&members, &last, identical);
        }
    }

    #[test]
    fn sticky_identical_subscriptions_keep_the_most_possible() {
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        for _ in 0..300 {
            let (mut members, ppt, _) = random_group(&mut rng);
            let topics: Vec<String> = ppt.keys().cloned().collect();
            // Identical subscriptions, unconflicted ownership: deal owned partitions randomly.
            for m in &mut members {
                m.topics = topics.clone();
                m.owned_partitions.clear();
                m.generation = Some(1);
            }
            for p in eligible(&members, &ppt) {
                if rng.chance(70) {
                    let i = rng.below(members.len());
                    members[i].owned_partitions.push(p);
                }
            }
            let got = sticky_assign(&members, &ppt, false);
            check_exactly_once(&members, &ppt, &got);
            check_balanced(&members, &got, true);
            let kept: usize = members
                .iter()
                .map(|m| {
                    m.owned_partitions
                        .iter()
                        .filter(|p| got[&m.member_id].contains(p))
                        .count()
                })
                .sum();
            // Optimum: the q + 1 quotas go to the members owning most.
            let total = eligible(&members, &ppt).len();
            let n = members.len();
            let mut owned: Vec<usize> = members.iter().map(|m| m.owned_partitions.len()).collect();
            owned.sort_unstable_by(|a, b| b.cmp(a));
            let best: usize = owned
                .iter()
                .enumerate()
                .map(|(i, &o)| o.min(total / n + usize::from(i < total % n)))
                .sum();
            assert_eq!(kept, best);
        }
    }
}
