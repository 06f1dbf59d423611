package wire

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzDecodeRequest from seedRequests")

const seedDir = "testdata/fuzz/FuzzDecodeRequest"

// recordBatch builds a v2 record batch of n records with valueSize-byte
// values, with correct length and CRC-32C, as a producer would send it.
func recordBatch(n, valueSize int) []byte {
	var records []byte
	for i := range n {
		r := kmsg.Record{OffsetDelta: int32(i), Key: []byte(fmt.Sprintf("k%d", i)), Value: bytes.Repeat([]byte{byte('a' + i%26)}, valueSize)}
		enc := r.AppendTo(nil)[1:] // drop the 1-byte varint Length 0
		records = kbin.AppendVarint(records, int32(len(enc)))
		records = append(records, enc...)
	}
	b := kmsg.RecordBatch{
		Magic:           2,
		LastOffsetDelta: int32(n - 1),
		FirstTimestamp:  1700000000000,
		MaxTimestamp:    1700000000000,
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      int32(n),
		Records:         records,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// produceRequest is a one-topic, one-partition Produce carrying batch.
func produceRequest(version int16, batch []byte) *kmsg.ProduceRequest {
	p := kmsg.NewPtrProduceRequest()
	p.SetVersion(version)
	p.Acks = -1
	p.TimeoutMillis = 30000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "orders"
	t.TopicID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	pt := kmsg.NewProduceRequestTopicPartition()
	pt.Partition = 3
	pt.Records = batch
	t.Partitions = append(t.Partitions, pt)
	p.Topics = append(p.Topics, t)
	return p
}

// seedRequests returns the requests (header and body, no size prefix)
// checked in as the FuzzDecodeRequest seed corpus: several keys, old and
// flexible versions, plus an unsupported version and an unknown key.
func seedRequests() map[string][]byte {
	seeds := map[string][]byte{}
	add := func(name string, req kmsg.Request, version int16) {
		req.SetVersion(version)
		seeds[name] = appendRequest(nil, 17, "seed-client", req)[4:]
	}

	av := kmsg.NewPtrApiVersionsRequest()
	av.ClientSoftwareName, av.ClientSoftwareVersion = "franz-go", "1.22.3"
	add("apiversions-v0", av, 0)
	add("apiversions-v3", av, 3)
	add("apiversions-v4", av, 4)

	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	name := "orders"
	mt.Topic = &name
	md.Topics = append(md.Topics, mt)
	md.AllowAutoTopicCreation = true
	add("metadata-v1", md, 1)
	add("metadata-v9", md, 9)
	add("metadata-v12", md, 12)

	batch := recordBatch(3, 20)
	add("produce-v3", produceRequest(3, batch), 3)
	add("produce-v9", produceRequest(9, batch), 9)
	add("produce-v13", produceRequest(13, batch), 13)

	f := kmsg.NewPtrFetchRequest()
	f.MaxWaitMillis, f.MinBytes, f.MaxBytes = 500, 1, 50<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "orders"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = 3, 42, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	f.Topics = append(f.Topics, ft)
	add("fetch-v4", f, 4)
	add("fetch-v11", f, 11)
	add("fetch-v13", f, 13)

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "group-a"
	fc.CoordinatorKeys = []string{"group-a", "group-b"}
	add("findcoordinator-v2", fc, 2)
	add("findcoordinator-v4", fc, 4)

	jg := kmsg.NewPtrJoinGroupRequest()
	jg.Group, jg.ProtocolType, jg.SessionTimeoutMillis, jg.RebalanceTimeoutMillis = "group-a", "consumer", 45000, 60000
	jp := kmsg.NewJoinGroupRequestProtocol()
	jp.Name, jp.Metadata = "range", []byte{0, 1, 0, 0, 0, 1, 0, 6, 'o', 'r', 'd', 'e', 'r', 's'}
	jg.Protocols = append(jg.Protocols, jp)
	add("joingroup-v5", jg, 5)
	add("joingroup-v9", jg, 9)

	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.Generation, oc.MemberID = "group-a", 3, "member-1"
	oct := kmsg.NewOffsetCommitRequestTopic()
	oct.Topic = "orders"
	ocp := kmsg.NewOffsetCommitRequestTopicPartition()
	ocp.Partition, ocp.Offset = 3, 42
	oct.Partitions = append(oct.Partitions, ocp)
	oc.Topics = append(oc.Topics, oct)
	add("offsetcommit-v2", oc, 2)
	add("offsetcommit-v8", oc, 8)

	lo := kmsg.NewPtrListOffsetsRequest()
	lot := kmsg.NewListOffsetsRequestTopic()
	lot.Topic = "orders"
	lop := kmsg.NewListOffsetsRequestTopicPartition()
	lop.Partition, lop.Timestamp = 3, -1
	lot.Partitions = append(lot.Partitions, lop)
	lo.Topics = append(lo.Topics, lot)
	add("listoffsets-v1", lo, 1)
	add("listoffsets-v7", lo, 7)

	ip := kmsg.NewPtrInitProducerIDRequest()
	add("initproducerid-v4", ip, 4)

	ct := kmsg.NewPtrCreateTopicsRequest()
	ctt := kmsg.NewCreateTopicsRequestTopic()
	ctt.Topic, ctt.NumPartitions, ctt.ReplicationFactor = "orders", 6, 3
	cfgName, cfgValue := "retention.ms", "86400000"
	cc := kmsg.NewCreateTopicsRequestTopicConfig()
	cc.Name, cc.Value = cfgName, &cfgValue
	ctt.Configs = append(ctt.Configs, cc)
	ct.Topics = append(ct.Topics, ctt)
	add("createtopics-v5", ct, 5)

	// Header-only oddities: a null client id, an unknown key.
	nullID := kbin.AppendInt16(nil, 18)
	nullID = kbin.AppendInt16(nullID, 0)
	nullID = kbin.AppendInt32(nullID, 5)
	seeds["apiversions-v0-null-clientid"] = kbin.AppendInt16(nullID, -1)
	unknown := kbin.AppendInt16(nil, 999)
	unknown = kbin.AppendInt16(unknown, 0)
	unknown = kbin.AppendInt32(unknown, 5)
	seeds["unknown-key"] = kbin.AppendString(unknown, "x")
	return seeds
}

// corpusFile is the `go test fuzz v1` encoding of one []byte input.
func corpusFile(data []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
}

// TestFuzzSeedCorpus checks that the committed seed corpus matches
// seedRequests (run with -update-seeds to rewrite it) and that every seed
// other than the deliberate failures decodes.
func TestFuzzSeedCorpus(t *testing.T) {
	seeds := seedRequests()
	if *updateSeeds {
		if err := os.MkdirAll(seedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range seeds {
			if err := os.WriteFile(filepath.Join(seedDir, name), corpusFile(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, data := range seeds {
		got, err := os.ReadFile(filepath.Join(seedDir, name))
		if err != nil {
			t.Fatalf("seed %s: %v (run go test ./wire -run TestFuzzSeedCorpus -update-seeds)", name, err)
		}
		if !bytes.Equal(got, corpusFile(data)) {
			t.Fatalf("seed %s is stale (run go test ./wire -run TestFuzzSeedCorpus -update-seeds)", name)
		}
		req, err := decodeRequest(data, nil)
		switch name {
		case "unknown-key":
			if err == nil {
				t.Fatalf("seed %s decoded", name)
			}
		case "apiversions-v0-null-clientid":
			if err != nil || req.ClientID != "" {
				t.Fatalf("seed %s: %v, client id %q", name, err, req.ClientID)
			}
		default:
			if err != nil || req.CorrelationID != 17 || req.ClientID != "seed-client" {
				t.Fatalf("seed %s: %v, %+v", name, err, req)
			}
		}
	}
}
