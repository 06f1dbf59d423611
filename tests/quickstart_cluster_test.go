package tests

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestInteropClusterKafkaPythonQuickstart is the kafka-python README
// example, with kafka-python's default settings (retries=0), each time on a
// freshly started 3-broker cluster: the first send auto-creates topic "test"
// through Metadata, and must succeed although the partition's leader may be
// another broker that has only just learnt of the topic. Then the
// quickstart consumer reads the record back. STROM_QUICKSTART_RUNS sets the
// number of fresh clusters (default 3; the closing note of issue 8 used 50).
func TestInteropClusterKafkaPythonQuickstart(t *testing.T) {
	requireTool(t, "python:kafka")
	runs := 3
	if v := os.Getenv("STROM_QUICKSTART_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("STROM_QUICKSTART_RUNS=%q: want a positive count", v)
		}
		runs = n
	}
	failed := 0
	for i := range runs {
		t.Run(fmt.Sprintf("fresh-cluster-%d", i+1), func(t *testing.T) {
			c := startCluster(t, 3)
			defer c.stopAll()
			boot := c.broker(int32(i%3 + 1)).Addr() // one broker, as the quickstart does
			var sent struct {
				Sent []struct {
					Partition int32 `json:"partition"`
					Offset    int64 `json:"offset"`
				} `json:"sent"`
			}
			out, err := tryTool(t, 60*time.Second, nil, pythonBin, "python/kafka_python_client.py", "produce", boot, "test", "Hello World")
			if err != nil {
				failed++
				t.Fatalf("quickstart send on a fresh cluster: %v", err)
			}
			decodeJSON(t, out, &sent)
			if len(sent.Sent) != 1 || sent.Sent[0].Offset != 0 {
				t.Fatalf("kafka-python send: got %+v, want one record at offset 0", sent.Sent)
			}
			var got struct{ Records []pyRecord }
			decodeJSON(t, runPython(t, 60*time.Second, "kafka_python_client.py", "consume", boot, "test", "1"), &got)
			if len(got.Records) != 1 || got.Records[0].Value != "Hello World" {
				t.Fatalf("kafka-python consumer read %+v, want Hello World", got.Records)
			}
		})
	}
	t.Logf("kafka-python quickstart on fresh 3-broker clusters: %d of %d sends succeeded", runs-failed, runs)
}
