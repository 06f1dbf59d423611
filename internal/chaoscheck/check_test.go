package chaoscheck

import (
	"strings"
	"testing"
)

// acked returns acknowledgements of seqs 0..len(offsets)-1 at offsets.
func acked(offsets ...int64) []Ack {
	out := make([]Ack, len(offsets))
	for i, o := range offsets {
		out[i] = Ack{Seq: int64(i), Offset: o}
	}
	return out
}

// rec is a record of partition p at offset off holding value v.
func rec(p int32, off int64, v string) Record {
	return Record{Partition: p, Offset: off, Value: []byte(v)}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name      string
		acks      [][]Ack
		records   []Record
		forbidden []string
		want      Result // only the counts and Forbidden are compared
		problems  []string
	}{{
		name:    "clean, with an unacknowledged record written",
		acks:    [][]Ack{acked(0, 1), acked(0)},
		records: []Record{rec(0, 0, "p0-s0"), rec(0, 1, "p0-s1"), rec(0, 2, "p0-s2"), rec(1, 0, "p1-s0")},
		want:    Result{Acked: 3, Consumed: 4},
	}, {
		name:     "lost",
		acks:     [][]Ack{acked(0, 1, 2)},
		records:  []Record{rec(0, 0, "p0-s0"), rec(0, 1, "p0-s2")},
		want:     Result{Acked: 3, Consumed: 2, Lost: 1, WrongOffset: 1},
		problems: []string{"1 acknowledged records lost, 1 at another offset than acknowledged, e.g. [p0 seq 1 acked at offset 1 p0 seq 2 acked at offset 2 but found at [1]]"},
	}, {
		name:     "duplicate of an acknowledged record",
		acks:     [][]Ack{acked(0, 1)},
		records:  []Record{rec(0, 0, "p0-s0"), rec(0, 1, "p0-s1"), rec(0, 2, "p0-s1")},
		want:     Result{Acked: 2, Consumed: 3, Duplicates: 1, AckedDuplicates: 1, OutOfOrder: 1},
		problems: []string{"1 duplicate records (1 of them acknowledged)", "1 records out of production order, e.g. [p0 offset 2 seq 1 after seq 1]"},
	}, {
		name:     "out of order",
		acks:     [][]Ack{{{Seq: 1, Offset: 0}, {Seq: 0, Offset: 1}}},
		records:  []Record{rec(0, 0, "p0-s1"), rec(0, 1, "p0-s0")},
		want:     Result{Acked: 2, Consumed: 2, OutOfOrder: 1},
		problems: []string{"1 records out of production order"},
	}, {
		name:     "foreign values and wrong partition",
		acks:     [][]Ack{acked(0), nil},
		records:  []Record{rec(0, 0, "p0-s0"), rec(0, 1, "hello"), rec(1, 0, "p0-s1"), rec(5, 0, "p5-s0")},
		want:     Result{Acked: 1, Consumed: 4, Unparsable: 3},
		problems: []string{"3 records with values the producer never wrote"},
	}, {
		name:      "forbidden value present",
		acks:      [][]Ack{acked(1)},
		records:   []Record{rec(0, 0, "isolated-write"), rec(0, 1, "p0-s0")},
		forbidden: []string{"isolated-write", "never-written"},
		want:      Result{Acked: 1, Consumed: 2, Forbidden: []string{"isolated-write at p0 offset 0"}},
		problems:  []string{"must have been truncated are in the log: [isolated-write at p0 offset 0]"},
	}, {
		name:     "nothing acknowledged",
		acks:     [][]Ack{nil, nil},
		want:     Result{},
		problems: []string{"nothing was acknowledged"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			res := Check(tc.acks, tc.records, tc.forbidden)
			got := *res
			got.LostExamples, got.OrderExamples, got.AckedValues = nil, nil, nil
			if strings.Join(got.Forbidden, ",") != strings.Join(tc.want.Forbidden, ",") {
				t.Errorf("Forbidden %q, want %q", got.Forbidden, tc.want.Forbidden)
			}
			got.Forbidden, tc.want.Forbidden = nil, nil
			if got.Acked != tc.want.Acked || got.Consumed != tc.want.Consumed || got.Unparsable != tc.want.Unparsable ||
				got.Lost != tc.want.Lost || got.WrongOffset != tc.want.WrongOffset || got.Duplicates != tc.want.Duplicates ||
				got.AckedDuplicates != tc.want.AckedDuplicates || got.OutOfOrder != tc.want.OutOfOrder {
				t.Errorf("Check = %+v, want %+v", got, tc.want)
			}
			problems := res.Problems()
			if len(problems) != len(tc.problems) {
				t.Fatalf("Problems = %q, want %d like %q", problems, len(tc.problems), tc.problems)
			}
			for i, want := range tc.problems {
				if !strings.Contains(problems[i], want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, problems[i], want)
				}
			}
		})
	}
}

func TestCheckAckedValues(t *testing.T) {
	res := Check([][]Ack{acked(0, 1), acked(0)}, nil, nil)
	if got := strings.Join(res.AckedValues, " "); got != "p0-s0 p0-s1 p1-s0" {
		t.Errorf("AckedValues %q", got)
	}
}
