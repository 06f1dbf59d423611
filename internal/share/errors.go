package share

import "errors"

// Errors of this package; the server maps them to Kafka codes.
var (
	// ErrInvalidRequest: a malformed request (INVALID_REQUEST).
	ErrInvalidRequest = errors.New("share: invalid request")
	// ErrInvalidRecordState: an acknowledgement of a record this member
	// does not hold (INVALID_RECORD_STATE).
	ErrInvalidRecordState = errors.New("share: record not acquired by this member")
	// ErrSessionNotFound: no share session for this member here
	// (SHARE_SESSION_NOT_FOUND).
	ErrSessionNotFound = errors.New("share: share session not found")
	// ErrInvalidSessionEpoch: the request's share session epoch is not the
	// one expected (INVALID_SHARE_SESSION_EPOCH).
	ErrInvalidSessionEpoch = errors.New("share: invalid share session epoch")
	// ErrSessionLimit: too many share sessions on this broker
	// (SHARE_SESSION_LIMIT_REACHED).
	ErrSessionLimit = errors.New("share: share session limit reached")
	// ErrUnknownMember: the member is not in the group (UNKNOWN_MEMBER_ID).
	ErrUnknownMember = errors.New("share: unknown member")
	// ErrFencedMemberEpoch: the member's epoch is stale (FENCED_MEMBER_EPOCH).
	ErrFencedMemberEpoch = errors.New("share: fenced member epoch")
	// ErrGroupNotFound: no such share group (GROUP_ID_NOT_FOUND).
	ErrGroupNotFound = errors.New("share: group not found")
	// ErrNonEmptyGroup: the group has members (NON_EMPTY_GROUP).
	ErrNonEmptyGroup = errors.New("share: group is not empty")
	// ErrGroupMaxSize: the group is full (GROUP_MAX_SIZE_REACHED).
	ErrGroupMaxSize = errors.New("share: group max size reached")
	// ErrNotCoordinator: the share-state partition of a key is not led
	// here (NOT_COORDINATOR).
	ErrNotCoordinator = errors.New("share: not the share coordinator for this key")
	// ErrCoordinatorNotAvailable: the share-state partition cannot be
	// written now (COORDINATOR_NOT_AVAILABLE).
	ErrCoordinatorNotAvailable = errors.New("share: share coordinator not available")
	// ErrFencedStateEpoch: a write with an older state epoch than the
	// stored one: the offsets were reset meanwhile (FENCED_STATE_EPOCH).
	ErrFencedStateEpoch = errors.New("share: fenced state epoch")
	// ErrFencedLeaderEpoch: a write from a superseded partition leader
	// (FENCED_LEADER_EPOCH).
	ErrFencedLeaderEpoch = errors.New("share: fenced leader epoch")
	// errCorrupt: a __share_group_state record that does not decode.
	errCorrupt = errors.New("share: corrupt share-state log")
)
