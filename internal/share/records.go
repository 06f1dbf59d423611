package share

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/coordlog"
)

// Key names one share-partition: a group's view of one topic partition.
type Key struct {
	Group     string
	TopicID   [16]byte
	Partition int32
}

// Record formats of __share_group_state, as Kafka's share coordinator
// writes them: the key is a coordinator record key of type 0
// (ShareSnapshotKey v0: GroupId, TopicId, Partition; not flexible), the
// value ShareSnapshotValue v0 (flexible: SnapshotEpoch, StateEpoch,
// LeaderEpoch, StartOffset, StateBatches). Every write is a full
// snapshot; Kafka's incremental ShareUpdate records (key type 1) are never
// written here and are skipped on replay. A null value deletes.
const keyTypeSnapshot int16 = 0

func encodeKey(k Key) []byte {
	b := kbin.AppendInt16(nil, keyTypeSnapshot)
	b = kbin.AppendString(b, k.Group)
	b = kbin.AppendUuid(b, k.TopicID)
	return kbin.AppendInt32(b, k.Partition)
}

func encodeValue(st State, snapshotEpoch int32) []byte {
	b := kbin.AppendInt16(nil, 0) // value version
	b = kbin.AppendUint16(b, uint16(snapshotEpoch))
	b = kbin.AppendInt32(b, st.StateEpoch)
	b = kbin.AppendInt32(b, st.LeaderEpoch)
	b = kbin.AppendInt64(b, st.StartOffset)
	b = kbin.AppendCompactArrayLen(b, len(st.Batches))
	for _, sb := range st.Batches {
		b = kbin.AppendInt64(b, sb.First)
		b = kbin.AppendInt64(b, sb.Last)
		b = kbin.AppendInt8(b, int8(sb.State))
		b = kbin.AppendInt16(b, sb.DeliveryCount)
		b = kbin.AppendUvarint(b, 0) // no tagged fields
	}
	return kbin.AppendUvarint(b, 0)
}

// decodeKey reads a record key; ok is false for keys of other types.
func decodeKey(b []byte) (k Key, ok bool) {
	r := kbin.Reader{Src: b}
	if r.Int16() != keyTypeSnapshot {
		return k, false
	}
	k.Group = r.String()
	k.TopicID = r.Uuid()
	k.Partition = r.Int32()
	return k, r.Complete() == nil
}

// decodeValue reads a ShareSnapshotValue v0.
func decodeValue(b []byte) (State, error) {
	r := kbin.Reader{Src: b}
	var st State
	if v := r.Int16(); v != 0 {
		return st, fmt.Errorf("%w: value version %d", errCorrupt, v)
	}
	r.Uint16() // snapshot epoch
	st.StateEpoch = r.Int32()
	st.LeaderEpoch = r.Int32()
	st.StartOffset = r.Int64()
	n := r.CompactArrayLen()
	if n < 0 || int(n) > len(b)/20 {
		return st, fmt.Errorf("%w: %d state batches", errCorrupt, n)
	}
	for range n {
		sb := StateBatch{First: r.Int64(), Last: r.Int64(), State: RecordState(r.Int8()), DeliveryCount: r.Int16()}
		skipTags(&r)
		st.Batches = append(st.Batches, sb)
	}
	skipTags(&r)
	if err := r.Complete(); err != nil {
		return st, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if err := ValidateState(st); err != nil {
		return st, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return st, nil
}

func skipTags(r *kbin.Reader) {
	for n := r.Uvarint(); n > 0 && r.Ok(); n-- {
		r.Uvarint()
		r.Span(int(r.Uvarint()))
	}
}

// recordBatch is one uncompressed v2 batch of one record (nil value: a
// tombstone).
func recordBatch(key, value []byte, nowMs int64) []byte {
	return coordlog.Batch(key, value, nowMs)
}

// replay reads a share-state partition from start to end: the last
// snapshot of each key wins, a null value removes it.
func replay(ctx context.Context, log Log) (map[Key]State, error) {
	states := make(map[Key]State)
	if err := coordlog.Replay(ctx, log, errCorrupt, stateApplier(states)); err != nil {
		return nil, err
	}
	return states, nil
}

// replayBatches applies the records at or after from in data and returns
// the offset after the last batch.
func replayBatches(data []byte, from int64, states map[Key]State) (int64, error) {
	return coordlog.Batches(data, from, errCorrupt, stateApplier(states))
}

// stateApplier applies one record to states: records of other key
// versions are skipped, a tombstone removes its key, a value that does not
// decode is corrupt.
func stateApplier(states map[Key]State) func(r *kmsg.Record) error {
	return func(r *kmsg.Record) error {
		k, ok := decodeKey(r.Key)
		if !ok {
			return nil
		}
		if r.Value == nil {
			delete(states, k)
			return nil
		}
		st, err := decodeValue(r.Value)
		if err != nil {
			return err
		}
		states[k] = st
		return nil
	}
}
