// fuzzmem_test.go: the fuzz targets' allocation check.

package fuzzmem

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that keeps what Fatalf said.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

var sink []byte

func TestCheckCatchesAnAllocationOutOfProportion(t *testing.T) {
	for i := 0; i < every; i++ { // one of them is measured
		r := &recorder{TB: t}
		Check(r, 10, 64, 4096, func() { sink = make([]byte, 1<<20) })
		if r.failed != "" {
			return
		}
	}
	t.Fatal("1 MiB allocated for 10 bytes of input passed a 4,736-byte bound")
}

func TestCheckPassesWhatIsInProportion(t *testing.T) {
	for i := 0; i < 2*every; i++ {
		r := &recorder{TB: t}
		Check(r, 1000, 64, 4096, func() { sink = make([]byte, 1000) })
		if r.failed != "" {
			t.Fatal(r.failed)
		}
	}
}
