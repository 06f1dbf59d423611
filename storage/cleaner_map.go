package storage

import (
	"crypto/sha256"
	"encoding/binary"
)

// offsetMap is the log cleaner's key → latest offset map (Kafka's
// SkimpyOffsetMap): a preallocated open-addressing table of fixed size, so
// the cleaner's memory is bounded by log.cleaner.dedupe.buffer.size however
// many keys a log holds. A key is stored as the first 16 bytes of its
// SHA-256 (a collision between two live keys would lose one of them, with
// odds of about n²/2¹²⁹), next to its offset: 24 bytes per slot.
//
// It is used by one cleaner goroutine at a time and is not safe for
// concurrent use.
type offsetMap struct {
	slots   []byte // cap × slotSize: hash (16) then offset+1 (8); offset+1 == 0 means empty
	cap     int
	used    int
	maxUsed int // slots that may be used before the map counts as full (load factor)
	latest  int64
}

const (
	mapHashSize = 16
	mapSlotSize = mapHashSize + 8
	// mapLoadFactor is Kafka's log.cleaner.io.buffer.load.factor default:
	// past it, probing gets slow and the map reports full.
	mapLoadFactor = 0.9
)

// newOffsetMap allocates a map using at most bytes of memory (at least 16 slots).
func newOffsetMap(bytes int64) *offsetMap {
	n := int(max(bytes/mapSlotSize, 16))
	return &offsetMap{slots: make([]byte, n*mapSlotSize), cap: n, maxUsed: int(float64(n) * mapLoadFactor), latest: -1}
}

// reset empties the map for the next log (the memory is reused).
func (m *offsetMap) reset() {
	clear(m.slots)
	m.used = 0
	m.latest = -1
}

// full reports whether the next new key may not fit.
func (m *offsetMap) full() bool { return m.used >= m.maxUsed }

func hashKey(key []byte) [mapHashSize]byte {
	sum := sha256.Sum256(key)
	var h [mapHashSize]byte
	copy(h[:], sum[:])
	return h
}

// slotFor returns the slot index holding h, or the empty slot where it goes
// (linear probing from the hash's first 8 bytes).
func (m *offsetMap) slotFor(h *[mapHashSize]byte) int {
	i := int(binary.BigEndian.Uint64(h[:8]) % uint64(m.cap))
	for {
		s := m.slots[i*mapSlotSize : (i+1)*mapSlotSize]
		if binary.BigEndian.Uint64(s[mapHashSize:]) == 0 || string(s[:mapHashSize]) == string(h[:]) {
			return i
		}
		i++
		if i == m.cap {
			i = 0
		}
	}
}

// put records offset as the latest for key. It returns false, changing
// nothing, when key is new and the map is full.
func (m *offsetMap) put(key []byte, offset int64) bool {
	h := hashKey(key)
	i := m.slotFor(&h)
	s := m.slots[i*mapSlotSize : (i+1)*mapSlotSize]
	if binary.BigEndian.Uint64(s[mapHashSize:]) == 0 {
		if m.full() {
			return false
		}
		m.used++
		copy(s, h[:])
	}
	binary.BigEndian.PutUint64(s[mapHashSize:], uint64(offset+1))
	m.latest = max(m.latest, offset)
	return true
}

// get returns the latest offset recorded for key, or -1.
func (m *offsetMap) get(key []byte) int64 {
	h := hashKey(key)
	i := m.slotFor(&h)
	return int64(binary.BigEndian.Uint64(m.slots[i*mapSlotSize+mapHashSize:])) - 1
}
