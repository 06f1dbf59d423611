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
// write, durably: a temporary file is written and fsynced, renamed over the
// checkpoint, and the directory fsynced, so that after a power loss the
// checkpoint is the old value or the new one, never empty or torn. A lost
// or stale checkpoint only makes the next start more conservative.
func (p *Partition) checkpointHW() error {
	hw := p.hw.Load()
	if hw == p.hwCheckpointed.Load() {
		return nil
	}
	if err := writeHWCheckpoint(p.log.Dir(), hw, p.fsync); err != nil {
		return fmt.Errorf("replica: write high watermark checkpoint: %w", err)
	}
	p.hwCheckpointed.Store(hw)
	return nil
}

// writeHWCheckpoint replaces the checkpoint in dir with hw, calling fsync on
// the temporary file and then on the directory.
func writeHWCheckpoint(dir string, hw int64, fsync func(*os.File) error) error {
	tmp := filepath.Join(dir, hwCheckpointFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.FormatInt(hw, 10) + "\n")
	if err == nil {
		err = fsync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, hwCheckpointFile))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = fsync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
