package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// mountTmpfs mounts a tmpfs of the given size (e.g. "2m") on a fresh temp
// dir and unmounts it when the test ends. It needs root (CI runs as root);
// elsewhere the test is skipped, except under CI=true, where a disk-full
// test that silently did not run would hide a regression.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	skip := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("disk-full test cannot run under CI: %s", why)
		}
		t.Skipf("disk-full test needs a small tmpfs: %s (run as root to include it; under CI=true this fails)", why)
	}
	if os.Geteuid() != 0 {
		skip("not running as root, cannot mount")
	}
	dir := t.TempDir()
	// Registered after TempDir's own cleanup, so it runs before the removal.
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		skip(fmt.Sprintf("mount -t tmpfs failed: %v: %s", err, bytes.TrimSpace(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, bytes.TrimSpace(out))
		}
	})
	return dir
}

// fillDisk writes a filler file in dir until the file system reports ENOSPC
// and returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for written := 0; ; written += len(chunk) {
		if written > 64<<20 {
			t.Fatalf("wrote %d bytes to %s without ENOSPC; is it really a small tmpfs?", written, dir)
		}
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v, want ENOSPC", err)
			}
			return path
		}
	}
}

// fetchValues reads partition 0 of topic from offset 0 with a raw Fetch v11
// (topics by name) and returns the error code, high watermark and values.
func fetchValues(t *testing.T, addr, topic string) (int16, int64, []string) {
	t.Helper()
	raw := dialRaw(t, addr)
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	req.ReplicaID = -1
	req.MaxBytes = 4 << 20
	req.MinBytes = 1
	req.MaxWaitMillis = 0
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = 0
	rp.FetchOffset = 0
	rp.PartitionMaxBytes = 4 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := raw.Request(testCtx(t, 10*time.Second), req)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	resp := kresp.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response: error %d, topics %d", resp.ErrorCode, len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	var vals []string
	data := p.RecordBatches
	for len(data) >= 12 {
		size := int(binary.BigEndian.Uint32(data[8:12])) + 12
		if size > len(data) {
			break // a partial trailing batch is allowed in Fetch responses
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(data[:size]); err != nil {
			t.Fatalf("decode fetched batch: %v", err)
		}
		recs := rb.Records
		for range rb.NumRecords {
			l, n := binary.Varint(recs)
			if n <= 0 || int(l)+n > len(recs) {
				t.Fatalf("bad record length in batch at %d", rb.FirstOffset)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				t.Fatalf("decode record: %v", err)
			}
			vals = append(vals, string(r.Value))
			recs = recs[n+int(l):]
		}
		data = data[size:]
	}
	return p.ErrorCode, p.HighWatermark, vals
}

// TestDiskFullProduceFailsFetchWorks fills the data directory's file system
// and checks that Produce answers KAFKA_STORAGE_ERROR without appending
// anything, already written records stay readable, the broker keeps
// serving, and produce works again once space is freed.
func TestDiskFullProduceFailsFetchWorks(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	_, addr := startTestServer(t, func(c *Config) { c.DataDir = dir })
	ctx := testCtx(t, 60*time.Second)
	cl := newClient(t, addr)

	// Topic creation goes through Raft, whose log (boltdb) is in the same
	// directory: create it while there is space.
	const topic = "diskfull"
	if _, err := kadmCreate(ctx, t, addr, topic, 1); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 5 {
		v := fmt.Sprintf("before-%d", i)
		var got kmsg.ProduceResponseTopicPartition
		// The replica opens when the broker applies the new metadata; until
		// then produce may see a retriable NOT_LEADER.
		for {
			got = produceRaw(t, cl, 9, -1, topic, 0, makeBatch(-1, -1, -1, v))
			if got.ErrorCode != kerr.NotLeaderForPartition.Code || ctx.Err() != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got.ErrorCode != 0 || got.BaseOffset != int64(i) {
			t.Fatalf("produce %s before the disk filled: error %d base %d", v, got.ErrorCode, got.BaseOffset)
		}
		want = append(want, v)
	}

	filler := fillDisk(t, dir)

	// Larger than a page, so it cannot fit in the tail of the segment's
	// last page on tmpfs.
	big := strings.Repeat("x", 64<<10)
	for _, acks := range []int16{1, -1} {
		got := produceRaw(t, cl, 9, acks, topic, 0, makeBatch(-1, -1, -1, big))
		if got.ErrorCode != kerr.KafkaStorageError.Code {
			t.Fatalf("produce (acks %d) on a full disk: error %d, want KAFKA_STORAGE_ERROR (%d)", acks, got.ErrorCode, kerr.KafkaStorageError.Code)
		}
		if got.ErrorMessage == nil || !strings.Contains(*got.ErrorMessage, "no space") {
			t.Fatalf("produce v9 error message should name the cause, got %q", strPtrValue(got.ErrorMessage))
		}
	}

	// Reads are unaffected, and nothing of the failed batches is visible.
	code, hw, vals := fetchValues(t, addr, topic)
	if code != 0 || hw != 5 || strings.Join(vals, ",") != strings.Join(want, ",") {
		t.Fatalf("fetch on a full disk: error %d hw %d values %v, want 0, 5, %v", code, hw, vals, want)
	}
	// The broker still answers other requests.
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	md.Topics = append(md.Topics, mt)
	mresp, err := md.RequestWith(ctx, cl)
	if err != nil || len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata on a full disk: %v %+v", err, mresp)
	}

	// Free the space: the same produce now succeeds, at the next offset.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	got := produceRaw(t, cl, 9, -1, topic, 0, makeBatch(-1, -1, -1, big))
	if got.ErrorCode != 0 || got.BaseOffset != 5 {
		t.Fatalf("produce after freeing space: error %d base %d, want 0 and offset 5", got.ErrorCode, got.BaseOffset)
	}
	code, hw, vals = fetchValues(t, addr, topic)
	if code != 0 || hw != 6 || len(vals) != 6 || vals[5] != big {
		t.Fatalf("fetch after recovery: error %d hw %d, %d values", code, hw, len(vals))
	}
	// The controller kept working too: a new topic can be created.
	if r, err := kadmCreate(ctx, t, addr, "after-diskfull", 1); err != nil || r.Err != nil {
		t.Fatalf("create topic after freeing space: %v %v", err, r.Err)
	}
}
