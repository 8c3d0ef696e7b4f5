//! Client-side partition assignors of Kafka's classic consumer group protocol: `range`,
//! `roundrobin` and `cooperative-sticky`. Pure functions, no I/O.
//!
//! The group leader runs the assignor named by the coordinator over every member's
//! subscription; the result is sent back in SyncGroup. Because we share groups with the Java
//! client and librdkafka, `range` and `roundrobin` produce exactly what those clients produce,
//! and `cooperative-sticky` follows the same rules (keep owned partitions, balance, withhold
//! partitions that change owner until the old owner has revoked them).
//!
//! Member order (`range`, `roundrobin`): the Java client's `MemberInfo` order — static members
//! (with a `group.instance.id`) first, sorted by instance id, then dynamic members sorted by
//! member id, strings compared as Java does (UTF-16 code units). librdkafka compares two static
//! members by instance id and any other pair by member id; the two agree when the group is all
//! static or all dynamic (librdkafka's comparator is not a total order for mixed groups, so
//! Java's order is the only well-defined choice there). Topics are sorted by name (all clients
//! agree: topic names are ASCII). Rack-aware assignment is not done: it needs the replica racks
//! of each partition, and without them the Java client and librdkafka fall back to the plain
//! algorithms implemented here.

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
    let revoked = owned.difference(&assigned).map(|tp| (*tp).clone()).collect();
    let added = assigned.difference(&owned).map(|tp| (*tp).clone()).collect();
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
    fn new(members: &'a [MemberSubscription], partitions_per_topic: &BTreeMap<String, i32>) -> Self {
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
                        Owner::Member { member: o, generation: g } if *o != m => {
                            match generation.cmp(g) {
                                Ordering::Greater => {
                                    *owner = Owner::Member { member: m, generation }
                                }
                                Ordering::Equal => *owner = Owner::Conflict { generation },
                                Ordering::Less => {}
                            }
                        }
                        Owner::Conflict { generation: g } if generation > *g => {
                            *owner = Owner::Member { member: m, generation }
                        }
                        _ => {}
                    })
                    .or_insert(Owner::Member { member: m, generation });
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
            parts.sort_unstable_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
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
        let assigned = state.held.into_iter().map(|set| set.into_iter().collect()).collect();
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
            let max = self.held.iter().map(BTreeSet::len).max().unwrap_or(0);
            let mut order: Vec<usize> = (0..n)
                .filter(|&m| self.held[m].len() + 2 <= max)
                .collect();
            order.sort_by_key(|&m| (self.held[m].len(), m));
            let improved = order.into_iter().any(|m| self.augment(m));
            if !improved {
                return;
            }
        }
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
            && self.group.members[y]
                .subscribes
                .iter()
                .zip(&self.held_in_topic[x])
                .any(|(&sub, &count)| sub && count > 0)
    }

    /// The partition `x` should hand to `y`: one `y` owned before, else one `x` did not own
    /// before (moving it costs no stickiness), else the lowest.
    fn pick_partition(&self, x: usize, y: usize) -> Option<Part> {
        let subscribes = &self.group.members[y].subscribes;
        let candidates = || self.held[x].iter().copied().filter(|p| subscribes[p.0]);
        candidates()
            .find(|p| self.prev_owner.get(p) == Some(&y))
            .or_else(|| candidates().find(|p| self.prev_owner.get(p) != Some(&x)))
            .or_else(|| candidates().next())
    }
}
