// Package chaoscheck is the workload and the checker of Strom's chaos tests:
// an idempotent acks=all producer that records exactly which records the
// cluster acknowledged and at which offset, a reader that consumes the topic
// alongside it, and the end-of-run verification of the log against both.
//
// Two suites inject faults — tests/ kills broker processes, tests/compose
// kills, pauses and partitions containers — but the question they ask at the
// end is the same, and must be asked the same way: is every acknowledged
// record in the log exactly once, at its acknowledged offset, in production
// order, with nothing in it the producer never wrote, and did a consumer see
// it? A test package cannot import another's helpers, so the one copy lives
// here. It knows nothing about how a suite runs its cluster: callers pass
// seed addresses, the topic and options, and it reports through testing.TB.
//
// # Workload
//
// Producer writes the values Value(partition, seq) = "p<partition>-s<seq>"
// to every partition of the topic, one goroutine per partition with manual
// partitioning, seq counting up from 0, at most Options.Window unanswered
// records per partition, one record per Options.Pace. The producer is
// idempotent with acks=all, so a retry is never written twice, and an
// acknowledged record must survive any single failure.
//
// # Checks
//
// Verify reads the whole topic with a fresh consumer up to the end offsets
// and hands the acknowledgements and the records to Check, which is pure:
//
//   - lost: an acknowledged record is not in the log;
//   - at another offset: it is, but not at the offset it was acknowledged at;
//   - duplicates: a value is in the log more than once (acknowledged or not);
//   - out of order: within a partition, seq does not increase with offset;
//   - unparsable: a value that is not "p<partition>-s<seq>" of its partition;
//   - forbidden: a value the scenario says must not be in the log (a write
//     to an isolated leader that must have been truncated).
//
// Exactly-once pipelines (transactions) are checked by CheckExactlyOnce on
// what ReadCommitted reads: every input value once, nothing aborted.
//
// Then it waits for the Reader to have seen every acknowledged record.
// CompareReplicas checks, after the cluster has settled or stopped, that the
// replicas of a partition hold byte-identical logs (SegmentLog reads one).
//
// # Settling
//
// FullISR (built on MetadataFrom, one broker's own view) is the settled
// state both suites wait for after a fault: every partition led and every
// replica back in the ISR, on every broker asked. WaitFor polls such a
// condition with a deadline, and Report prints a figure to the test log and
// to stdout, so that `make chaos` shows the numbers without -v.
package chaoscheck
