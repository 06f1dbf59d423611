package membership

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// newStdLogger returns the *log.Logger memberlist wants, writing each line to
// l at the level memberlist put in its "[LEVEL]" prefix, so gossip lines get
// the broker's handler, format and level filter.
func newStdLogger(l *slog.Logger) *log.Logger {
	return log.New(slogWriter{l: l.With("logger", "memberlist")}, "", 0)
}

// slogWriter receives one memberlist line per Write (log.Logger guarantees
// that) and is safe for concurrent use.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	level, msg := parseMemberlistLine(string(p))
	if ctx := context.Background(); w.l.Enabled(ctx, level) {
		w.l.Log(ctx, level, msg)
	}
	return len(p), nil
}

// parseMemberlistLine splits "[WARN] memberlist: text\n" into a level and
// "text". Lines without a known prefix are logged at Info as they are.
func parseMemberlistLine(line string) (slog.Level, string) {
	line = strings.TrimRight(line, "\r\n")
	level := slog.LevelInfo
	if rest, ok := strings.CutPrefix(line, "["); ok {
		if tag, text, ok := strings.Cut(rest, "]"); ok {
			known := true
			switch tag {
			case "TRACE", "DEBUG":
				level = slog.LevelDebug
			case "INFO":
				level = slog.LevelInfo
			case "WARN":
				level = slog.LevelWarn
			case "ERR", "ERROR":
				level = slog.LevelError
			default:
				known = false
			}
			if known {
				line = strings.TrimSpace(text)
			}
		}
	}
	return level, strings.TrimPrefix(line, "memberlist: ")
}
