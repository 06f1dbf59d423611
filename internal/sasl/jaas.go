package sasl

import (
	"fmt"
	"strings"
)

// Login module classes whose options Strom reads.
const (
	PlainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"
	ScramLoginModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
)

// LoginModule is one entry of a JAAS configuration: `Class Flag key=value
// ... ;`.
type LoginModule struct {
	Class   string
	Flag    string // required, requisite, sufficient or optional
	Options map[string]string
}

// ParseJAAS parses a JAAS configuration the way Kafka's JaasConfig does
// (java.io.StreamTokenizer): login module entries `Class Flag
// key=value... ;`, values bare words or quoted with " or ' (backslash
// escapes \\ \" \' \n \t \r), and // or /* */ comments. Kafka requires a
// sasl.jaas.config to hold exactly one module; callers that need that check
// len of the result.
func ParseJAAS(s string) ([]LoginModule, error) {
	toks, err := tokenizeJAAS(s)
	if err != nil {
		return nil, err
	}
	var mods []LoginModule
	for i := 0; i < len(toks); {
		if toks[i].kind != tokWord || i+1 >= len(toks) || toks[i+1].kind != tokWord {
			return nil, fmt.Errorf("%w: expected `LoginModuleClass flag` at %q", ErrInvalidJAAS, toks[i].text)
		}
		m := LoginModule{Class: toks[i].text, Flag: strings.ToLower(toks[i+1].text), Options: map[string]string{}}
		switch m.Flag {
		case "required", "requisite", "sufficient", "optional":
		default:
			return nil, fmt.Errorf("%w: invalid control flag %q for %s", ErrInvalidJAAS, toks[i+1].text, m.Class)
		}
		i += 2
		for ; i < len(toks) && toks[i].kind != tokSemi; i += 3 {
			if toks[i].kind != tokWord || i+2 >= len(toks) || toks[i+1].kind != tokEquals ||
				(toks[i+2].kind != tokWord && toks[i+2].kind != tokQuoted) {
				return nil, fmt.Errorf("%w: expected key=value in %s options at %q", ErrInvalidJAAS, m.Class, toks[i].text)
			}
			m.Options[toks[i].text] = toks[i+2].text
		}
		if i >= len(toks) {
			return nil, fmt.Errorf("%w: login module %s not terminated by ';'", ErrInvalidJAAS, m.Class)
		}
		i++ // the ';'
		mods = append(mods, m)
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("%w: no login module", ErrInvalidJAAS)
	}
	return mods, nil
}

// ParseJAASModule parses a sasl.jaas.config, which Kafka requires to hold
// exactly one login module.
func ParseJAASModule(s string) (LoginModule, error) {
	mods, err := ParseJAAS(s)
	if err != nil {
		return LoginModule{}, err
	}
	if len(mods) != 1 {
		return LoginModule{}, fmt.Errorf("%w: want exactly one login module, got %d", ErrInvalidJAAS, len(mods))
	}
	return mods[0], nil
}

// PlainUsers returns the user_<name>="<password>" options of a
// PlainLoginModule: the users Kafka's PLAIN server callback accepts.
func (m LoginModule) PlainUsers() map[string]string {
	users := map[string]string{}
	for k, v := range m.Options {
		if name, ok := strings.CutPrefix(k, "user_"); ok && name != "" {
			users[name] = v
		}
	}
	return users
}

type tokKind int

const (
	tokWord tokKind = iota
	tokQuoted
	tokEquals
	tokSemi
)

type jaasToken struct {
	kind tokKind
	text string
}

// isWordByte: StreamTokenizer's word characters as Kafka configures them
// (letters, digits, '.', '-', '_', '$'), plus the other bytes class names and
// unquoted values commonly hold.
func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		strings.IndexByte("._-$:/+@*", b) >= 0 || b >= 0x80
}

func tokenizeJAAS(s string) ([]jaasToken, error) {
	var toks []jaasToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "//"):
			if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(s)
			}
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("%w: unterminated comment", ErrInvalidJAAS)
			}
			i += j + 4
		case c == '=':
			toks = append(toks, jaasToken{tokEquals, "="})
			i++
		case c == ';':
			toks = append(toks, jaasToken{tokSemi, ";"})
			i++
		case c == '"' || c == '\'':
			text, n, err := readQuoted(s[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, jaasToken{tokQuoted, text})
			i += n
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, jaasToken{tokWord, s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("%w: unexpected character %q", ErrInvalidJAAS, c)
		}
	}
	return toks, nil
}

// readQuoted reads a quoted string starting at s[0] (the quote) and returns
// its value and how many bytes it took.
func readQuoted(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && i+1 < len(s):
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("%w: unterminated quoted string", ErrInvalidJAAS)
}
