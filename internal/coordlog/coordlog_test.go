package coordlog

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var errTestCorrupt = errors.New("test: corrupt")

// memLog is a Reader over batches appended back to back, each read
// returning everything from the batch holding offset on.
type memLog struct {
	batches [][]byte
}

func (l *memLog) append(b []byte) {
	b = append([]byte(nil), b...)
	binary.BigEndian.PutUint64(b[:8], uint64(len(l.batches))) // base offset: one record a batch
	l.batches = append(l.batches, b)
}

func (l *memLog) Read(offset int64, _ int) ([]byte, error) {
	var out []byte
	for _, b := range l.batches[offset:] {
		out = append(out, b...)
	}
	return out, nil
}
func (l *memLog) LogStartOffset() int64 { return 0 }
func (l *memLog) LogEndOffset() int64   { return int64(len(l.batches)) }

func TestReplayHandsRecordsInOrder(t *testing.T) {
	l := &memLog{}
	l.append(Batch([]byte("a"), []byte("1"), 5))
	l.append(Batch([]byte("b"), nil, 6))
	l.append(Batch([]byte("a"), []byte("2"), 7))
	var got []string
	err := Replay(context.Background(), l, errTestCorrupt, func(r *kmsg.Record) error {
		got = append(got, string(r.Key)+"="+string(r.Value))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a=1", "b=", "a=2"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("replayed %q, want %q", got, want)
	}
}

func TestBatchesCorruptWrapsCallersError(t *testing.T) {
	b := Batch([]byte("k"), []byte("v"), 1)
	for name, data := range map[string][]byte{
		"trailing": append(append([]byte(nil), b...), 1, 2, 3),
		"short":    b[:len(b)-1],
	} {
		_, err := Batches(data, 0, errTestCorrupt, func(*kmsg.Record) error { return nil })
		if !errors.Is(err, errTestCorrupt) {
			t.Errorf("%s: error %v, want one wrapping the caller's sentinel", name, err)
		}
	}
}
