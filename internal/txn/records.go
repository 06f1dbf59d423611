package txn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// errCorrupt: a __transaction_state batch or record that cannot be decoded.
var errCorrupt = errors.New("txn: corrupt transaction log")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeState builds one uncompressed v2 batch holding id's state as
// Kafka's TxnMetadataKey (v0) and TxnMetadataValue (v0) record.
func encodeState(id string, s state, nowMs int64) []byte {
	k := kmsg.TxnMetadataKey{Version: 0, TransactionalID: id}
	v := kmsg.NewTxnMetadataValue()
	v.ProducerID, v.ProducerEpoch, v.TimeoutMillis, v.State = s.pid, s.epoch, s.timeout, s.st
	v.LastUpdateTimestamp, v.StartTimestamp = s.updated, s.start
	if s.tv2 {
		// v1 (flexible, KIP-915) carries the transaction version 2 fields.
		v.Version, v.ClientTransactionVersion = 1, 2
		v.PreviousProducerID, v.NextProducerID = s.prevPID, s.nextPID
	}
	byTopic := map[string]int{}
	for _, tp := range (&txnMeta{parts: s.parts}).sortedParts() {
		i, ok := byTopic[tp.Topic]
		if !ok {
			i = len(v.Topics)
			byTopic[tp.Topic] = i
			v.Topics = append(v.Topics, kmsg.TxnMetadataValueTopic{Topic: tp.Topic})
		}
		v.Topics[i].Partitions = append(v.Topics[i].Partitions, tp.Partition)
	}
	return recordBatch(k.AppendTo(nil), v.AppendTo(nil), nowMs)
}

// encodeTombstone is the record that forgets id.
func encodeTombstone(id string, nowMs int64) []byte {
	k := kmsg.TxnMetadataKey{Version: 0, TransactionalID: id}
	return recordBatch(k.AppendTo(nil), nil, nowMs)
}

// recordBatch is one uncompressed v2 batch of one record (nil value: a
// tombstone), base offset 0, no producer.
func recordBatch(key, value []byte, nowMs int64) []byte {
	rec := kmsg.Record{Key: key, Value: value}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)
	body := rec.AppendTo(nil)
	b := kmsg.RecordBatch{
		Length: int32(49 + len(body)), PartitionLeaderEpoch: -1, Magic: 2,
		FirstTimestamp: nowMs, MaxTimestamp: nowMs,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: 1, Records: body,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:21], crc32.Checksum(out[21:], castagnoli))
	return out
}

// replay reads a partition from start to end; the last record of each id
// wins (a null value removes it).
func replay(ctx context.Context, log Log) (map[string]*txnMeta, error) {
	txns := make(map[string]*txnMeta)
	off, end := log.LogStartOffset(), log.LogEndOffset()
	for off < end {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := log.Read(off, 1<<20)
		if err != nil {
			return nil, fmt.Errorf("read offset %d: %w", off, err)
		}
		if len(data) == 0 {
			break
		}
		next, err := replayBatches(data, off, txns)
		if err != nil {
			return nil, err
		}
		if next <= off {
			return nil, fmt.Errorf("%w: no progress at offset %d", errCorrupt, off)
		}
		off = next
	}
	return txns, nil
}

// replayBatches applies the records at or after from in data (whole
// batches) and returns the offset after the last batch.
func replayBatches(data []byte, from int64, txns map[string]*txnMeta) (int64, error) {
	next := int64(-1)
	for len(data) > 0 {
		var b kmsg.RecordBatch
		if len(data) < 12 {
			return next, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(data))
		}
		total := 12 + int64(int32(binary.BigEndian.Uint32(data[8:12])))
		if total < 61 || total > int64(len(data)) {
			return next, fmt.Errorf("%w: batch of %d bytes with %d left", errCorrupt, total, len(data))
		}
		if err := b.ReadFrom(data[:total]); err != nil {
			return next, fmt.Errorf("%w: %v", errCorrupt, err)
		}
		data = data[total:]
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
		if b.Attributes&0x27 != 0 { // control or compressed: not ours
			continue
		}
		recs := b.Records
		for i := int32(0); i < b.NumRecords; i++ {
			l, n := binary.Varint(recs)
			if n <= 0 || l < 0 || l > int64(len(recs)-n) {
				return next, fmt.Errorf("%w: record %d of batch at %d", errCorrupt, i, b.FirstOffset)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				return next, fmt.Errorf("%w: %v", errCorrupt, err)
			}
			recs = recs[n+int(l):]
			if b.FirstOffset+int64(r.OffsetDelta) >= from {
				applyRecord(txns, r.Key, r.Value)
			}
		}
	}
	return next, nil
}

// applyRecord applies one record; records that are not transaction
// metadata (key version > 0) or do not decode are skipped.
func applyRecord(txns map[string]*txnMeta, key, value []byte) {
	var k kmsg.TxnMetadataKey
	if k.ReadFrom(key) != nil || k.Version != 0 {
		return
	}
	if value == nil {
		delete(txns, k.TransactionalID)
		return
	}
	var v kmsg.TxnMetadataValue
	if v.ReadFrom(value) != nil {
		return
	}
	m := &txnMeta{id: k.TransactionalID, pid: v.ProducerID, epoch: v.ProducerEpoch, timeout: v.TimeoutMillis,
		state: v.State, parts: map[TP]struct{}{}, start: v.StartTimestamp, updated: v.LastUpdateTimestamp,
		tv2: v.ClientTransactionVersion >= 2, prevPID: -1, nextPID: -1}
	if m.tv2 {
		m.prevPID, m.nextPID = v.PreviousProducerID, v.NextProducerID
	}
	for _, t := range v.Topics {
		for _, p := range t.Partitions {
			m.parts[TP{t.Topic, p}] = struct{}{}
		}
	}
	txns[k.TransactionalID] = m
}
