package replica

import (
	"fmt"
	"os"
	"time"
)

var zzOn = os.Getenv("ZZDBG") != ""

func zz(format string, args ...any) {
	if zzOn {
		fmt.Fprintf(os.Stderr, "ZZ %s "+format+"\n", append([]any{time.Now().Format("05.000000")}, args...)...)
	}
}
