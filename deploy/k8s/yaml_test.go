package k8s

import (
	"errors"
	"fmt"
	"strings"
)

// errYAML: the manifest uses YAML this reader does not understand, or is
// malformed. The test fails rather than guess.
var errYAML = errors.New("yaml subset")

// yamlLine is one meaningful (non-blank, non-comment) line of a document.
type yamlLine struct {
	num    int // 1-based line number in the file
	indent int
	text   string // without indentation and trailing comment
}

// parseYAMLDocs reads a multi-document YAML file into plain values:
// map[string]any, []any and string (numbers and booleans stay strings, as
// the test compares them textually). Documents with no content are dropped.
func parseYAMLDocs(src string) ([]any, error) {
	var docs []any
	var cur []yamlLine
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		p := &yamlParser{lines: cur}
		v, err := p.node(cur[0].indent)
		if err != nil {
			return err
		}
		if p.pos != len(p.lines) {
			l := p.lines[p.pos]
			return fmt.Errorf("%w: line %d: unexpected %q (bad indentation?)", errYAML, l.num, l.text)
		}
		docs = append(docs, v)
		cur = nil
		return nil
	}
	for i, raw := range strings.Split(src, "\n") {
		raw = strings.TrimRight(raw, " \r")
		if raw == "---" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		body := strings.TrimLeft(raw, " ")
		if strings.HasPrefix(body, "\t") {
			return nil, fmt.Errorf("%w: line %d: tab in indentation", errYAML, i+1)
		}
		text, err := stripComment(body)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", errYAML, i+1, err)
		}
		if text == "" {
			continue
		}
		cur = append(cur, yamlLine{num: i + 1, indent: len(raw) - len(body), text: text})
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

// stripComment removes a trailing "# ..." that is outside quotes.
func stripComment(s string) (string, error) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return strings.TrimRight(s[:i], " "), nil
		}
	}
	if quote != 0 {
		return "", errors.New("unterminated quote")
	}
	return s, nil
}

type yamlParser struct {
	lines []yamlLine
	pos   int
}

// node parses the block node whose lines start at the current position with
// exactly this indentation.
func (p *yamlParser) node(indent int) (any, error) {
	l := p.lines[p.pos]
	if l.indent != indent {
		return nil, fmt.Errorf("%w: line %d: indentation %d, want %d", errYAML, l.num, l.indent, indent)
	}
	if l.text == "-" || strings.HasPrefix(l.text, "- ") {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) sequence(indent int) ([]any, error) {
	out := []any{}
	for p.pos < len(p.lines) {
		l := &p.lines[p.pos]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("%w: line %d: expected a sequence item at indentation %d, got %q", errYAML, l.num, indent, l.text)
		}
		if l.text != "-" && !strings.HasPrefix(l.text, "- ") {
			break // "key:\n- a\nnext: b": the sequence was the value of key
		}
		if l.text == "-" { // item on the following, deeper lines
			p.pos++
			if p.pos >= len(p.lines) || p.lines[p.pos].indent <= indent {
				out = append(out, "")
				continue
			}
			v, err := p.node(p.lines[p.pos].indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		// "- rest": rest is a node starting two columns further in; rewrite
		// the line in place so nested keys line up with it.
		rest := strings.TrimLeft(l.text[2:], " ")
		l.indent += len(l.text) - len(rest)
		l.text = rest
		if rest == "-" || strings.HasPrefix(rest, "- ") {
			v, err := p.sequence(l.indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		if isMapEntry(rest) {
			v, err := p.mapping(l.indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		v, err := scalar(rest, l.num)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.pos++
	}
	return out, nil
}

func (p *yamlParser) mapping(indent int) (map[string]any, error) {
	out := map[string]any{}
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent < indent {
			break
		}
		if l.indent > indent || !isMapEntry(l.text) {
			return nil, fmt.Errorf("%w: line %d: expected key: value at indentation %d, got %q", errYAML, l.num, indent, l.text)
		}
		key, rest, _ := strings.Cut(l.text, ":")
		key = strings.TrimSpace(key)
		rest = strings.TrimSpace(rest)
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%w: line %d: duplicate key %q", errYAML, l.num, key)
		}
		p.pos++
		if rest != "" {
			v, err := scalar(rest, l.num)
			if err != nil {
				return nil, err
			}
			out[key] = v
			continue
		}
		// Block value: deeper lines, or a sequence at the same indentation.
		if p.pos < len(p.lines) {
			next := p.lines[p.pos]
			isSeq := next.text == "-" || strings.HasPrefix(next.text, "- ")
			if next.indent > indent || (next.indent == indent && isSeq) {
				v, err := p.node(next.indent)
				if err != nil {
					return nil, err
				}
				out[key] = v
				continue
			}
		}
		out[key] = "" // null
	}
	return out, nil
}

// isMapEntry reports whether s is "key:" or "key: value" with a plain key.
func isMapEntry(s string) bool {
	if s == "" || strings.ContainsAny(s[:1], `"'[{&*!|>-`) {
		return false
	}
	i := strings.Index(s, ":")
	return i > 0 && (i == len(s)-1 || s[i+1] == ' ')
}

// scalar decodes a one-line value: "double", 'single', [flow, sequence] or a
// plain scalar.
func scalar(s string, line int) (any, error) {
	switch s[0] {
	case '"', '\'':
		v, n, err := quoted(s)
		if err == nil && n != len(s) {
			err = fmt.Errorf("text after the closing quote: %q", s[n:])
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", errYAML, line, err)
		}
		return v, nil
	case '[':
		if !strings.HasSuffix(s, "]") {
			return nil, fmt.Errorf("%w: line %d: flow sequence must end on its line: %q", errYAML, line, s)
		}
		out := []any{}
		inner := strings.TrimSpace(s[1 : len(s)-1])
		for inner != "" {
			var item string
			if inner[0] == '"' || inner[0] == '\'' {
				v, n, err := quoted(inner)
				if err != nil {
					return nil, fmt.Errorf("%w: line %d: %v", errYAML, line, err)
				}
				item, inner = v, strings.TrimSpace(inner[n:])
			} else {
				i := strings.IndexByte(inner, ',')
				if i < 0 {
					i = len(inner)
				}
				item, inner = strings.TrimSpace(inner[:i]), inner[i:]
				if strings.ContainsAny(item, "[]{}") {
					return nil, fmt.Errorf("%w: line %d: nested flow collections are not supported", errYAML, line)
				}
			}
			out = append(out, item)
			if inner == "" {
				break
			}
			if inner[0] != ',' {
				return nil, fmt.Errorf("%w: line %d: expected ',' in flow sequence, got %q", errYAML, line, inner)
			}
			inner = strings.TrimSpace(inner[1:])
		}
		return out, nil
	case '{', '&', '*', '!', '|', '>', '%', '@', '`':
		return nil, fmt.Errorf("%w: line %d: unsupported YAML %q", errYAML, line, s)
	}
	if strings.Contains(s, ": ") {
		return nil, fmt.Errorf("%w: line %d: a plain scalar cannot contain \": \": %q", errYAML, line, s)
	}
	return s, nil
}

// quoted decodes the quoted string at the start of s and returns it with the
// number of bytes it took.
func quoted(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '\'' && c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == q:
			return b.String(), i + 1, nil
		case q == '"' && c == '\\':
			if i+1 >= len(s) {
				return "", 0, errors.New("dangling backslash")
			}
			i++
			switch s[i] {
			case '"', '\\', '/':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				return "", 0, fmt.Errorf("unsupported escape \\%c", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errors.New("unterminated quote")
}
