package replica

import (
	"testing"

	"github.com/strombroker/strom/storage"
)

// TestFsyncBeforeAck: which writes are fsynced before their answer, by the
// broker's log.fsync policy and, when a topic sets it, Kafka's
// flush.messages count, which replaces the policy's per-write rule.
func TestFsyncBeforeAck(t *testing.T) {
	hdr := func(n int32) []storage.BatchHeader { return []storage.BatchHeader{{NumRecords: n}} }
	cases := []struct {
		name   string
		policy storage.FsyncPolicy
		flush  int64
		writes []int32 // records per write
		acks   int16
		want   []bool
	}{
		{"interval syncs acks=all", storage.FsyncInterval, 0, []int32{1, 5}, -1, []bool{true, true}},
		{"interval leaves acks=1", storage.FsyncInterval, 0, []int32{1, 5}, 1, []bool{false, false}},
		{"always syncs acks=1", storage.FsyncAlways, 0, []int32{1}, 1, []bool{true}},
		{"never syncs nothing", storage.FsyncNever, 0, []int32{1}, -1, []bool{false}},
		{"flush.messages=1 is every write", storage.FsyncNever, 1, []int32{1, 1}, 0, []bool{true, true}},
		{"flush.messages counts records", storage.FsyncInterval, 10, []int32{4, 4, 4, 9, 1}, -1, []bool{false, false, true, false, true}},
		{"flush.messages at Kafka's default never syncs acks=all", storage.FsyncInterval, 1<<63 - 1, []int32{100}, -1, []bool{false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &Partition{settings: Settings{Log: storage.Config{Fsync: c.policy}, FlushMessages: c.flush}}
			for i, n := range c.writes {
				if got := p.fsyncBeforeAckLocked(hdr(n), c.acks); got != c.want[i] {
					t.Errorf("write %d (%d records): fsync %v, want %v", i, n, got, c.want[i])
				}
			}
		})
	}
}
