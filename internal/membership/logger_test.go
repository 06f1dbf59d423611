package membership

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestParseMemberlistLine(t *testing.T) {
	for _, tc := range []struct {
		in    string
		level slog.Level
		msg   string
	}{
		{"[DEBUG] memberlist: Stream connection from=1.2.3.4:5\n", slog.LevelDebug, "Stream connection from=1.2.3.4:5"},
		{"[INFO] memberlist: Updating address\n", slog.LevelInfo, "Updating address"},
		{"[WARN] memberlist: Refuting a dead message\n", slog.LevelWarn, "Refuting a dead message"},
		{"[ERR] memberlist: Failed push/pull merge: x\n", slog.LevelError, "Failed push/pull merge: x"},
		{"[ERROR] memberlist: bad\n", slog.LevelError, "bad"},
		{"[ERR] Failed to shutdown transport: x\n", slog.LevelError, "Failed to shutdown transport: x"},
		{"no prefix at all\n", slog.LevelInfo, "no prefix at all"},
		{"[odd] memberlist: kept\n", slog.LevelInfo, "[odd] memberlist: kept"},
		{"[", slog.LevelInfo, "["},
		{"", slog.LevelInfo, ""},
	} {
		level, msg := parseMemberlistLine(tc.in)
		if level != tc.level || msg != tc.msg {
			t.Errorf("parse(%q) = %v %q, want %v %q", tc.in, level, msg, tc.level, tc.msg)
		}
	}
}

// TestStdLoggerLevels checks that memberlist's log.Logger lands in slog at
// the line's level and that the handler's level filter applies.
func TestStdLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	std := newStdLogger(l)
	std.Printf("[DEBUG] memberlist: hidden %d", 1)
	std.Printf("[WARN] memberlist: shown %d", 2)
	std.Printf("[ERR] memberlist: broken %s", "pipe")
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Errorf("debug line passed an info filter:\n%s", out)
	}
	for _, want := range []string{`level=WARN msg="shown 2" logger=memberlist`, `level=ERROR msg="broken pipe" logger=memberlist`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
