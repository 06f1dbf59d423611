package chaoscheck

import (
	"fmt"
	"testing"
)

func TestCheckExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		input, output []string
		want          string
	}{
		{[]string{"a", "b"}, []string{"b", "a"}, "[]"},
		{[]string{"a", "b"}, []string{"a"}, `[lost: input "b" is not in the output]`},
		{[]string{"a"}, []string{"a", "a"}, `[duplicate: input "a" is in the output 2 times]`},
		{[]string{"a"}, []string{"a", "x"}, `[foreign: "x" is in the output but was never input (an aborted record?)]`},
	} {
		got := CheckExactlyOnce(tc.input, tc.output)
		if s := fmt.Sprint(got); s != tc.want && !(tc.want == "[]" && got == nil) {
			t.Errorf("CheckExactlyOnce(%v, %v) = %s, want %s", tc.input, tc.output, s, tc.want)
		}
	}
}
