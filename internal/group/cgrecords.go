package group

// Records of consumer-protocol (KIP-848) groups in __consumer_offsets, in
// Kafka's formats (group-coordinator/src/main/resources/common/message):
// keys are a big-endian int16 version followed by non-flexible strings;
// values are an int16 version (0) followed by a flexible struct (compact
// strings and arrays, uuids, a trailing tagged-field section). Writers here
// emit no tagged fields; readers skip any they find.
//
//	key version  record                          key fields          value
//	          3  ConsumerGroupMetadata           group               Epoch
//	          4  ConsumerGroupPartitionMetadata  group               Topics[id, name, partitions, racks]
//	          5  ConsumerGroupMemberMetadata     group, member       instance, rack, client, host, topics, regex, rebalance timeout, assignor
//	          6  ConsumerGroupTargetAssignmentMetadata group         AssignmentEpoch
//	          7  ConsumerGroupTargetAssignmentMember  group, member  TopicPartitions[id, partitions]
//	          8  ConsumerGroupCurrentMemberAssignment group, member  epoch, previous epoch, state, assigned, pending revocation

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

const (
	keyCGMetadata       = 3
	keyCGPartitionMeta  = 4
	keyCGMemberMeta     = 5
	keyCGTargetMeta     = 6
	keyCGTargetMember   = 7
	keyCGCurrentAssign  = 8
	cgValueVersion      = 0
	maxDecodedArrayElts = 1 << 20
)

// errShortRecord is what the decoders below return for truncated input;
// replay wraps it in ErrCorruptRecord.
var errShortRecord = errors.New("truncated record")

// cgKey encodes a consumer-group record key: version, group, and for the
// per-member records the member id.
func cgKey(version int16, group string, member *string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(version))
	b = appendStr16(b, group)
	if member != nil {
		b = appendStr16(b, *member)
	}
	return b
}

func appendStr16(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// wbuf builds a flexible value.
type wbuf struct{ b []byte }

func newValue() *wbuf { return &wbuf{b: binary.BigEndian.AppendUint16(nil, cgValueVersion)} }

func (w *wbuf) i8(v int8)   { w.b = append(w.b, byte(v)) }
func (w *wbuf) i32(v int32) { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *wbuf) uvarint(v int) {
	w.b = binary.AppendUvarint(w.b, uint64(v))
}
func (w *wbuf) str(s string) { w.uvarint(len(s) + 1); w.b = append(w.b, s...) }
func (w *wbuf) nstr(s *string) {
	if s == nil {
		w.uvarint(0)
		return
	}
	w.str(*s)
}
func (w *wbuf) uuid(id topicID) { w.b = append(w.b, id[:]...) }
func (w *wbuf) strs(ss []string) {
	w.uvarint(len(ss) + 1)
	for _, s := range ss {
		w.str(s)
	}
}
func (w *wbuf) i32s(vs []int32) {
	w.uvarint(len(vs) + 1)
	for _, v := range vs {
		w.i32(v)
	}
}
func (w *wbuf) noTags() { w.uvarint(0) }

// topicParts writes an assignment as []TopicPartitions{TopicId, Partitions},
// topics in id order so equal assignments encode equally.
func (w *wbuf) topicParts(a parts) {
	ids := a.topicIDs()
	w.uvarint(len(ids) + 1)
	for _, id := range ids {
		w.uuid(id)
		w.i32s(a[id])
		w.noTags()
	}
}

// rbuf reads a flexible value; the first error sticks.
type rbuf struct {
	b   []byte
	err error
}

func (r *rbuf) fail() {
	if r.err == nil {
		r.err = errShortRecord
	}
	r.b = nil
}

func (r *rbuf) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *rbuf) i8() int8 {
	v := r.take(1)
	if v == nil {
		return 0
	}
	return int8(v[0])
}

func (r *rbuf) i16() int16 {
	v := r.take(2)
	if v == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(v))
}

func (r *rbuf) i32() int32 {
	v := r.take(4)
	if v == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(v))
}

func (r *rbuf) uvarint() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(len(r.b))+1 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *rbuf) str16() string { return string(r.take(int(r.i16()))) }

func (r *rbuf) nstr() *string {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return nil
	}
	s := string(r.take(n - 1))
	return &s
}

func (r *rbuf) str() string {
	s := r.nstr()
	if s == nil {
		r.fail()
		return ""
	}
	return *s
}

func (r *rbuf) uuid() (id topicID) { copy(id[:], r.take(16)); return id }

