package membership

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/memberlist"
)

// Listener is one named endpoint a broker advertises to clients and peers
// (same shape as raftmeta.Listener; this package imports nothing internal).
type Listener struct {
	Name string `json:"n"` // e.g. PLAINTEXT, INTERNAL, EXTERNAL
	Host string `json:"h"`
	Port int32  `json:"p"`
}

// Meta is what a broker tells every other broker about itself through gossip:
// enough for the controller to register it (raftmeta.Broker) and dial its
// Raft transport. It travels in every memberlist alive message, so it must
// encode to at most memberlist.MetaMaxSize (512) bytes; the JSON keys are one
// or two letters to leave the room to the values. Add fields only with short
// keys and omitempty: an older broker ignores keys it does not know.
type Meta struct {
	NodeID    int32      `json:"id"`
	Listeners []Listener `json:"l,omitempty"`
	RaftAddr  string     `json:"ra,omitempty"`
	Rack      string     `json:"rk,omitempty"`
	Version   string     `json:"v,omitempty"`
	// HasState is true once this broker belongs to a controller quorum
	// (raftmeta Node.HasState): a starting broker never founds a new
	// cluster next to a peer that reports it.
	HasState bool `json:"hs,omitempty"`
}

// clone returns a copy that shares no memory with m, so values handed to
// callers cannot alias the table.
func (m Meta) clone() Meta {
	m.Listeners = slices.Clone(m.Listeners)
	return m
}

// encodeMeta encodes m for memberlist, refusing anything over the limit with
// an error that says which fields take the room.
func encodeMeta(m Meta) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil { // only plain strings and ints: cannot happen
		return nil, fmt.Errorf("%w: %v", ErrInvalidMeta, err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, memberlist allows %d; biggest fields: %s",
			ErrMetaTooLarge, len(b), memberlist.MetaMaxSize, metaFieldSizes(m))
	}
	return b, nil
}

// metaFieldSizes lists the encoded size of each field, largest first, for the
// "too large" error.
func metaFieldSizes(m Meta) string {
	type part struct {
		name string
		n    int
	}
	size := func(v any) int { b, _ := json.Marshal(v); return len(b) }
	parts := []part{
		{"listeners (" + strconv.Itoa(len(m.Listeners)) + ")", size(m.Listeners)},
		{"raft address", size(m.RaftAddr)},
		{"rack", size(m.Rack)},
		{"version", size(m.Version)},
	}
	slices.SortStableFunc(parts, func(a, b part) int { return cmp.Compare(b.n, a.n) })
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = fmt.Sprintf("%s %d bytes", p.name, p.n)
	}
	return strings.Join(out, ", ")
}

// decodeMeta decodes gossiped meta. Peers are not trusted: anything that is
// not a JSON object with a non-negative node id is refused.
func decodeMeta(b []byte) (Meta, error) {
	var w struct {
		ID *int32 `json:"id"` // shadows Meta.NodeID, so a missing id is seen
		Meta
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return Meta{}, fmt.Errorf("%w: %v", ErrInvalidMeta, err)
	}
	if w.ID == nil || *w.ID < 0 {
		return Meta{}, fmt.Errorf("%w: missing or negative node id in %.64q", ErrInvalidMeta, b)
	}
	m := w.Meta
	m.NodeID = *w.ID
	return m, nil
}

// nodeName is the memberlist node name for a node id. memberlist detects two
// processes using one name, so deriving the name from the id turns its
// conflict detection into duplicate-id detection.
func nodeName(id int32) string { return "strom-" + strconv.FormatInt(int64(id), 10) }
