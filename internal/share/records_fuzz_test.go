package share

import (
	"errors"
	"testing"
)

// FuzzDecodeState checks that arbitrary share-state records never panic,
// that a decoded value is valid (ValidateState) and that a value encoded
// from it decodes to the same state. Seeds live in
// testdata/fuzz/FuzzDecodeState.
func FuzzDecodeState(f *testing.F) {
	k := Key{Group: "g", TopicID: [16]byte{1, 2}, Partition: 7}
	st := State{StateEpoch: 1, LeaderEpoch: 3, StartOffset: 10, Batches: []StateBatch{{First: 10, Last: 12, State: Acknowledged, DeliveryCount: 1}, {First: 13, Last: 13, State: Available, DeliveryCount: 2}}}
	f.Add(encodeKey(k), encodeValue(st, 1))
	f.Add(encodeKey(k), encodeValue(State{StartOffset: -1}, 0))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		if _, ok := decodeKey(key); !ok {
			return
		}
		st, err := decodeValue(value)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v is not errCorrupt", err)
			}
			return
		}
		if err := ValidateState(st); err != nil {
			t.Fatalf("decoded an invalid state %+v: %v", st, err)
		}
		again, err := decodeValue(encodeValue(st, 0))
		if err != nil || again.StartOffset != st.StartOffset || len(again.Batches) != len(st.Batches) {
			t.Fatalf("round trip of %+v: %+v %v", st, again, err)
		}
		NewPartition(st, 5, 100) // must not panic or grow unbounded
	})
}

// FuzzReplayBatches feeds arbitrary bytes to the share-state log replay.
func FuzzReplayBatches(f *testing.F) {
	k := Key{Group: "g", TopicID: [16]byte{1}, Partition: 0}
	f.Add(recordBatch(encodeKey(k), encodeValue(State{StartOffset: 3}, 1), 1))
	f.Add(recordBatch(encodeKey(k), nil, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		states := map[Key]State{}
		if _, err := replayBatches(data, 0, states); err != nil && !errors.Is(err, errCorrupt) {
			t.Fatalf("error %v is not errCorrupt", err)
		}
	})
}
