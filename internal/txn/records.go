package txn

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/coordlog"
)

// errCorrupt: a __transaction_state batch or record that cannot be decoded.
var errCorrupt = errors.New("txn: corrupt transaction log")

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
// tombstone).
func recordBatch(key, value []byte, nowMs int64) []byte {
	return coordlog.Batch(key, value, nowMs)
}

// replay reads a partition from start to end; the last record of each id
// wins (a null value removes it).
func replay(ctx context.Context, log Log) (map[string]*txnMeta, error) {
	txns := make(map[string]*txnMeta)
	err := coordlog.Replay(ctx, log, errCorrupt, func(r *kmsg.Record) error {
		applyRecord(txns, r.Key, r.Value)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return txns, nil
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
