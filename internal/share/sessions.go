package share

import (
	"context"
	"fmt"
	"time"
)

// Share sessions (KIP-932): a member's ShareFetch at epoch 0 opens its
// session on this broker with the partitions named; later requests carry
// the next epoch and add or forget partitions; epoch -1 (ShareFetch or
// ShareAcknowledge) closes it and releases every record the member still
// holds here. A session is per (group, member) and per broker.

// OpenSession opens (or reopens, releasing what the member held) member's
// session with parts; the next request must carry epoch 1. ctx is the
// opening connection's: as in Kafka, the session is tied to that
// connection, and when it closes the session ends and the member's records
// here are released at once (a crashed consumer's records go to the others
// without waiting for their locks to expire).
func (m *Manager) OpenSession(ctx context.Context, group, member string, parts []TopicPartition) error {
	k := sessionKey{group, member}
	m.mu.Lock()
	old, existed := m.sessions[k]
	if existed {
		close(old.ended)
	}
	if !existed && len(m.sessions) >= m.cfg.MaxSessions {
		m.mu.Unlock()
		return fmt.Errorf("%w: %d sessions", ErrSessionLimit, len(m.sessions))
	}
	s := &session{epoch: 1, parts: make(map[TopicPartition]struct{}, len(parts)), ended: make(chan struct{})}
	for _, tp := range parts {
		s.parts[tp] = struct{}{}
	}
	m.sessions[k] = s
	// The group's share-partitions check their persisted state epoch on
	// next use: their offsets may have been altered while the group was
	// empty (AlterShareGroupOffsets), which only that epoch tells.
	for pk, sp := range m.parts {
		if pk.Group == group {
			sp.recheck.Store(true)
		}
	}
	m.mu.Unlock()
	m.log.Debug("share session opened", "group", group, "member", member, "reopened", existed, "partitions", len(parts))
	if existed {
		m.releaseMember(ctx, group, member)
	}
	m.wg.Add(1)
	go m.watchConn(ctx.Done(), k, s)
	return nil
}

// watchConn ends session s of k when its connection closes, unless it
// was replaced or closed before.
func (m *Manager) watchConn(done <-chan struct{}, k sessionKey, s *session) {
	defer m.wg.Done()
	select {
	case <-done:
	case <-s.ended:
		return
	case <-m.ctx.Done():
		return
	}
	m.mu.Lock()
	current := m.sessions[k] == s
	if current {
		close(s.ended)
		delete(m.sessions, k)
	}
	m.mu.Unlock()
	if current {
		m.log.Debug("share session's connection closed", "group", k.group, "member", k.member)
		ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
		defer cancel()
		m.releaseMember(ctx, k.group, k.member)
	}
}

// UpdateSession checks that epoch is the one member's session expects,
// applies the added and forgotten partitions and moves the session to the
// next epoch.
func (m *Manager) UpdateSession(group, member string, epoch int32, add, forget []TopicPartition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[sessionKey{group, member}]
	switch {
	case !ok:
		return fmt.Errorf("%w: group %q member %q", ErrSessionNotFound, group, member)
	case s.epoch != epoch:
		return fmt.Errorf("%w: got %d, expected %d", ErrInvalidSessionEpoch, epoch, s.epoch)
	}
	for _, tp := range add {
		s.parts[tp] = struct{}{}
	}
	for _, tp := range forget {
		delete(s.parts, tp)
	}
	s.epoch = nextEpoch(s.epoch)
	return nil
}

// CheckClose verifies that member has a session to close.
func (m *Manager) CheckClose(group, member string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[sessionKey{group, member}]; !ok {
		return fmt.Errorf("%w: group %q member %q", ErrSessionNotFound, group, member)
	}
	return nil
}

// CloseSession ends member's session and releases its records here.
func (m *Manager) CloseSession(ctx context.Context, group, member string) {
	m.log.Debug("share session closed", "group", group, "member", member)
	m.mu.Lock()
	if s, ok := m.sessions[sessionKey{group, member}]; ok {
		close(s.ended)
		delete(m.sessions, sessionKey{group, member})
	}
	m.mu.Unlock()
	m.releaseMember(ctx, group, member)
}

// SessionParts lists the partitions of member's session.
func (m *Manager) SessionParts(group, member string) []TopicPartition {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[sessionKey{group, member}]
	if !ok {
		return nil
	}
	out := make([]TopicPartition, 0, len(s.parts))
	for tp := range s.parts {
		out = append(out, tp)
	}
	return out
}

// releaseMember releases member's records on every share-partition of
// group loaded here.
func (m *Manager) releaseMember(ctx context.Context, group, member string) {
	m.mu.Lock()
	var parts []*SharePartition
	for k, sp := range m.parts {
		if k.Group == group {
			parts = append(parts, sp)
		}
	}
	m.mu.Unlock()
	for _, sp := range parts {
		if err := sp.ReleaseMember(ctx, member); err != nil {
			m.log.Warn("cannot persist released records", "group", group, "member", member, "err", err)
		}
	}
	m.notify()
}
