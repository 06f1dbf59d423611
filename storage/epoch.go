package storage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// epochEntry says that leader epoch `epoch` wrote its first batch at `start`.
type epochEntry struct {
	epoch int32
	start int64
}

// epochCache is Kafka's LeaderEpochFileCache: a list of (epoch, start offset)
// with strictly increasing epochs and non-decreasing start offsets,
// checkpointed to leader-epoch-checkpoint whenever it changes (rarely: once
// per leader change). Guarded by Log.mu.
type epochCache struct {
	path    string
	entries []epochEntry
}

// assign records that epoch starts at start. It returns whether the cache
// changed. Older or equal epochs are ignored (the first offset of an epoch
// wins); entries that would start at or after start are dropped first.
func (c *epochCache) assign(epoch int32, start int64) bool {
	if epoch < 0 {
		return false
	}
	if n := len(c.entries); n > 0 && epoch <= c.entries[n-1].epoch {
		return false
	}
	for len(c.entries) > 0 && c.entries[len(c.entries)-1].start >= start {
		c.entries = c.entries[:len(c.entries)-1]
	}
	c.entries = append(c.entries, epochEntry{epoch, start})
	return true
}

// truncateFromEnd drops epochs starting at or after end (log truncation).
func (c *epochCache) truncateFromEnd(end int64) bool {
	n := len(c.entries)
	for n > 0 && c.entries[n-1].start >= end {
		n--
	}
	changed := n != len(c.entries)
	c.entries = c.entries[:n]
	return changed
}

// truncateFromStart forgets epochs that ended before start, and moves the
// start of the epoch containing start up to it (log start moved).
func (c *epochCache) truncateFromStart(start int64) bool {
	i := 0
	for i+1 < len(c.entries) && c.entries[i+1].start <= start {
		i++
	}
	changed := i > 0
	c.entries = c.entries[i:]
	if len(c.entries) > 0 && c.entries[0].start < start {
		c.entries[0].start = start
		changed = true
	}
	return changed
}

// endOffsetFor answers OffsetForLeaderEpoch like Kafka's
// LeaderEpochFileCache.endOffsetFor: for the latest epoch (or any later one)
// the log end offset; otherwise the largest epoch <= epoch and the start of
// the next epoch. An epoch older than every entry yields (epoch, start of the
// first entry), so a follower truncates to where the leader's history begins.
func (c *epochCache) endOffsetFor(epoch int32, logEnd int64) (int32, int64) {
	n := len(c.entries)
	if epoch < 0 || n == 0 {
		return -1, -1
	}
	if epoch >= c.entries[n-1].epoch {
		return c.entries[n-1].epoch, logEnd
	}
	i := 0
	for i < n && c.entries[i].epoch <= epoch {
		i++
	}
	// entries[i] is the first epoch > epoch; it exists since epoch < latest.
	if i == 0 {
		return epoch, c.entries[0].start
	}
	return c.entries[i-1].epoch, c.entries[i].start
}

func (c *epochCache) latest() int32 {
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].epoch
}

// Checkpoint files use Kafka's text format: a version line (0), a count
// line, then one entry per line with space-separated fields.
func encodeCheckpoint(lines []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", checkpointFormat, len(lines))
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// readCheckpoint returns the entry lines, nil if the file does not exist.
func readCheckpoint(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, ioErr("read checkpoint", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var lines []string
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	bad := fmt.Errorf("%w: malformed checkpoint %s", ErrStorage, path)
	if len(lines) < 2 || lines[0] != strconv.Itoa(checkpointFormat) {
		return nil, bad
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n != len(lines)-2 {
		return nil, bad
	}
	return lines[2:], nil
}

func (c *epochCache) load() error {
	lines, err := readCheckpoint(c.path)
	if err != nil {
		return err
	}
	c.entries = c.entries[:0]
	for _, l := range lines {
		var e epochEntry
		if _, err := fmt.Sscanf(l, "%d %d", &e.epoch, &e.start); err != nil {
			return fmt.Errorf("%w: malformed epoch entry %q in %s", ErrStorage, l, c.path)
		}
		c.assign(e.epoch, e.start)
	}
	return nil
}

func (c *epochCache) persist() error {
	lines := make([]string, len(c.entries))
	for i, e := range c.entries {
		lines[i] = fmt.Sprintf("%d %d", e.epoch, e.start)
	}
	if err := writeFileAtomic(c.path, encodeCheckpoint(lines)); err != nil {
		return ioErr("write epoch checkpoint", err)
	}
	return nil
}

// readStartCheckpoint returns the persisted log start offset, -1 if none.
func readStartCheckpoint(path string) (int64, error) {
	lines, err := readCheckpoint(path)
	if err != nil || lines == nil {
		return -1, err
	}
	if len(lines) != 1 {
		return -1, fmt.Errorf("%w: malformed checkpoint %s", ErrStorage, path)
	}
	off, err := strconv.ParseInt(lines[0], 10, 64)
	if err != nil || off < 0 {
		return -1, fmt.Errorf("%w: malformed checkpoint %s", ErrStorage, path)
	}
	return off, nil
}

func writeStartCheckpoint(path string, off int64) error {
	if err := writeFileAtomic(path, encodeCheckpoint([]string{strconv.FormatInt(off, 10)})); err != nil {
		return ioErr("write log start checkpoint", err)
	}
	return nil
}

func writeRecoveryCheckpoint(path string, off int64) error {
	if err := writeFileAtomic(path, encodeCheckpoint([]string{strconv.FormatInt(off, 10)})); err != nil {
		return ioErr("write recovery point checkpoint", err)
	}
	return nil
}
