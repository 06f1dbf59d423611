package console

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
)

// funcs are the template helpers. pathEscape makes a name one path
// segment: group names may hold '/', '?' or '#', which html/template's URL
// normalising would leave as they are.
var funcs = template.FuncMap{
	"pathEscape": url.PathEscape,
	"ids": func(ids []int32) string {
		var b strings.Builder
		for i, id := range ids {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprint(&b, id)
		}
		return b.String()
	},
}

// humanBytes renders a byte count with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func cmpString(a, b string) int { return strings.Compare(a, b) }
