// Package share implements share groups (KIP-932, queues on Kafka
// topics): the membership of share groups (Groups), the share-partitions
// of the partitions a broker leads (Manager, Partition) and the share
// coordinator that persists their state (Store).
//
// A share-partition is a group's view of one topic partition: a start
// offset (SPSO; everything below is done) and, above it, a window of
// in-flight offsets, each available, acquired (by one member, until its
// acquisition lock expires), acknowledged or archived, with a delivery
// count. ShareFetch acquires available records for a member; ShareFetch
// and ShareAcknowledge acknowledge them (accept, release, reject); a
// released or expired record becomes available again until it was
// delivered group.share.delivery.count.limit times, then it is archived.
// The SPSO moves past leading acknowledged and archived offsets.
//
// Every change but an acquisition is persisted before it is answered:
// the leader writes the whole state through a Persister to the share
// coordinator of its key, the leader of __share_group_state partition
// abs(hash("group:topicId:partition")) % N, which appends it as Kafka's
// ShareSnapshot record (acks=all) to that compacted, replicated topic. A
// new partition leader (failover, restart) reads it back: acknowledged
// records are not delivered again; acquired ones are offered again with
// their delivery count (at-least-once, as Kafka documents). A leader's
// writes carry its leader epoch and the state epoch, so a superseded
// leader, or one whose offsets were altered (AlterShareGroupOffsets), is
// fenced and reloads.
//
// The package knows nothing of replicas or the wire: the server gives it
// the logs (Log), the persister (local Store or remote
// Read/WriteShareGroupState) and maps its sentinel errors to Kafka codes.
package share
