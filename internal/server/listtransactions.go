package server

// ListTransactions (key 66), v0-v2.
//
// The transactional ids this broker coordinates (clients ask every
// broker), filtered by state names (unknown ones are echoed in
// UnknownStateFilters), producer ids, v1+ a minimum open duration, and v2+
// a regular expression the whole id must match (Go's syntax, close to
// Java's for common patterns; an invalid one is INVALID_REGULAR_EXPRESSION).
// Only ids the principal may DESCRIBE are listed.

import (
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/txn"
	"github.com/strombroker/strom/wire"
)

// txnStateNames are the states ListTransactions filters by.
var txnStateNames = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

func (s *Server) handleListTransactions(req *wire.Request, r *kmsg.ListTransactionsRequest) kmsg.Response {
	resp := kmsg.NewPtrListTransactionsResponse()
	resp.Version = r.Version
	f := txn.ListFilter{ProducerIDs: r.ProducerIDFilters}
	for _, st := range r.StateFilters {
		known := false
		for _, n := range txnStateNames {
			known = known || n == st
		}
		if !known {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, st)
			continue
		}
		f.States = append(f.States, st)
	}
	if len(r.StateFilters) > 0 && len(f.States) == 0 {
		return resp // only unknown states asked for: nothing matches
	}
	if r.Version >= 1 && r.DurationFilterMillis > 0 {
		f.MinDuration = time.Duration(r.DurationFilterMillis) * time.Millisecond
	}
	if r.Version >= 2 && r.TransactionalIDPattern != nil && *r.TransactionalIDPattern != "" {
		if _, err := regexp.Compile(*r.TransactionalIDPattern); err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			return resp
		}
		f.IDPattern = *r.TransactionalIDPattern
	}
	for _, i := range s.txns.List(f) {
		if !s.authorize(req, acl.OpDescribe, acl.ResourceTransactionalID, i.ID) {
			continue
		}
		ts := kmsg.NewListTransactionsResponseTransactionState()
		ts.TransactionalID, ts.ProducerID, ts.TransactionState = i.ID, i.ProducerID, txn.StateName(i.State)
		resp.TransactionStates = append(resp.TransactionStates, ts)
	}
	return resp
}
