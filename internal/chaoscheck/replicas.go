package chaoscheck

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Replica is one copy of a partition's log, named for the report ("broker
// 2", "broker-2").
type Replica struct {
	Name     string
	Log      []byte // the .log segments concatenated in base-offset order
	Segments int
}

// SegmentLog reads the replica log in dir (a <topic>-<partition> directory
// of a data dir): its .log segment files concatenated in base-offset order,
// so that two replicas compare equal whatever their segment boundaries.
func SegmentLog(dir string) (log []byte, segments int, err error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, 0, err
	}
	if len(matches) == 0 {
		return nil, 0, fmt.Errorf("no .log segments in %s", dir)
	}
	sort.Strings(matches) // zero-padded base offsets sort by offset
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			return nil, 0, err
		}
		log = append(log, b...)
	}
	return log, len(matches), nil
}

// CompareReplicas describes the replicas of partition (e.g. "chaos-0") in
// one line — sizes, segments, a hash and the common prefix — and returns an
// error naming the first replica that differs from the first one, and the
// first byte where it does. Replicas of a settled partition with a full ISR
// must be byte-identical, lengths included.
func CompareReplicas(partition string, replicas []Replica) (string, error) {
	if len(replicas) == 0 {
		return partition + ": no replicas", fmt.Errorf("%s: no replicas to compare", partition)
	}
	var desc []string
	var err error
	common := len(replicas[0].Log)
	for i, r := range replicas {
		sum := sha256.Sum256(r.Log)
		desc = append(desc, fmt.Sprintf("%s: %d bytes in %d segments, sha256 %x", r.Name, len(r.Log), r.Segments, sum[:6]))
		first := replicas[0].Log
		n := min(len(r.Log), len(first))
		at := firstDiff(first[:n], r.Log[:n])
		common = min(common, at)
		if err == nil && i > 0 && !bytes.Equal(r.Log, first) {
			err = fmt.Errorf("%s: %s and %s differ from byte %d (%d vs %d bytes)",
				partition, replicas[0].Name, r.Name, at, len(first), len(r.Log))
		}
	}
	return fmt.Sprintf("%s: identical=%v, common prefix %d bytes (%s)", partition, err == nil, common, strings.Join(desc, "; ")), err
}

// firstDiff is the index of the first byte where a and b (of equal length)
// differ, or their length.
func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}
