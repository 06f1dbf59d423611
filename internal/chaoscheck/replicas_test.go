package chaoscheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSegmentLog(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"00000000000000000010.log":   "second",
		"00000000000000000000.log":   "first-",
		"00000000000000000000.index": "ignored",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	log, segs, err := SegmentLog(dir)
	if err != nil || string(log) != "first-second" || segs != 2 {
		t.Fatalf("SegmentLog = %q, %d, %v; want first-second, 2, nil", log, segs, err)
	}
	if _, _, err := SegmentLog(t.TempDir()); err == nil {
		t.Errorf("SegmentLog of an empty dir: no error")
	}
}

func TestCompareReplicas(t *testing.T) {
	r := func(name, log string) Replica { return Replica{Name: name, Log: []byte(log), Segments: 1} }
	for _, tc := range []struct {
		name     string
		replicas []Replica
		line     string // substring of the description
		err      string // substring of the error; "" for none
	}{
		{"identical", []Replica{r("b1", "abcdef"), r("b2", "abcdef"), r("b3", "abcdef")}, "identical=true, common prefix 6 bytes", ""},
		{"byte differs", []Replica{r("b1", "abcdef"), r("b2", "abcdef"), r("b3", "abXdef")}, "identical=false, common prefix 2 bytes", "b1 and b3 differ from byte 2 (6 vs 6 bytes)"},
		{"shorter", []Replica{r("b1", "abcdef"), r("b2", "abcd"), r("b3", "abcdef")}, "common prefix 4 bytes", "b1 and b2 differ from byte 4 (6 vs 4 bytes)"},
		{"none", nil, "no replicas", "no replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, err := CompareReplicas("t-0", tc.replicas)
			if !strings.HasPrefix(line, "t-0: ") || !strings.Contains(line, tc.line) {
				t.Errorf("line %q, want it to contain %q", line, tc.line)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}
