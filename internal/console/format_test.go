package console

import (
	"errors"
	"strings"
	"testing"
)

func TestShowValue(t *testing.T) {
	long := strings.Repeat("a", maxValueShown+10)
	for _, tc := range []struct {
		name     string
		in       []byte
		kind     string
		contains string
		cut      bool
	}{
		{"null", nil, "null", "null", false},
		{"empty", []byte{}, "text", "", false},
		{"text", []byte("héllo\tworld\n"), "text", "héllo", false},
		{"json object", []byte(`{"a":1,"b":[true,null]}`), "json", "{\n  \"a\": 1,\n  \"b\": [\n    true,", false},
		{"json array", []byte(`[1,2]`), "json", "[\n  1,\n  2\n]", false},
		{"json scalar stays text", []byte(`42`), "text", "42", false},
		{"broken json is text", []byte(`{"a":`), "text", `{"a":`, false},
		{"control bytes", []byte("a\x00b"), "binary", "61 00 62", false},
		{"invalid utf8", []byte{0xff, 0xfe}, "binary", "ff fe", false},
		{"escape sequence", []byte("\x1b[31mred"), "binary", "1b 5b 33 31", false},
		{"long", []byte(long), "text", "aaaa", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := showValue(tc.in)
			if v.Kind != tc.kind || !strings.Contains(v.Text, tc.contains) || v.Cut != tc.cut {
				t.Errorf("showValue(%q) = kind %s cut %v text %q; want kind %s cut %v containing %q", tc.in, v.Kind, v.Cut, v.Text, tc.kind, tc.cut, tc.contains)
			}
			if tc.cut && len(v.Text) != maxValueShown {
				t.Errorf("cut value is %d bytes, want %d", len(v.Text), maxValueShown)
			}
		})
	}
}

func TestCheckTopicName(t *testing.T) {
	for _, ok := range []string{"a", "orders.v1", "A_b-9", strings.Repeat("x", 249)} {
		if err := checkTopicName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/b", "<script>", "a b", "é", strings.Repeat("x", 250)} {
		if err := checkTopicName(bad); !errors.Is(err, ErrBadParam) {
			t.Errorf("%q: %v, want ErrBadParam", bad, err)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1700000000000": 1700000000000, "2023-11-14T22:13:20Z": 1700000000000, "2023-11-14T23:13:20+01:00": 1700000000000} {
		if got, err := parseTimestamp(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1", "yesterday", "2023-11-14"} {
		if _, err := parseTimestamp(bad); !errors.Is(err, ErrBadParam) {
			t.Errorf("%q: %v, want ErrBadParam", bad, err)
		}
	}
}
