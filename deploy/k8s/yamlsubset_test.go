package k8s

import (
	"errors"
	"reflect"
	"testing"
)

// The manifest checks are only as good as the reader, so it is tested on its
// own: what it accepts, and that it refuses YAML it does not implement.
func TestYAMLSubset(t *testing.T) {
	src := `# leading comment
---
a: 1
b: "two # not a comment" # a comment
c: 'it''s'
list:
  - x
  - "y"
  - k: v
    m:
      n: [p, "q r", 's']
same:
- 1
- 2
empty:
nested:
  deep:
    - - inner
---
---
second: doc
`
	docs, err := parseYAMLDocs(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		map[string]any{
			"a":      "1",
			"b":      "two # not a comment",
			"c":      "it's",
			"list":   []any{"x", "y", map[string]any{"k": "v", "m": map[string]any{"n": []any{"p", "q r", "s"}}}},
			"same":   []any{"1", "2"},
			"empty":  "",
			"nested": map[string]any{"deep": []any{[]any{"inner"}}},
		},
		map[string]any{"second": "doc"},
	}
	if !reflect.DeepEqual(docs, want) {
		t.Fatalf("parsed\n%#v\nwant\n%#v", docs, want)
	}
}

func TestYAMLSubsetRefuses(t *testing.T) {
	for _, src := range []string{
		"a: &anchor 1\n",
		"a: *anchor\n",
		"a: |\n  block\n",
		"a: >\n  folded\n",
		"a: {b: c}\n",
		"a: [b, [c]]\n",
		"a: \"unterminated\n",
		"a: 1\na: 2\n",
		"a:\n  b: 1\n c: 2\n",
		"a:\n\tb: 1\n",
		"a: b: c\n",
		"- a\nb: c\n",
	} {
		if docs, err := parseYAMLDocs(src); !errors.Is(err, errYAML) {
			t.Errorf("parseYAMLDocs(%q) = %#v, %v; want errYAML", src, docs, err)
		}
	}
}
