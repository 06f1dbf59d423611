package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// saslListenerRe finds the SASL listener's advertised address in the log.
var saslListenerRe = regexp.MustCompile(`msg="listening for Kafka clients" listener=SASL .*\badvertised=([^\s"]+)`)

// TestInteropFranzGoSCRAMSuite runs franz-go's own SASL/SCRAM integration
// tests (pkg/kgo TestSCRAMAuth and TestSCRAMAuthBadCredentials, which skip
// without a SASL listener) from the franz-go module this repository builds
// with, against a Strom broker with a PLAINTEXT listener (KGO_SEEDS) and a
// SASL_PLAINTEXT one (KGO_TEST_SCRAM_SEEDS), once per SCRAM mechanism. The
// SCRAM user is created with `strom user create` over PLAINTEXT, as Kafka
// users bootstrap. deploy/franzgo-sasl.sh does the same by hand.
func TestInteropFranzGoSCRAMSuite(t *testing.T) {
	b := startBroker(t, "--listen", "PLAINTEXT://127.0.0.1:0,SASL://127.0.0.1:0",
		"--listener-security-protocol-map", "PLAINTEXT:PLAINTEXT,SASL:SASL_PLAINTEXT",
		"--inter-broker-listener", "PLAINTEXT")
	var saslAddr string
	waitFor(t, 10*time.Second, "the SASL listener", func() error {
		if m := saslListenerRe.FindStringSubmatch(b.Logs()); m != nil {
			saslAddr = m[1]
			return nil
		}
		return fmt.Errorf("no SASL listener line yet")
	})
	runTool(t, 30*time.Second, nil, stromBin, "user", "create", "testuser", "--password", "testpass", "--brokers", b.Addr())

	dir := strings.TrimSpace(string(runTool(t, 60*time.Second, nil, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/twmb/franz-go")))
	if dir == "" {
		t.Fatal("franz-go module directory not found (go list -m)")
	}
	for _, alg := range []string{"256", "512"} {
		cmd := exec.CommandContext(testCtx(t, 5*time.Minute), "go", "test", "-count=1", "-v", "-run", "^TestSCRAM", "./pkg/kgo")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "KGO_SEEDS="+b.Addr(), "KGO_TEST_SCRAM_SEEDS="+saslAddr, "KGO_TEST_SCRAM=testuser:testpass:"+alg)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		text := out.String()
		for _, want := range []string{"--- PASS: TestSCRAMAuth ", "--- PASS: TestSCRAMAuthBadCredentials "} {
			if !strings.Contains(text, want) {
				t.Errorf("SCRAM-SHA-%s: franz-go's suite lacks %q", alg, strings.TrimSpace(want))
			}
		}
		if err != nil || strings.Contains(text, "--- SKIP") {
			t.Errorf("SCRAM-SHA-%s: go test in %s: %v", alg, dir, err)
		}
		if t.Failed() {
			t.Logf("franz-go output:\n%s", limitLines(text, 60))
		}
	}
}
