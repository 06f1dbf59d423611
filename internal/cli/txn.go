package cli

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func runTxn(e *env, args []string) error {
	return subcommands(e, "txn", args, map[string]func(*env, []string) error{
		"list":      txnList,
		"describe":  txnDescribe,
		"producers": txnProducers,
	})
}

type txnListed struct {
	TransactionalID string `json:"transactional_id"`
	State           string `json:"state"`
	ProducerID      int64  `json:"producer_id"`
	Coordinator     int32  `json:"coordinator"`
}

// txnList is kafka-transactions.sh list: every transactional id, from
// every broker's coordinator (ListTransactions), optionally by state.
func txnList(e *env, args []string) error {
	fs, o := newFlags(e, "txn list", "txn list [--state Ongoing,...]", adminTimeout, "request timeout")
	states := fs.String("state", "", "only transactions in these states (comma-separated: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("txn list takes no arguments — use `strom txn describe %s` for details", strings.Join(pos, " "))
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	var filter []string
	if *states != "" {
		filter = strings.Split(*states, ",")
	}
	ls, err := adm.ListTransactions(ctx, nil, filter)
	if err != nil {
		return o.wrap(err)
	}
	out := []txnListed{}
	for _, t := range ls.Sorted() {
		out = append(out, txnListed{TransactionalID: t.TxnID, State: t.State, ProducerID: t.ProducerID, Coordinator: t.Coordinator})
	}
	if o.json {
		return writeJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSACTIONAL-ID\tSTATE\tPRODUCER-ID\tCOORDINATOR")
	for _, t := range out {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", t.TransactionalID, t.State, t.ProducerID, t.Coordinator)
	}
	return tw.Flush()
}

type txnDescribed struct {
	TransactionalID string             `json:"transactional_id"`
	Coordinator     int32              `json:"coordinator"`
	State           string             `json:"state"`
	ProducerID      int64              `json:"producer_id"`
	ProducerEpoch   int16              `json:"producer_epoch"`
	TimeoutMillis   int32              `json:"timeout_ms"`
	StartTimestamp  int64              `json:"start_timestamp"`
	Partitions      map[string][]int32 `json:"partitions"`
}

// txnDescribe is kafka-transactions.sh describe: the state of each id.
func txnDescribe(e *env, args []string) error {
	fs, o := newFlags(e, "txn describe", "txn describe TRANSACTIONAL-ID...", adminTimeout, "request timeout")
	ids, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return usageErr("txn describe needs a transactional id — list them with `strom txn list`")
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	ds, err := adm.DescribeTransactions(ctx, ids...)
	if err != nil {
		return o.wrap(err)
	}
	out := make([]txnDescribed, 0, len(ids))
	for _, id := range ids {
		d, ok := ds[id]
		if !ok {
			return fmt.Errorf("transactional id %q: %w", id, kerr.TransactionalIDNotFound)
		}
		if d.Err != nil {
			return fmt.Errorf("transactional id %q: %w", id, o.wrap(d.Err))
		}
		td := txnDescribed{TransactionalID: id, Coordinator: d.Coordinator, State: d.State, ProducerID: d.ProducerID,
			ProducerEpoch: d.ProducerEpoch, TimeoutMillis: d.TimeoutMillis, StartTimestamp: d.StartTimestamp, Partitions: map[string][]int32{}}
		for topic, ps := range d.Topics {
			for p := range ps {
				td.Partitions[topic] = append(td.Partitions[topic], p)
			}
		}
		out = append(out, td)
	}
	if o.json {
		return writeJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSACTIONAL-ID\tCOORDINATOR\tSTATE\tPRODUCER-ID\tEPOCH\tTIMEOUT-MS\tSTART\tPARTITIONS")
	for _, t := range out {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%v\n", t.TransactionalID, t.Coordinator, t.State, t.ProducerID,
			t.ProducerEpoch, t.TimeoutMillis, t.StartTimestamp, t.Partitions)
	}
	return tw.Flush()
}

type txnProducer struct {
	Topic          string `json:"topic"`
	Partition      int32  `json:"partition"`
	ProducerID     int64  `json:"producer_id"`
	ProducerEpoch  int16  `json:"producer_epoch"`
	LastSequence   int32  `json:"last_sequence"`
	TxnStartOffset int64  `json:"current_transaction_start_offset"`
}

// txnProducers is kafka-transactions.sh describe-producers: the producers
// each partition of the topics tracks (DescribeProducers), with the start
// of their open transaction (-1: none).
func txnProducers(e *env, args []string) error {
	fs, o := newFlags(e, "txn producers", "txn producers TOPIC...", adminTimeout, "request timeout")
	topics, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(topics) == 0 {
		return usageErr("txn producers needs a topic — list them with `strom topic list`")
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return o.wrap(err)
	}
	set := kadm.TopicsSet{}
	for _, t := range md.Topics.Sorted() {
		if t.Err != nil {
			return fmt.Errorf("topic %s: %w", t.Topic, o.wrap(t.Err))
		}
		for p := range t.Partitions {
			set.Add(t.Topic, p)
		}
	}
	ds, err := adm.DescribeProducers(ctx, set)
	if err != nil {
		return o.wrap(err)
	}
	out := []txnProducer{}
	for _, p := range ds.SortedProducers() {
		out = append(out, txnProducer{Topic: p.Topic, Partition: p.Partition, ProducerID: p.ProducerID,
			ProducerEpoch: p.ProducerEpoch, LastSequence: p.LastSequence, TxnStartOffset: p.CurrentTxnStartOffset})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	if o.json {
		return writeJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tPRODUCER-ID\tEPOCH\tLAST-SEQUENCE\tTXN-START-OFFSET")
	for _, p := range out {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", p.Topic, p.Partition, p.ProducerID, p.ProducerEpoch, p.LastSequence, p.TxnStartOffset)
	}
	return tw.Flush()
}
