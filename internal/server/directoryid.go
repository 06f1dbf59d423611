package server

import (
	crand "crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// directoryIDFile holds the data directory's id (Kafka's meta.properties
// directory.id, KIP-858): a random UUID drawn when the directory is first
// used, written in Kafka's text form (URL-safe base64, no padding). A
// replaced, empty disk gets a new id, which is how KRaft (KIP-853) tells a
// voter that lost its log from the one that had it: AddRaftVoter and
// RemoveRaftVoter name a voter by node id and directory id, and
// DescribeQuorum reports both.
const directoryIDFile = "directory.id"

// loadDirectoryID returns dir's id, creating and syncing it on first use. A
// file that does not hold a valid id is an error, never silently replaced:
// the id is an identity.
func loadDirectoryID(dir string) ([16]byte, error) {
	var id [16]byte
	path := filepath.Join(dir, directoryIDFile)
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		b, derr := base64.RawURLEncoding.DecodeString(strings.TrimSpace(string(raw)))
		if derr != nil || len(b) != 16 || reservedDirectoryID([16]byte(b)) {
			return id, fmt.Errorf("%s does not hold a directory id: %q", path, raw)
		}
		return [16]byte(b), nil
	case !errors.Is(err, fs.ErrNotExist):
		return id, err
	}
	for reservedDirectoryID(id) {
		if _, err := crand.Read(id[:]); err != nil {
			return id, err
		}
	}
	if err := writeFileSync(path, []byte(formatTopicID(id)+"\n")); err != nil {
		return id, fmt.Errorf("write %s: %w", path, err)
	}
	return id, nil
}

// reservedDirectoryID reports Kafka's reserved directory ids: the first 100
// (UNASSIGNED, LOST, MIGRATING, ...), whose first 15 bytes are zero.
func reservedDirectoryID(id [16]byte) bool {
	for _, b := range id[:15] {
		if b != 0 {
			return false
		}
	}
	return id[15] < 100
}

// writeFileSync writes path through a synced temporary file and a rename,
// then syncs the directory, so a crash leaves either no file or all of it.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
