package replica

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var (
	idA = [16]byte{0: 0xAA, 15: 1}
	idB = [16]byte{0: 0xBB, 15: 2}
)

// openTopicLeader opens topic/0 with id on m and makes it leader at epoch 1.
func openTopicLeader(t *testing.T, m *Manager, topic string, id [16]byte) *Partition {
	t.Helper()
	p, err := m.OpenTopicID(topic, 0, id, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	p.BecomeLeader(1, []int32{self})
	return p
}

// strays returns the names of the stray directories in dir.
func strays(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), StraySuffix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// recordedID reads the topic id recorded in dir, failing if there is none.
func recordedID(t *testing.T, dir string) [16]byte {
	t.Helper()
	id, ok, err := readPartitionMetadata(dir)
	if !ok || err != nil {
		t.Fatalf("partition.metadata in %s: ok %v, %v", dir, ok, err)
	}
	return id
}

func TestPartitionMetadataFormat(t *testing.T) {
	// Kafka prints Uuids as unpadded base64url; this is what Kafka's
	// PartitionMetadataFile writes for topic id AAAAAAAAAAAAAAAAAAAAAQ.
	want := "version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n"
	if got := string(formatPartitionMetadata([16]byte{15: 1})); got != want {
		t.Fatalf("format = %q, want %q", got, want)
	}
	for _, id := range [][16]byte{idA, idB, {0: 0xFF, 7: 0xFE, 15: 0xFF}} {
		got, err := parsePartitionMetadata(formatPartitionMetadata(id))
		if err != nil || got != id {
			t.Fatalf("round trip of %x = %x, %v", id, got, err)
		}
	}
	if got, err := parsePartitionMetadata([]byte("  version: 0\r\ntopic_id:   AAAAAAAAAAAAAAAAAAAAAQ  \n\n")); err != nil || got != [16]byte{15: 1} {
		t.Fatalf("spaces and CRLF: %x, %v", got, err)
	}
	for _, bad := range []string{
		"", "version: 0\n", "topic_id: AAAAAAAAAAAAAAAAAAAAAQ\n",
		"version: 1\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n",
		"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA\n", // the zero id
		"version: 0\ntopic_id: AAAA\n",
		"version: 0\ntopic_id: !!!!!!!!!!!!!!!!!!!!!!\n",
		"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\ntopic_id: AAAAAAAAAAAAAAAAAAAAAg\n",
		"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\nextra: 1\n",
		"version 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n",
	} {
		if _, err := parsePartitionMetadata([]byte(bad)); !errors.Is(err, errBadPartitionMetadata) {
			t.Errorf("parse %q = %v, want errBadPartitionMetadata", bad, err)
		}
	}
}

// TestOpenTopicIDStraysOtherIncarnation: a directory written for topic id A
// and reopened for id B (the topic was deleted and recreated while this
// broker was down) is moved aside as stray and never served; the replica
// starts empty, records B, and keeps what it gets from then on.
func TestOpenTopicIDStraysOtherIncarnation(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	p := openTopicLeader(t, m, "t", idA)
	produce(t, p, 1, plain("old-1", "old-2"))
	pdir := filepath.Join(dir, "t-0")
	if got := recordedID(t, pdir); got != idA {
		t.Fatalf("recorded %x, want A", got)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m = newManager(t, dir)
	p = openTopicLeader(t, m, "t", idB)
	if p.LogEndOffset() != 0 || p.HighWatermark() != 0 {
		t.Fatalf("recreated topic: log end %d, hw %d, want an empty log", p.LogEndOffset(), p.HighWatermark())
	}
	if _, recs := fetchAll(t, p, 0, true); len(recs) != 0 {
		t.Fatalf("recreated topic serves %v", values(recs))
	}
	if got := recordedID(t, pdir); got != idB {
		t.Fatalf("recorded %x, want B", got)
	}
	s := strays(t, dir)
	if len(s) != 1 || !strings.HasPrefix(s[0], "t-0.") || len(s[0]) != len("t-0.")+32+len(StraySuffix) {
		t.Fatalf("stray directories %v", s)
	}
	if got := recordedID(t, filepath.Join(dir, s[0])); got != idA {
		t.Fatalf("stray records %x, want A", got)
	}

	// From now on the directory is B's: reopening with B keeps it.
	produce(t, p, 1, plain("new-1"))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = newManager(t, dir)
	p = openTopicLeader(t, m, "t", idB)
	if _, recs := fetchAll(t, p, 0, true); !slices.Equal(values(recs), []string{"new-1"}) {
		t.Fatalf("after reopen with the same id: %v", values(recs))
	}
	if s := strays(t, dir); len(s) != 1 {
		t.Fatalf("stray directories %v", s)
	}
	// The stray directory is never opened as a partition.
	if ps := m.Partitions(); len(ps) != 1 || ps[0] != p {
		t.Fatalf("hosted %v", ps)
	}
}

// TestOpenTopicIDRecreatedWhileOpen: the metadata names a new id for an
// open replica (delete and recreate within one reconcile pass): the old
// replica is removed and a fresh one returned.
func TestOpenTopicIDRecreatedWhileOpen(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	old := openTopicLeader(t, m, "t", idA)
	produce(t, old, 1, plain("old"))
	if again, err := m.OpenTopicID("t", 0, idA, testSettings()); err != nil || again != old {
		t.Fatalf("same id: %p, %v; want the open replica", again, err)
	}
	p := openTopicLeader(t, m, "t", idB)
	if p == old || m.Get("t", 0) != p {
		t.Fatal("recreated topic kept the old replica")
	}
	if p.LogEndOffset() != 0 {
		t.Fatalf("recreated topic: log end %d", p.LogEndOffset())
	}
	if got := recordedID(t, filepath.Join(dir, "t-0")); got != idB {
		t.Fatalf("recorded %x, want B", got)
	}
	if _, err := old.Produce(testCtx(t), plain("late"), 1); err == nil {
		t.Fatal("old replica still takes writes")
	}
}

// TestOpenTopicIDAdoptsLegacyDirectory: a directory from before topic ids
// (no partition.metadata), or opened without an id, adopts the id it is
// first opened with and keeps its data; later the id is enforced.
func TestOpenTopicIDAdoptsLegacyDirectory(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	p := openLeader(t, m, "t", testSettings()) // no id: what older versions wrote
	produce(t, p, 1, plain("kept"))
	if _, ok, _ := readPartitionMetadata(filepath.Join(dir, "t-0")); ok {
		t.Fatal("Open without an id wrote partition.metadata")
	}
	// Open replica, no file: adopts.
	if again, err := m.OpenTopicID("t", 0, idA, testSettings()); err != nil || again != p {
		t.Fatalf("adopting while open: %p, %v", again, err)
	}
	if got := recordedID(t, filepath.Join(dir, "t-0")); got != idA {
		t.Fatalf("recorded %x, want A", got)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "t-0", PartitionMetadataFile))

	m = newManager(t, dir)
	p = openTopicLeader(t, m, "t", idB) // closed directory, no file: adopts
	if _, recs := fetchAll(t, p, 0, true); !slices.Equal(values(recs), []string{"kept"}) {
		t.Fatalf("legacy data: %v", values(recs))
	}
	if got := recordedID(t, filepath.Join(dir, "t-0")); got != idB {
		t.Fatalf("recorded %x, want B", got)
	}
	if len(strays(t, dir)) != 0 {
		t.Fatal("legacy directory moved aside")
	}
}

// TestOpenTopicIDCorruptMetadata: a partition.metadata that does not parse
// says nothing about whose log this is: moved aside, never served.
func TestOpenTopicIDCorruptMetadata(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	produce(t, openTopicLeader(t, m, "t", idA), 1, plain("old"))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t-0", PartitionMetadataFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	m = newManager(t, dir)
	if p := openTopicLeader(t, m, "t", idA); p.LogEndOffset() != 0 {
		t.Fatalf("served a log of unknown identity: log end %d", p.LogEndOffset())
	}
	if len(strays(t, dir)) != 1 {
		t.Fatal("corrupt directory not moved aside")
	}
}

// TestManagerRefusesPathLikeTopics: names that would reach outside their
// own directory are refused by Open and Remove, whatever the metadata says.
func TestManagerRefusesPathLikeTopics(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	produce(t, openTopicLeader(t, m, "orders", idA), 1, plain("keep"))
	for _, name := range []string{"x/../orders", "../orders", "", "a\\b", "a\x00"} {
		if _, err := m.OpenTopicID(name, 0, idB, testSettings()); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("Open(%q) = %v, want ErrInvalidTopic", name, err)
		}
		if err := m.Remove(name, 0); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("Remove(%q) = %v, want ErrInvalidTopic", name, err)
		}
	}
	if _, recs := fetchAll(t, m.Get("orders", 0), 0, true); !slices.Equal(values(recs), []string{"keep"}) {
		t.Fatalf("orders after hostile names: %v", values(recs))
	}
}

// TestManagerFinishesInterruptedDeletes: Remove renames before deleting, and
// a *-delete directory a crash left behind is deleted at the next start;
// stray directories are kept for the operator.
func TestManagerFinishesInterruptedDeletes(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"t-0.0123456789abcdef0123456789abcdef-delete", "t-1.0123456789abcdef0123456789abcdef-stray"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "00000000000000000000.log"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := newManager(t, dir)
	produce(t, openTopicLeader(t, m, "u", idA), 1, plain("x"))
	if err := m.Remove("u", 0); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"t-1.0123456789abcdef0123456789abcdef-stray"}; !slices.Equal(names, want) {
		t.Fatalf("data dir holds %v, want %v", names, want)
	}
}
