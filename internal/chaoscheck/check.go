package chaoscheck

import (
	"fmt"
	"slices"
)

// Record is one record read back from the log. Check expects each
// partition's records in offset order, as a consumer returns them.
type Record struct {
	Partition int32
	Offset    int64
	Value     []byte
}

// Result is what Check found; the counts are printed by Verify whatever
// their values, and Problems turns the non-zero ones into test failures.
type Result struct {
	Acked      int // acknowledged records
	Consumed   int // records in the log
	Unparsable int // values not written by the producer to that partition

	Lost            int // acknowledged, not in the log
	WrongOffset     int // acknowledged, but not found at the acknowledged offset
	Duplicates      int // extra copies of a value in the log
	AckedDuplicates int // acknowledged records in the log more than once
	OutOfOrder      int // records whose seq is not above their predecessor's

	LostExamples  []string // up to 10 lost or misplaced records
	OrderExamples []string // up to 5 out-of-order records
	Forbidden     []string // forbidden values found in the log, with where
	AckedValues   []string // every acknowledged value, for the reader check
}

// entry is a record of the log parsed back into its seq.
type entry struct{ seq, offset int64 }

// Check compares what the producer was told (acks, per partition) with what
// the log holds (records), and finds the forbidden values (which must not be
// in the log at all). It is pure.
func Check(acks [][]Ack, records []Record, forbidden []string) *Result {
	res := &Result{Consumed: len(records)}
	isForbidden := map[string]bool{}
	for _, v := range forbidden {
		isForbidden[v] = true
	}
	logs := make([][]entry, len(acks))
	for _, r := range records {
		if isForbidden[string(r.Value)] {
			res.Forbidden = append(res.Forbidden, fmt.Sprintf("%s at p%d offset %d", r.Value, r.Partition, r.Offset))
			continue
		}
		part, seq, ok := ParseValue(r.Value)
		if !ok || part != r.Partition || int(part) >= len(acks) {
			res.Unparsable++
			continue
		}
		logs[part] = append(logs[part], entry{seq, r.Offset})
	}
	for p := range acks {
		res.checkPartition(int32(p), acks[p], logs[p])
	}
	return res
}

// checkPartition adds one partition's findings to res.
func (res *Result) checkPartition(p int32, acks []Ack, log []entry) {
	at := map[int64][]int64{} // seq → offsets
	for i, e := range log {
		at[e.seq] = append(at[e.seq], e.offset)
		if i > 0 && e.seq <= log[i-1].seq {
			res.OutOfOrder++
			if len(res.OrderExamples) < 5 {
				res.OrderExamples = append(res.OrderExamples, fmt.Sprintf("p%d offset %d seq %d after seq %d", p, e.offset, e.seq, log[i-1].seq))
			}
		}
	}
	for _, offs := range at {
		res.Duplicates += len(offs) - 1
	}
	for _, a := range acks {
		res.Acked++
		res.AckedValues = append(res.AckedValues, Value(p, a.Seq))
		offs := at[a.Seq]
		var example string
		switch {
		case len(offs) == 0:
			res.Lost++
			example = fmt.Sprintf("p%d seq %d acked at offset %d", p, a.Seq, a.Offset)
		case !slices.Contains(offs, a.Offset):
			res.WrongOffset++
			example = fmt.Sprintf("p%d seq %d acked at offset %d but found at %v", p, a.Seq, a.Offset, offs)
		}
		if len(offs) > 1 {
			res.AckedDuplicates++
		}
		if example != "" && len(res.LostExamples) < 10 {
			res.LostExamples = append(res.LostExamples, example)
		}
	}
}

// Problems describes each check that failed, one line each; nil when the
// log is exactly what the producer was told.
func (res *Result) Problems() []string {
	var out []string
	add := func(cond bool, format string, args ...any) {
		if cond {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	add(res.Lost > 0 || res.WrongOffset > 0, "%d acknowledged records lost, %d at another offset than acknowledged, e.g. %v",
		res.Lost, res.WrongOffset, res.LostExamples)
	add(res.Duplicates > 0, "%d duplicate records (%d of them acknowledged) from an idempotent producer", res.Duplicates, res.AckedDuplicates)
	add(res.OutOfOrder > 0, "%d records out of production order, e.g. %v", res.OutOfOrder, res.OrderExamples)
	add(res.Unparsable > 0, "%d records with values the producer never wrote", res.Unparsable)
	add(len(res.Forbidden) > 0, "unacknowledged writes that must have been truncated are in the log: %v", res.Forbidden)
	add(res.Acked == 0, "nothing was acknowledged")
	return out
}
