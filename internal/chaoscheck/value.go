package chaoscheck

import (
	"fmt"
	"strconv"
	"strings"
)

// Value is the record value the producer writes as the seq-th record of
// partition part: "p<part>-s<seq>". The partition is in the value so that a
// record found in the wrong partition is caught, the seq so that order and
// duplicates can be checked without keys or headers.
func Value(part int32, seq int64) string {
	return fmt.Sprintf("p%d-s%d", part, seq)
}

// ParseValue splits a value written by Value; ok is false for anything else.
func ParseValue(v []byte) (part int32, seq int64, ok bool) {
	ps, ss, found := strings.Cut(string(v), "-s")
	if !found || !strings.HasPrefix(ps, "p") {
		return 0, 0, false
	}
	p, err1 := strconv.ParseInt(ps[1:], 10, 32)
	s, err2 := strconv.ParseInt(ss, 10, 64)
	if err1 != nil || err2 != nil || p < 0 || s < 0 {
		return 0, 0, false
	}
	return int32(p), s, true
}
