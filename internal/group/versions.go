package group

import "fmt"

// Kafka API keys served by the coordinator.
const (
	apiOffsetCommit    int16 = 8
	apiOffsetFetch     int16 = 9
	apiJoinGroup       int16 = 11
	apiHeartbeat       int16 = 12
	apiLeaveGroup      int16 = 13
	apiSyncGroup       int16 = 14
	apiDescribeGroups  int16 = 15
	apiListGroups      int16 = 16
	apiDeleteGroups    int16 = 42
	apiOffsetDelete    int16 = 47
	apiTxnOffsetCommit int16 = 28
)

// Versions is the [min, max] version implemented in full for each API key
// this package serves; the server advertises exactly these ranges. OffsetCommit
// v10 and OffsetFetch v10 identify topics by id and are left out.
// DescribeGroups v6 (KIP-1043) is served by the server from Unknown.
var Versions = map[int16][2]int16{
	apiOffsetCommit:    {0, 9},
	apiOffsetFetch:     {0, 9},
	apiJoinGroup:       {0, 9},
	apiHeartbeat:       {0, 4},
	apiLeaveGroup:      {0, 5},
	apiSyncGroup:       {0, 5},
	apiDescribeGroups:  {0, 6}, // v6: GROUP_ID_NOT_FOUND and error messages (KIP-1043; GroupDescription.Unknown)
	apiListGroups:      {0, 5},
	apiDeleteGroups:    {0, 2},
	apiOffsetDelete:    {0, 0},
	apiTxnOffsetCommit: {0, 5}, // v5: the server adds the offsets partition to the transaction (txnoffsetcommit.go)
}

// checkVersion reports ErrUnsupportedVersion for a version of key outside
// Versions.
func checkVersion(key, version int16) error {
	if v := Versions[key]; version < v[0] || version > v[1] {
		return fmt.Errorf("%w: api key %d v%d (have v%d-v%d)", ErrUnsupportedVersion, key, version, v[0], v[1])
	}
	return nil
}
