// Package coordlog is the record plumbing shared by the coordinators that
// keep their state in a compacted topic of their own (the transaction
// coordinator's __transaction_state, the share coordinator's
// __share_group_state): the one-record batches they append and the replay
// of a partition from its start at load time. Keys and values are the
// caller's; this package only frames them. It imports nothing internal.
package coordlog
