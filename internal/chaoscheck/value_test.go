package chaoscheck

import "testing"

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		part int32
		seq  int64
		ok   bool
	}{
		{"p0-s0", 0, 0, true},
		{"p2-s123456", 2, 123456, true},
		{Value(7, 99), 7, 99, true},
		{"", 0, 0, false},
		{"p1", 0, 0, false},
		{"p1-s", 0, 0, false},
		{"x1-s2", 0, 0, false},
		{"p-s2", 0, 0, false},
		{"p1-sx", 0, 0, false},
		{"p-1-s2", 0, 0, false},
		{"p1-s-2", 0, 0, false},
		{"p99999999999-s1", 0, 0, false}, // partition beyond int32
		{"isolated-write", 0, 0, false},
	} {
		part, seq, ok := ParseValue([]byte(tc.in))
		if ok != tc.ok || (ok && (part != tc.part || seq != tc.seq)) {
			t.Errorf("ParseValue(%q) = %d, %d, %v; want %d, %d, %v", tc.in, part, seq, ok, tc.part, tc.seq, tc.ok)
		}
	}
}
