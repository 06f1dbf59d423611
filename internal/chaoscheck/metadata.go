package chaoscheck

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// PartitionState is one partition as one broker's Metadata answer shows it.
type PartitionState struct {
	Leader   int32
	Epoch    int32
	Replicas []int32
	ISR      []int32
	Err      error
}

// MetadataFrom asks broker id, and only it, for topic's metadata and the
// controller id it knows of: during a fault the brokers disagree, and a
// chaos test wants each one's view rather than whichever the client picks.
// parts is indexed by partition.
func MetadataFrom(ctx context.Context, cl *kgo.Client, id int32, topic string) (controller int32, parts []PartitionState, err error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.Broker(int(id)))
	if err != nil {
		return -1, nil, fmt.Errorf("broker %d: %w", id, err)
	}
	if len(resp.Topics) != 1 {
		return -1, nil, fmt.Errorf("broker %d: metadata has %d topics", id, len(resp.Topics))
	}
	mt := resp.Topics[0]
	if err := kerr.ErrorForCode(mt.ErrorCode); err != nil {
		return resp.ControllerID, nil, fmt.Errorf("broker %d: topic %s: %w", id, topic, err)
	}
	parts = make([]PartitionState, len(mt.Partitions))
	for _, p := range mt.Partitions {
		if p.Partition < 0 || int(p.Partition) >= len(parts) {
			return -1, nil, fmt.Errorf("broker %d: partition %d out of range", id, p.Partition)
		}
		parts[p.Partition] = PartitionState{Leader: p.Leader, Epoch: p.LeaderEpoch, Replicas: p.Replicas, ISR: p.ISR,
			Err: kerr.ErrorForCode(p.ErrorCode)}
	}
	return resp.ControllerID, parts, nil
}

// FullISR is nil once each broker of ask answers Metadata with all
// partitions of topic led and clusterSize brokers in every ISR: the settled
// state a chaos test waits for after a fault, before it checks the log. Each
// broker gets 3s to answer.
func FullISR(ctx context.Context, cl *kgo.Client, topic string, partitions int, ask []int32, clusterSize int) error {
	for _, id := range ask {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, parts, err := MetadataFrom(rctx, cl, id, topic)
		cancel()
		if err != nil {
			return err
		}
		if len(parts) != partitions {
			return fmt.Errorf("broker %d: %d partitions, want %d", id, len(parts), partitions)
		}
		for p, ps := range parts {
			if ps.Err != nil || ps.Leader < 1 || len(ps.ISR) != clusterSize {
				return fmt.Errorf("broker %d: partition %d: leader %d ISR %v err %v", id, p, ps.Leader, ps.ISR, ps.Err)
			}
		}
	}
	return nil
}
