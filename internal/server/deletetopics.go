package server

// DeleteTopics: versions 0-6.
//
// Behaviour:
//   - Topics are named (TopicNames, v0-5; Topics[].Topic, v6) or, from v6,
//     identified by topic ID. An entry with both a name and an ID, or with
//     neither, is INVALID_REQUEST; so is a name or ID given twice (each copy
//     answered, none deleted), as Kafka.
//   - Unknown name: UNKNOWN_TOPIC_OR_PARTITION; unknown ID: UNKNOWN_TOPIC_ID.
//   - __consumer_offsets cannot be deleted: TOPIC_AUTHORIZATION_FAILED with a
//     message. Kafka's broker would delete it (only its CLI refuses), but
//     Strom creates it once at start-up and the group coordinator depends on
//     it, so deleting it would silently drop every committed offset. The
//     code is the one Redpanda uses for its protected topics.
//   - Each topic needs DELETE (TOPIC_AUTHORIZATION_FAILED, also for an
//     unknown name the principal may not delete; an unknown id stays
//     UNKNOWN_TOPIC_ID), as Kafka.
//   - Deletion goes through the controller; local replicas (and their data)
//     are removed by the reconciler before answering.
//
// Version notes:
//   - v5: ErrorMessage.
//   - v6: topics by ID; the response echoes the TopicID and a nullable name.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

// deleteTarget is one DeleteTopics entry: a name or an ID.
type deleteTarget struct {
	name *string
	id   [16]byte
}

func (s *Server) handleDeleteTopics(ctx context.Context, req *wire.Request, r *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	resp.Version = r.Version
	ctx, cancel := context.WithTimeout(ctx, requestTimeout(r.TimeoutMillis))
	defer cancel()

	var targets []deleteTarget
	for i := range r.TopicNames {
		targets = append(targets, deleteTarget{name: &r.TopicNames[i]})
	}
	for _, t := range r.Topics {
		targets = append(targets, deleteTarget{name: t.Topic, id: t.TopicID})
	}
	names := make(map[string]int)
	ids := make(map[[16]byte]int)
	for _, t := range targets {
		switch {
		case t.name != nil && t.id == [16]byte{}:
			names[*t.name]++
		case t.name == nil && t.id != [16]byte{}:
			ids[t.id]++
		}
	}

	deleted := false
	for _, t := range targets {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic = t.name
		rt.TopicID = t.id
		name, err := s.resolveDeleteTarget(t, names, ids)
		err = s.deleteAuthorized(req, t, name, err)
		if err == nil {
			rt.Topic = kmsg.StringPtr(name)
			if topic, ok := s.meta.State().Topics[name]; ok {
				rt.TopicID = topic.ID
			}
			err = s.deleteTopic(ctx, name)
		}
		if err != nil {
			rt.ErrorCode = errorCode(err)
			rt.ErrorMessage = errorMessage(err)
		} else {
			deleted = true
		}
		if rt.Topic == nil && r.Version < 6 {
			rt.Topic = kmsg.StringPtr("") // the name is not nullable before v6
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if deleted {
		s.awaitLocal(ctx)
	}
	return resp
}

// resolveDeleteTarget checks one entry against the request's duplicates and
// the metadata and returns the topic name to delete.
func (s *Server) resolveDeleteTarget(t deleteTarget, names map[string]int, ids map[[16]byte]int) (string, error) {
	switch {
	case t.name != nil && t.id != [16]byte{}:
		return "", fmt.Errorf("%w: give a topic name or a topic id, not both", errInvalidRequest)
	case t.name == nil && t.id == [16]byte{}:
		return "", fmt.Errorf("%w: neither topic name nor topic id given", errInvalidRequest)
	case t.name != nil:
		if names[*t.name] > 1 {
			return "", fmt.Errorf("%w: topic %q is named more than once in the request", errInvalidRequest, *t.name)
		}
		topic, ok := s.meta.State().Topics[*t.name]
		if !ok {
			return "", fmt.Errorf("%w: %q", errUnknownTopic, *t.name)
		}
		if ids[topic.ID] > 0 {
			return "", fmt.Errorf("%w: topic %q is also given by its id %s in the request", errInvalidRequest, *t.name, formatTopicID(topic.ID))
		}
		return *t.name, nil
	default:
		if ids[t.id] > 1 {
			return "", fmt.Errorf("%w: topic id %s is given more than once in the request", errInvalidRequest, formatTopicID(t.id))
		}
		topic, ok := s.meta.State().TopicsByID[t.id]
		if !ok {
			return "", fmt.Errorf("%w: %s", errUnknownTopicID, formatTopicID(t.id))
		}
		if names[topic.Name] > 0 {
			return "", fmt.Errorf("%w: topic id %s is topic %q, which is also named in the request", errInvalidRequest, formatTopicID(t.id), topic.Name)
		}
		return topic.Name, nil
	}
}

// deleteAuthorized checks DELETE on a resolved topic (err nil) or on an
// unknown topic given by name.
func (s *Server) deleteAuthorized(req *wire.Request, t deleteTarget, name string, err error) error {
	if err != nil {
		if t.name == nil || !errors.Is(err, errUnknownTopic) {
			return err
		}
		name = *t.name
	}
	if !s.authorize(req, acl.OpDelete, acl.ResourceTopic, name) {
		return fmt.Errorf("%w: DELETE on topic %s", errTopicAuthorization, name)
	}
	return err
}

// deleteTopic deletes a topic through the controller, refusing the internal
// offsets topic.
func (s *Server) deleteTopic(ctx context.Context, name string) error {
	if name == offsetsTopic {
		return fmt.Errorf("%w: %s is Strom's internal offsets topic and cannot be deleted", errTopicAuthorization, name)
	}
	if name == txnTopic {
		return fmt.Errorf("%w: %s is Strom's internal transaction state topic and cannot be deleted", errTopicAuthorization, name)
	}
	return s.meta.DeleteTopic(ctx, name)
}

// formatTopicID renders a topic id the way Kafka tools print it (URL-safe
// base64 without padding).
func formatTopicID(id [16]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}
