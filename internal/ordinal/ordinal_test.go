package ordinal

import (
	"errors"
	"testing"
)

func TestFromHostname(t *testing.T) {
	tests := []struct {
		host    string
		want    int32
		wantErr error
	}{
		{"strom-0", 0, nil},
		{"strom-2", 2, nil},
		{"strom-17", 17, nil},
		{"my-kafka-broker-3", 3, nil},
		{"strom-2.strom-headless.default.svc.cluster.local", 2, nil},
		{" strom-4\n", 4, nil},
		{"strom-2147483647", 2147483647, nil},
		{"strom-2147483648", 0, ErrOutOfRange},
		{"strom-99999999999999999999999", 0, ErrOutOfRange},
		{"strom", 0, ErrNoOrdinal},
		{"strom-", 0, ErrNoOrdinal},
		{"-3", 0, ErrNoOrdinal},
		{"strom-x", 0, ErrNoOrdinal},
		{"strom-2a", 0, ErrNoOrdinal},
		{"strom-+2", 0, ErrNoOrdinal},
		{"strom2", 0, ErrNoOrdinal},
		{"web.strom-2", 0, ErrNoOrdinal}, // only the first label counts
		{"", 0, ErrNoOrdinal},
	}
	for _, tt := range tests {
		got, err := FromHostname(tt.host)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("FromHostname(%q) = %d, %v; want error %v", tt.host, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("FromHostname(%q) = %d, %v; want %d", tt.host, got, err, tt.want)
		}
	}
}

func TestPodNameRoundTrip(t *testing.T) {
	for i := range 12 {
		name := PodName("strom", i)
		got, err := FromHostname(name)
		if err != nil || int(got) != i {
			t.Fatalf("FromHostname(PodName(strom, %d) = %q) = %d, %v", i, name, got, err)
		}
	}
}
