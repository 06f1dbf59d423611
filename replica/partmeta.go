package replica

import (
	"bufio"
	"bytes"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/strombroker/strom/storage"
)

// Topic ids in partition directories (Kafka's KIP-516 partition.metadata).
//
// A partition directory is named by topic name and index only, and names
// outlive deletes: a topic deleted and recreated while a replica was down,
// or between two metadata passes, finds the old incarnation's log under the
// same name. Each directory therefore records the id of the topic it
// belongs to, and a directory recording another id is never served: it is
// moved aside as <topic>-<partition>.<hex>-stray and a fresh empty log
// takes its place (the replica then catches up from its leader).

// PartitionMetadataFile is the name of the file in each partition directory
// that records its topic id, in Kafka's format:
//
//	version: 0
//	topic_id: <the 16-byte id, unpadded base64url, as Kafka prints a Uuid>
const PartitionMetadataFile = "partition.metadata"

// StraySuffix and deleteSuffix end the names of partition directories moved
// aside: "-stray" (another incarnation's log, kept for the operator to
// inspect or delete) and "-delete" (a removed replica whose files are being
// deleted; removed again at the next start if a crash interrupted that).
// Neither is ever opened as a partition: a partition directory's name ends
// in "-<index>".
const (
	StraySuffix  = "-stray"
	deleteSuffix = "-delete"
)

// errBadPartitionMetadata: a partition.metadata file that does not parse.
var errBadPartitionMetadata = errors.New("replica: malformed partition.metadata")

// formatPartitionMetadata renders the file's content for id.
func formatPartitionMetadata(id [16]byte) []byte {
	return []byte("version: 0\ntopic_id: " + base64.RawURLEncoding.EncodeToString(id[:]) + "\n")
}

// parsePartitionMetadata reads the file's content. Kafka's reader accepts
// exactly the two "key: value" lines; so does this one (blank lines and
// surrounding spaces aside).
func parsePartitionMetadata(b []byte) ([16]byte, error) {
	var id [16]byte
	var version, topicID string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		switch key, value = strings.TrimSpace(key), strings.TrimSpace(value); {
		case !ok:
			return id, fmt.Errorf("%w: line %q", errBadPartitionMetadata, line)
		case key == "version" && version == "":
			version = value
		case key == "topic_id" && topicID == "":
			topicID = value
		default:
			return id, fmt.Errorf("%w: unexpected key %q", errBadPartitionMetadata, key)
		}
	}
	if version != "0" {
		return id, fmt.Errorf("%w: version %q", errBadPartitionMetadata, version)
	}
	raw, err := base64.RawURLEncoding.DecodeString(topicID)
	if err != nil || len(raw) != len(id) {
		return id, fmt.Errorf("%w: topic id %q", errBadPartitionMetadata, topicID)
	}
	copy(id[:], raw)
	if id == ([16]byte{}) {
		return id, fmt.Errorf("%w: zero topic id", errBadPartitionMetadata)
	}
	return id, nil
}

// readPartitionMetadata returns the topic id recorded in dir. ok is false
// when there is no file (a new directory, or one from before topic ids).
func readPartitionMetadata(dir string) (id [16]byte, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, PartitionMetadataFile))
	if errors.Is(err, fs.ErrNotExist) {
		return id, false, nil
	}
	if err != nil {
		return id, false, fmt.Errorf("replica: read %s: %w", PartitionMetadataFile, err)
	}
	id, err = parsePartitionMetadata(b)
	return id, err == nil, err
}

// writePartitionMetadata records id in dir durably (storage.WriteFileAtomic:
// temp file, fsync, rename, fsync the directory; storage.Open deletes a
// *.tmp left by a crash).
func writePartitionMetadata(dir string, id [16]byte) error {
	if err := storage.WriteFileAtomic(filepath.Join(dir, PartitionMetadataFile), formatPartitionMetadata(id)); err != nil {
		return fmt.Errorf("replica: write %s: %w", PartitionMetadataFile, err)
	}
	return nil
}

// moveAside renames the partition directory name under dataDir to
// name.<32 random hex digits><suffix>, durably, and returns the new path.
// Kafka names stray and deleted logs the same way.
func moveAside(dataDir, name, suffix string) (string, error) {
	var r [16]byte
	_, _ = crand.Read(r[:]) // never fails on supported platforms (Go 1.24+)
	to := filepath.Join(dataDir, name+"."+hex.EncodeToString(r[:])+suffix)
	if err := os.Rename(filepath.Join(dataDir, name), to); err != nil {
		return "", fmt.Errorf("replica: move %s aside: %w", name, err)
	}
	if err := storage.SyncDir(dataDir); err != nil {
		return "", fmt.Errorf("replica: move %s aside: %w", name, err)
	}
	return to, nil
}

// checkDirTopicID makes dir (the directory name under the data directory)
// safe to open as a replica of the topic with id: a directory recording
// another id, or a file that does not parse, is moved aside as stray (and
// logged). It reports whether partition.metadata must be written once the
// log is open (the directory is new, predates topic ids, or was moved aside).
func (m *Manager) checkDirTopicID(name string, id [16]byte) (write bool, err error) {
	dir := filepath.Join(m.cfg.DataDir, name)
	got, ok, err := readPartitionMetadata(dir)
	switch {
	case ok && got == id:
		return false, nil
	case !ok && err == nil:
		return true, nil
	case err != nil && !errors.Is(err, errBadPartitionMetadata):
		return false, err // an I/O error says nothing about whose log this is
	}
	to, merr := moveAside(m.cfg.DataDir, name, StraySuffix)
	if merr != nil {
		return false, merr
	}
	m.logger.Warn("partition directory belongs to another incarnation of the topic; moved aside, starting an empty log",
		"dir", name, "topic_id", base64.RawURLEncoding.EncodeToString(id[:]),
		"found_topic_id", base64.RawURLEncoding.EncodeToString(got[:]), "read_err", err, "moved_to", filepath.Base(to))
	return true, nil
}

// removeLeftovers deletes directories a crash left mid-deletion (named
// *-delete). Run once by NewManager, before any replica opens.
func removeLeftovers(dataDir string) error {
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return fmt.Errorf("replica: read data dir: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasSuffix(e.Name(), deleteSuffix) {
			if err := os.RemoveAll(filepath.Join(dataDir, e.Name())); err != nil {
				return fmt.Errorf("replica: remove %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

// checkTopicName refuses topic names that would not name a directory of
// their own under the data directory. The controller only admits Kafka's
// names ([a-zA-Z0-9._-]); this is the last line of defence against a name
// like "x/../orders" opening or deleting another topic's directory.
func checkTopicName(topic string) error {
	if topic == "" || topic == "." || topic == ".." || strings.ContainsAny(topic, "/\\\x00") {
		return fmt.Errorf("%w: %q", ErrInvalidTopic, topic)
	}
	return nil
}