// arrayLen reads a compact array length; -1 for null.
func (r *rbuf) arrayLen() int {
	n := r.uvarint() - 1
	if n > maxDecodedArrayElts {
		r.fail()
		return 0
	}
	return n
}

func (r *rbuf) strs() []string {
	n := r.arrayLen()
	var out []string
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, r.str())
	}
	return out
}

func (r *rbuf) i32s() []int32 {
	n := r.arrayLen()
	var out []int32
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, r.i32())
	}
	return out
}

// skipTags skips a tagged-field section.
func (r *rbuf) skipTags() {
	n := r.uvarint()
	for i := 0; i < n && r.err == nil; i++ {
		r.uvarint()
		r.take(r.uvarint())
	}
}

func (r *rbuf) topicParts() parts {
	n := r.arrayLen()
	a := make(parts)
	for i := 0; i < n && r.err == nil; i++ {
		id := r.uuid()
		ps := r.i32s()
		r.skipTags()
		a.add(id, ps...)
	}
	return a
}

// openValue checks a value's version prefix.
func openValue(v []byte) *rbuf {
	r := &rbuf{b: v}
	if ver := r.i16(); ver != cgValueVersion && r.err == nil {
		r.err = fmt.Errorf("value version %d", ver)
	}
	return r
}

func cgEpochValue(epoch int32) []byte {
	w := newValue()
	w.i32(epoch)
	w.noTags()
	return w.b
}

func cgPartitionMetaValue(meta map[string]TopicInfo) []byte {
	names := make([]string, 0, len(meta))
	for n := range meta {
		names = append(names, n)
	}
	sort.Strings(names)
	w := newValue()
	w.uvarint(len(names) + 1)
	for _, n := range names {
		t := meta[n]
		w.uuid(t.ID)
		w.str(t.Name)
		w.i32(t.Partitions)
		w.uvarint(1) // PartitionMetadata (racks): empty, unused since Kafka 4.0
		w.noTags()
	}
	w.noTags()
	return w.b
}

func decodePartitionMeta(v []byte) (map[string]TopicInfo, error) {
	r := openValue(v)
	n := r.arrayLen()
	meta := make(map[string]TopicInfo)
	for i := 0; i < n && r.err == nil; i++ {
		t := TopicInfo{ID: r.uuid(), Name: r.str(), Partitions: r.i32()}
		for j, m := 0, r.arrayLen(); j < m && r.err == nil; j++ {
			r.i32()
			r.strs()
			r.skipTags()
		}
		r.skipTags()
		meta[t.Name] = t
	}
	r.skipTags()
	return meta, r.err
}

func cgMemberValue(m *cmember) []byte {
	w := newValue()
	w.nstr(m.instanceID)
	w.nstr(m.rackID)
	w.str(m.clientID)
	w.str(m.clientHost)
	w.strs(m.topics)
	w.nstr(m.regex)
	w.i32(m.rebalanceTimeoutMs)
	w.nstr(m.assignor)
	w.noTags()
	return w.b
}

func decodeMemberValue(id string, v []byte) (*cmember, error) {
	r := openValue(v)
	m := &cmember{id: id}
	m.instanceID = r.nstr()
	m.rackID = r.nstr()
	m.clientID = r.str()
	m.clientHost = r.str()
	m.topics = r.strs()
	m.setRegex(r.nstr())
	m.rebalanceTimeoutMs = r.i32()
	m.assignor = r.nstr()
	r.skipTags()
	sort.Strings(m.topics)
	return m, r.err
}

func cgTargetMemberValue(a parts) []byte {
	w := newValue()
	w.topicParts(a)
	w.noTags()
	return w.b
}

func decodeTargetMember(v []byte) (parts, error) {
	r := openValue(v)
	a := r.topicParts()
	r.skipTags()
	return a, r.err
}

func cgCurrentAssignValue(m *cmember) []byte {
	w := newValue()
	w.i32(m.epoch)
	w.i32(m.prevEpoch)
	w.i8(int8(m.state))
	w.topicParts(m.assigned)
	w.topicParts(m.revoking)
	w.noTags()
	return w.b
}

// currentAssign is a decoded ConsumerGroupCurrentMemberAssignmentValue.
type currentAssign struct {
	epoch, prevEpoch   int32
	state              memberState
	assigned, revoking parts
}

func decodeCurrentAssign(v []byte) (currentAssign, error) {
	r := openValue(v)
	ca := currentAssign{epoch: r.i32(), prevEpoch: r.i32(), state: memberState(r.i8())}
	ca.assigned = r.topicParts()
	ca.revoking = r.topicParts()
	r.skipTags()
	return ca, r.err
}
