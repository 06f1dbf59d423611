package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// kcatMetadata is the part of `kcat -L -J` output the test checks.
type kcatMetadata struct {
	Brokers []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string `json:"topic"`
		Partitions []struct {
			Partition int32 `json:"partition"`
			Leader    int32 `json:"leader"`
		} `json:"partitions"`
		Error string `json:"error"`
	} `json:"topics"`
}

// kcatMessage is one line of `kcat -C -J` output.
type kcatMessage struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Payload   *string `json:"payload"`
}

// TestInteropKcatProduceListConsume runs the README's kcat lines: produce
// keyed records to a topic that does not exist yet (-P -K:), list metadata
// (-L, and -L -J parsed), then consume from the beginning and exit (-C -o
// beginning -e) and compare keys, values and offsets.
func TestInteropKcatProduceListConsume(t *testing.T) {
	requireTool(t, "kcat")
	b := startBroker(t)
	const topic = "kcat-test"
	input := "k1:hello\nk2:world\nk3:strom is kafka\n"
	runTool(t, 60*time.Second, []byte(input), "kcat", "-b", b.Addr(), "-t", topic, "-P", "-K:")

	text := string(runTool(t, 30*time.Second, nil, "kcat", "-b", b.Addr(), "-L"))
	if !strings.Contains(text, "broker 1 at "+b.Addr()) || !strings.Contains(text, `topic "`+topic+`" with 1 partitions`) {
		t.Fatalf("kcat -L does not list broker 1 at %s and topic %s with 1 partition:\n%s", b.Addr(), topic, text)
	}

	var md kcatMetadata
	decodeJSON(t, runTool(t, 30*time.Second, nil, "kcat", "-b", b.Addr(), "-L", "-J"), &md)
	if len(md.Brokers) != 1 || md.Brokers[0].ID != 1 || md.Brokers[0].Name != b.Addr() {
		t.Errorf("kcat -L -J brokers: got %+v, want [{1 %s}]", md.Brokers, b.Addr())
	}
	found := false
	for _, tp := range md.Topics {
		if tp.Topic != topic {
			continue
		}
		found = true
		if tp.Error != "" || len(tp.Partitions) != 1 || tp.Partitions[0].Leader != 1 {
			t.Errorf("kcat -L -J topic %s: got %+v, want 1 partition led by broker 1", topic, tp)
		}
	}
	if !found {
		t.Errorf("kcat -L -J does not list topic %s: %+v", topic, md.Topics)
	}

	out := runTool(t, 30*time.Second, nil, "kcat", "-b", b.Addr(), "-t", topic, "-C", "-o", "beginning", "-e", "-J")
	var got []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var m kcatMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("kcat -C -J line %q: %v", sc.Text(), err)
		}
		if m.Key == nil || m.Payload == nil {
			t.Fatalf("kcat -C -J: record without key or payload: %s", sc.Text())
		}
		got = append(got, fmt.Sprintf("%d/%d %s:%s", m.Partition, m.Offset, *m.Key, *m.Payload))
	}
	want := []string{"0/0 k1:hello", "0/1 k2:world", "0/2 k3:strom is kafka"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("kcat consumed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The same records through a different client.
	recs := consumeAll(t, b.Addr(), topic, 3)
	if string(recs[2].Key) != "k3" || string(recs[2].Value) != "strom is kafka" {
		t.Fatalf("franz-go read %q:%q at offset 2, want k3:strom is kafka", recs[2].Key, recs[2].Value)
	}
}
