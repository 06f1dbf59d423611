package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/storage"
)

// readCommitted is readPartition for a read_committed consumer: records up
// to the last stable offset, and the aborted transactions that overlap
// them, so the client can drop those transactions' records (Kafka's
// collectAbortedTransactions). The answer's AbortedTransactions is empty,
// not null, when there are none, as Kafka's (null is for read_uncommitted).
func (s *Server) readCommitted(run *fetchRun, fp *kmsg.FetchResponseTopicPartition, part *replica.Partition, offset int64, limit int) (replica.FetchResult, storage.Slice, error) {
	var (
		res replica.FetchResult
		sl  storage.Slice
		ok  bool
		err error
	)
	if run.files < fetchMaxFiles {
		res, sl, ok, err = part.FetchSliceCommitted(offset, limit)
		sl = inlineSmall(fp, sl)
	}
	if err == nil && !ok {
		res, err = part.FetchCommitted(offset, limit)
		fp.RecordBatches = res.Records
		if fp.RecordBatches == nil {
			fp.RecordBatches = []byte{}
		}
	}
	if err != nil {
		return res, sl, err
	}
	aborted, err := part.AbortedTxns(offset, res.LastStable)
	if err != nil {
		// No records without the aborted transactions among them.
		if sl.File != nil {
			_ = sl.File.Close()
		}
		fp.RecordBatches = []byte{}
		return res, storage.Slice{}, err
	}
	fp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	for _, a := range aborted {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
		fp.AbortedTransactions = append(fp.AbortedTransactions, at)
	}
	return res, sl, nil
}
