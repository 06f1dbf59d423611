package replica

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// hwCheckpointFile holds a partition's high watermark (Kafka's
// replication-offset-checkpoint, one file per partition here). Without it a
// restarted replica would take its whole log as committed: leading again
// before its followers caught up, it would show consumers records that a
// later leader, elected from the ISR, does not have — one offset, two values.
const hwCheckpointFile = "high-watermark-checkpoint"

// readHWCheckpoint returns the checkpointed high watermark of the partition
// in dir; ok is false when there is none (a new partition, or one written
// by a version without checkpoints).
func readHWCheckpoint(dir string) (hw int64, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, hwCheckpointFile))
	if err != nil {
		return 0, false
	}
	hw, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || hw < 0 {
		return 0, false
	}
	return hw, true
}

// checkpointHW writes the current high watermark if it moved since the last
// write. It replaces the file atomically (write, then rename); a lost or
// stale checkpoint only makes the next start more conservative.
func (p *Partition) checkpointHW() error {
	hw := p.hw.Load()
	if hw == p.hwCheckpointed.Load() {
		return nil
	}
	dir := p.log.Dir()
	tmp := filepath.Join(dir, hwCheckpointFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(hw, 10)+"\n"), 0o644); err != nil {
		return fmt.Errorf("replica: write high watermark checkpoint: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, hwCheckpointFile)); err != nil {
		return fmt.Errorf("replica: write high watermark checkpoint: %w", err)
	}
	p.hwCheckpointed.Store(hw)
	return nil
}
