package group

// Replay of consumer-group records (cgrecords.go). The last record per key
// wins and tombstones delete, as for the classic records. A group id with
// both a classic GroupMetadata record and a ConsumerGroupMetadata record
// (a group migrated between the protocols while empty) is of the kind whose
// record came last.

import (
	"encoding/binary"
	"fmt"
)

// loadedCG accumulates a consumer group's records during replay.
type loadedCG struct {
	metaOffset  int64 // offset of the live ConsumerGroupMetadata record; -1 none
	epoch       int32
	assignEpoch int32
	subMeta     map[string]TopicInfo
	members     map[string]*cmember
	assign      map[string]currentAssign
	target      map[string]parts
}

func (lg *loadedGroup) cg() *loadedCG {
	if lg.cons == nil {
		lg.cons = &loadedCG{metaOffset: -1, subMeta: map[string]TopicInfo{}, members: map[string]*cmember{},
			assign: map[string]currentAssign{}, target: map[string]parts{}}
	}
	return lg.cons
}

// applyCGRecord applies one record with key version 3-8.
func applyCGRecord(get func(string) *loadedGroup, version int16, r decodedRecord) error {
	kr := &rbuf{b: r.key[2:]}
	groupID := kr.str16()
	var memberID string
	if version == keyCGMemberMeta || version == keyCGTargetMember || version == keyCGCurrentAssign {
		memberID = kr.str16()
	}
	if kr.err != nil {
		return fmt.Errorf("%w: consumer group key v%d at %d: %v", ErrCorruptRecord, version, r.offset, kr.err)
	}
	cg := get(groupID).cg()
	var err error
	switch version {
	case keyCGMetadata:
		if r.value == nil {
			get(groupID).cons = nil // the group is deleted
			return nil
		}
		cg.metaOffset = r.offset
		cg.epoch, err = decodeEpoch(r.value)
	case keyCGPartitionMeta:
		if r.value != nil {
			cg.subMeta, err = decodePartitionMeta(r.value)
		}
	case keyCGMemberMeta:
		delete(cg.members, memberID)
		if r.value != nil {
			var m *cmember
			if m, err = decodeMemberValue(memberID, r.value); err == nil {
				cg.members[memberID] = m
			}
		}
	case keyCGTargetMeta:
		if r.value != nil {
			cg.assignEpoch, err = decodeEpoch(r.value)
		}
	case keyCGTargetMember:
		delete(cg.target, memberID)
		if r.value != nil {
			var a parts
			if a, err = decodeTargetMember(r.value); err == nil {
				cg.target[memberID] = a
			}
		}
	case keyCGCurrentAssign:
		delete(cg.assign, memberID)
		if r.value != nil {
			var ca currentAssign
			if ca, err = decodeCurrentAssign(r.value); err == nil {
				cg.assign[memberID] = ca
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%w: consumer group value (key v%d) at %d: %v", ErrCorruptRecord, version, r.offset, err)
	}
	return nil
}

func decodeEpoch(v []byte) (int32, error) {
	r := openValue(v)
	e := r.i32()
	r.skipTags()
	return e, r.err
}

// isConsumer reports whether a replayed group is a consumer group.
func (lg *loadedGroup) isConsumer() bool {
	return lg.cons != nil && lg.cons.metaOffset >= 0 && (lg.meta == nil || lg.cons.metaOffset > lg.metaOffset)
}

// restoreConsumer installs a replayed consumer group. Members without an
// assignment record start over at epoch 0 with nothing.
func (g *group) restoreConsumer(l *loadedCG) {
	cg := newCGroup()
	cg.epoch, cg.assignEpoch, cg.subMeta = l.epoch, l.assignEpoch, l.subMeta
	for id, m := range l.members {
		ca, ok := l.assign[id]
		if !ok {
			ca = currentAssign{state: memberStable, assigned: parts{}, revoking: parts{}}
		}
		m.epoch, m.prevEpoch, m.state, m.assigned, m.revoking = ca.epoch, ca.prevEpoch, ca.state, ca.assigned, ca.revoking
		cg.members[id] = m
		if a, ok := l.target[id]; ok {
			cg.target[id] = a
		}
	}
	g.cons = cg
}

// startConsumerTimers starts the timers of a restored consumer group.
// Caller holds mu.
func (g *group) startConsumerTimers() {
	if g.cons == nil {
		return
	}
	for id, m := range g.cons.members {
		g.cgStartSession(id)
		if m.state == memberUnrevokedPartitions {
			g.cgStartRevokeTimer(m)
		}
	}
}

// cgKeyVersion reads a record key's version.
func cgKeyVersion(key []byte) int16 { return int16(binary.BigEndian.Uint16(key)) }
