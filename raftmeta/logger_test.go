package raftmeta

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := newHCLogAdapter(base, "raft")

	l.Named("net").With("peer", "n2").Warn("dial failed", "servers", hclog.Fmt("%d-%s", 7, "x"))
	out := buf.String()
	for _, want := range []string{"level=WARN", `msg="dial failed"`, "logger=raft.net", "peer=n2", "servers=7-x"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in %q", want, out)
		}
	}

	buf.Reset()
	l.Trace("hidden")
	if buf.Len() != 0 || l.IsTrace() || !l.IsDebug() {
		t.Fatalf("trace should be filtered by the handler: %q trace=%v debug=%v", buf.String(), l.IsTrace(), l.IsDebug())
	}
	if got := l.GetLevel(); got != hclog.Debug {
		t.Fatalf("GetLevel = %v, want Debug", got)
	}

	l.SetLevel(hclog.Error)
	l.Warn("hidden too")
	l.Error("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "level=ERROR") {
		t.Fatalf("SetLevel not honoured: %q", out)
	}

	buf.Reset()
	l.SetLevel(hclog.NoLevel)
	l.StandardLogger(nil).Print("from std log")
	if !strings.Contains(buf.String(), "from std log") {
		t.Fatalf("StandardLogger output lost: %q", buf.String())
	}
	if l.ResetNamed("x").Name() != "x" || l.Named("y").Name() != "raft.y" {
		t.Fatal("naming wrong")
	}
}
