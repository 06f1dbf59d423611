package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/strombroker/strom/internal/cli"
)

// runCmd calls run with captured output.
func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-version"} {
		code, out, errOut := runCmd(arg)
		if code != 0 || out != "strom "+version+"\n" || errOut != "" {
			t.Fatalf("%s: code %d stdout %q stderr %q", arg, code, out, errOut)
		}
	}
}

func TestRunHelp(t *testing.T) {
	code, out, _ := runCmd("help")
	if code != 0 {
		t.Fatalf("help: code %d", code)
	}
	for _, want := range append([]string{"strom broker", "strom version"}, cli.Commands()...) {
		if !strings.Contains(out, want) {
			t.Errorf("help output lacks %q", want)
		}
	}
}

func TestRunUnknownCommand(t *testing.T) {
	code, out, errOut := runCmd("frobnicate", "--x")
	if code != 2 {
		t.Fatalf("unknown command: code %d, want 2", code)
	}
	if out != "" {
		t.Fatalf("unknown command wrote to stdout: %q", out)
	}
	if !strings.Contains(errOut, `unknown command "frobnicate"`) || !strings.Contains(errOut, "Usage:") {
		t.Fatalf("stderr %q", errOut)
	}

	// No command at all: usage on stderr, exit 2.
	code, out, errOut = runCmd()
	if code != 2 || out != "" || !strings.Contains(errOut, "Usage:") {
		t.Fatalf("no command: code %d stdout %q stderr %q", code, out, errOut)
	}
}

func TestRunBrokerBadFlags(t *testing.T) {
	// Bad configuration exits 2 before anything is started.
	code, _, errOut := runCmd("broker", "--num-partitions", "zero")
	if code != 2 || !strings.Contains(errOut, "--num-partitions") {
		t.Fatalf("bad flag: code %d stderr %q", code, errOut)
	}
	code, _, errOut = runCmd("broker", "--help")
	if code != 0 || !strings.Contains(errOut, "Usage: strom broker") {
		t.Fatalf("broker --help: code %d stderr %q", code, errOut)
	}
}

func TestParseLevel(t *testing.T) {
	for _, s := range []string{"debug", "INFO", "warn", "error"} {
		if _, err := parseLevel(s); err != nil {
			t.Errorf("parseLevel(%q): %v", s, err)
		}
	}
	if _, err := parseLevel("loud"); err == nil {
		t.Error("parseLevel(loud) accepted")
	}
}
