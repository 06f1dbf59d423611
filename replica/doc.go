// Package replica holds the partitions a broker hosts and runs their write and
// read paths: idempotent-producer sequence checks, the high watermark, acks
// waiting, fetch wake-ups and retention.
//
// A Partition wraps one storage.Log. On the leader, Produce validates and
// appends batches, then advances the high watermark to the minimum log end
// offset of the in-sync replicas (just the leader itself while the ISR has one
// member). Consumers never read past the high watermark. The package knows
// nothing about Raft or the Kafka wire format: the server tells it, as plain
// values, which partitions it hosts, at which leader epoch and with which ISR.
//
// Lock order: Manager.mu before Partition.mu; neither is held across disk I/O
// that can block for long (Sync runs outside Partition.mu).
package replica
